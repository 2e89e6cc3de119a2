/**
 * Training checkpoints: `<checkpointDir>/last/` is a complete model folder (loadable with
 * FusionModel.load) plus `optimizer.bin` (AdamW moments m then v, float32, in trainable-weight order) and
 * `trainer.json` (epoch, step, position in the epoch, history, early-stopping state). Written to a temp
 * folder and renamed, so an interruption at any moment leaves the previous checkpoint intact.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointError, ModelFormatError, isMmfuseError, z } from '@mmfuse/core';
import { isCheckpoint, recoverFolder, writeFolderAtomically } from '../io/folder.js';
import { sha256 } from '../io/format.js';
import type { ModelFile } from '../io/format.js';
import { readModelFolder, writeModelFiles } from '../io/load-save.js';
import type { AdamWState } from '../optim/adamw.js';
import type { FusionState } from '../state.js';
import type { EarlyStoppingState } from './early-stopping.js';
import type { EpochMetrics } from './history.js';

export interface TrainerState extends EarlyStoppingState {
  /** Epochs completed. */
  epoch: number;
  /** Batches of the current epoch already done (mid-epoch checkpoint after an interruption). */
  batch: number;
  /** Optimizer steps done. */
  step: number;
  history: EpochMetrics[];
  /** Sums of the current, unfinished epoch (`terms`: per loss component, with loss terms only). */
  partial: { lossSum: number; seen: number; correct: number; terms?: Record<string, number> };
}

interface TrainerFile { state: Readonly<TrainerState>; optimizer: { t: number; sizes: number[]; sha256: string } }

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.int().min(0);
/** trainer.json as the trainer writes it; an edited one (`state: null`, `epoch: -5`, `history: "x"`) is refused. */
const trainerFileSchema = z.object({
  state: z.object({
    epoch: count,
    batch: count,
    step: count,
    history: z.array(z.looseObject({
      epoch: z.int().min(1),
      trainLoss: finite,
      learningRate: finite,
      seconds: finite,
      valLoss: finite.optional(),
      trainAccuracy: finite.optional(),
      valAccuracy: finite.optional(),
      valMacroF1: finite.optional(),
      losses: z.record(z.string(), finite).optional(),
    })),
    partial: z.object({ lossSum: finite, seen: count, correct: count, terms: z.record(z.string(), finite).optional() }),
    bestValLoss: finite.nullable(),
    bestEpoch: z.int().min(1).nullable(),
    epochsWithoutImprovement: count,
    stoppedEarly: z.boolean(),
  }),
  optimizer: z.object({ t: count, sizes: z.array(count), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
});

/** Check trainer.json's content and how its parts agree; throws `CheckpointError` naming the problem. */
function checkTrainerFile(raw: unknown, file: string): TrainerFile {
  const parsed = trainerFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '(file)' : issue.path.join('.');
    throw new CheckpointError(`trainer.json: ${where}: ${issue?.message ?? 'invalid'}; the checkpoint was edited or is corrupt, so it cannot be resumed (remove it to start over)`, { file });
  }
  const f = parsed.data as unknown as TrainerFile;
  const t = f.state;
  const bad = (reason: string): CheckpointError => new CheckpointError(`trainer.json: ${reason}; the checkpoint was edited or is corrupt, so it cannot be resumed (remove it to start over)`, { file });
  if (t.history.length !== t.epoch) throw bad(`records ${t.history.length} epochs of history after ${t.epoch} completed epochs`);
  t.history.forEach((h, i) => { if (h.epoch !== i + 1) throw bad(`history entry ${i} is epoch ${h.epoch}, expected ${i + 1}`); });
  if (t.bestEpoch !== null && t.bestEpoch > t.epoch) throw bad(`bestEpoch ${t.bestEpoch} is after the ${t.epoch} completed epochs`);
  if (f.optimizer.t !== t.step) throw bad(`the optimizer made ${f.optimizer.t} steps but the trainer counts ${t.step}`);
  return f;
}

export function checkpointFolder(dir: string): string {
  return path.join(dir, 'last');
}

/** `<checkpointDir>/last` may be replaced only by another checkpoint. */
const LAST_RULE = { what: 'checkpoint', option: 'checkpointDir', isOwned: isCheckpoint };

export async function writeCheckpoint(dir: string, model: FusionState, optimizer: AdamWState, trainer: Readonly<TrainerState>): Promise<void> {
  await writeFolderAtomically(checkpointFolder(dir), async (tmp) => {
    await writeModelFiles(model, tmp);
    const parts = [...optimizer.m, ...optimizer.v];
    const total = parts.reduce((a, p) => a + p.byteLength, 0);
    const buf = new Uint8Array(total);
    let off = 0;
    for (const p of parts) { buf.set(new Uint8Array(p.buffer, p.byteOffset, p.byteLength), off); off += p.byteLength; }
    await writeFile(path.join(tmp, 'optimizer.bin'), buf);
    const file: TrainerFile = { state: trainer, optimizer: { t: optimizer.t, sizes: optimizer.m.map((x) => x.length), sha256: sha256(buf) } };
    await writeFile(path.join(tmp, 'trainer.json'), `${JSON.stringify(file)}\n`);
  }, LAST_RULE);
}

/** The last checkpoint, or undefined when there is none. */
export async function readCheckpoint(dir: string): Promise<{ model: ModelFile; buffer: Uint8Array; state: TrainerState; optimizer: AdamWState } | undefined> {
  const folder = checkpointFolder(dir);
  await recoverFolder(folder);
  const exists = await stat(path.join(folder, 'trainer.json')).then(() => true, () => false);
  if (!exists) return undefined;
  const { model, buffer } = await readModelFolder(folder);
  const trainerFile = path.join(folder, 'trainer.json');
  let raw: unknown;
  try {
    const st = await stat(trainerFile);
    if (!st.isFile() || st.size > 256 * 1024 * 1024) throw new CheckpointError(`trainer.json is not a regular file of a plausible size (${st.size} bytes)`, { file: trainerFile });
    raw = JSON.parse(await readFile(trainerFile, 'utf8'));
  } catch (err) {
    if (isMmfuseError(err)) throw err;
    throw new CheckpointError(`trainer.json is unreadable: ${(err as Error).message}`, { file: trainerFile, cause: err });
  }
  const file = checkTrainerFile(raw, trainerFile);
  const optimizerFile = path.join(folder, 'optimizer.bin');
  const expected = 2 * 4 * file.optimizer.sizes.reduce((a, n) => a + n, 0);
  const optimizerBytes = await stat(optimizerFile).then((st) => (st.isFile() ? st.size : -1), () => -1);
  if (optimizerBytes !== expected) {
    throw new CheckpointError(`optimizer.bin has ${optimizerBytes < 0 ? 'no regular file' : `${optimizerBytes} bytes`}, but trainer.json lists moments of ${expected} bytes`, { file: optimizerFile });
  }
  const buf = new Uint8Array(await readFile(optimizerFile));
  if (sha256(buf) !== file.optimizer.sha256) throw new ModelFormatError('optimizer.bin fails its checksum', { file: folder });
  const f32 = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const m: Float32Array[] = []; const v: Float32Array[] = [];
  let off = 0;
  for (const n of file.optimizer.sizes) { m.push(f32.slice(off, off + n)); off += n; }
  for (const n of file.optimizer.sizes) { v.push(f32.slice(off, off + n)); off += n; }
  return { model, buffer, state: file.state as TrainerState, optimizer: { t: file.optimizer.t, m, v } };
}
