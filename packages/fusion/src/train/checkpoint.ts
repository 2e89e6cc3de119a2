/**
 * Training checkpoints: `<checkpointDir>/last/` is a complete model folder (loadable with
 * FusionModel.load) plus `optimizer.bin` (AdamW moments m then v, float32, in trainable-weight order),
 * `trainer.json` (epoch, step, position in the epoch, history, early-stopping state) and, when the best
 * validation epoch's weights are not the folder's own, `best.bin` (those weights, float32, in save order), so a
 * resumed run still ends with them. Written to a temp folder and renamed, so an interruption at any moment
 * leaves the previous checkpoint intact. Member k (2..N) of an ensemble has its own checkpoint in
 * `<checkpointDir>/member-<k>/last`; member 1's is `<checkpointDir>/last`.
 */
import { createHash } from 'node:crypto';
import { open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { CheckpointError, ModelFormatError, isMmfuseError, z } from '@mmfuse/core';
import { MEMBER_CHECKPOINT_ENTRY, isCheckpoint, recoverFolder, writeFolderAtomically } from '../io/folder.js';
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

/** The best validation epoch's weights, in save order (`FusionState.namedWeights`). */
export interface BestCopy { epoch: number; values: readonly Float32Array[] }

interface TrainerFile {
  state: Readonly<TrainerState>;
  optimizer: { t: number; sizes: number[]; sha256: string };
  /** `best.bin`: the weights of the best epoch when they are not the folder's (absent when they are, or without validation). */
  best?: { epoch: number; sizes: number[]; sha256: string };
}

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
  best: z.object({ epoch: z.int().min(1), sizes: z.array(count), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).optional(),
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
  if (f.best !== undefined && f.best.epoch !== t.bestEpoch) throw bad(`best.bin holds epoch ${f.best.epoch}, but the best epoch is ${t.bestEpoch}`);
  return f;
}

export function checkpointFolder(dir: string): string {
  return path.join(dir, 'last');
}

/** The checkpoint folder of ensemble member `index` (1-based): member 1's is `dir` itself, member k's `dir/member-<k>`. */
export function memberCheckpointDir(dir: string, index: number): string {
  return index <= 1 ? dir : path.join(dir, `member-${index}`);
}

/**
 * Remove the ensemble members' checkpoints (`dir/member-<k>`) of an earlier run, so that a run starting afresh
 * never resumes a member trained alongside another member 1. Only folders the checkpoint rule owns are
 * removed (the caller checked `dir` with it).
 */
export async function clearMemberCheckpoints(dir: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  for (const e of entries) if (MEMBER_CHECKPOINT_ENTRY.test(e)) await rm(path.join(dir, e), { recursive: true, force: true });
}

const bytesOf = (p: Float32Array): Uint8Array => new Uint8Array(p.buffer, p.byteOffset, p.byteLength);

/** The sha256 of float32 arrays written one after another. */
function hashParts(parts: readonly Float32Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(bytesOf(p));
  return h.digest('hex');
}

/**
 * The hash of the best weights by the array `BestWeights` holds (a new array for each new best epoch): the
 * epochs after the best one write the same `best.bin`, hashed once.
 */
const bestHashes = new WeakMap<readonly Float32Array[], string>();

/** Write float32 arrays one after another to `file`, without concatenating them into one copy first. */
async function writeParts(file: string, parts: readonly Float32Array[]): Promise<void> {
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const handle = await open(file, 'w');
  try {
    const { bytesWritten } = await handle.writev(parts.map(bytesOf));
    if (bytesWritten !== total) throw new CheckpointError(`wrote ${bytesWritten} of ${total} bytes`, { file });
  } finally {
    await handle.close();
  }
}

/** A float32 file written by `writeParts`, checked against its size and checksum, split by `sizes` (views of one read, not copies). */
async function unpack(file: string, sizes: readonly number[], sum: string, what: string): Promise<Float32Array[]> {
  const expected = 4 * sizes.reduce((a, n) => a + n, 0);
  const bytes = await stat(file).then((st) => (st.isFile() ? st.size : -1), () => -1);
  if (bytes !== expected) throw new CheckpointError(`${path.basename(file)} has ${bytes < 0 ? 'no regular file' : `${bytes} bytes`}, but trainer.json lists ${what} of ${expected} bytes`, { file });
  const buf = new Uint8Array(await readFile(file));
  if (sha256(buf) !== sum) throw new ModelFormatError(`${path.basename(file)} fails its checksum`, { file: path.dirname(file) });
  const f32 = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const out: Float32Array[] = [];
  let off = 0;
  for (const n of sizes) { out.push(f32.subarray(off, off + n)); off += n; }
  return out;
}

/** `<checkpointDir>/last` may be replaced only by another checkpoint. */
const LAST_RULE = { what: 'checkpoint', option: 'checkpointDir', isOwned: isCheckpoint };

/**
 * Write `dir/last`. `best`: the best epoch's weights; written to `best.bin` unless they are the folder's own
 * (the best epoch is the one just finished).
 */
export async function writeCheckpoint(dir: string, model: FusionState, optimizer: AdamWState, trainer: Readonly<TrainerState>, best?: BestCopy): Promise<void> {
  await writeFolderAtomically(checkpointFolder(dir), async (tmp) => {
    await writeModelFiles(model, tmp);
    const parts = [...optimizer.m, ...optimizer.v];
    await writeParts(path.join(tmp, 'optimizer.bin'), parts);
    const file: TrainerFile = { state: trainer, optimizer: { t: optimizer.t, sizes: optimizer.m.map((x) => x.length), sha256: hashParts(parts) } };
    if (best !== undefined && !(best.epoch === trainer.epoch && trainer.batch === 0)) {
      let sum = bestHashes.get(best.values);
      if (sum === undefined) bestHashes.set(best.values, sum = hashParts(best.values));
      await writeParts(path.join(tmp, 'best.bin'), best.values);
      file.best = { epoch: best.epoch, sizes: best.values.map((v) => v.length), sha256: sum };
    }
    await writeFile(path.join(tmp, 'trainer.json'), `${JSON.stringify(file)}\n`);
  }, LAST_RULE);
}

/** The last checkpoint, or undefined when there is none. */
export async function readCheckpoint(dir: string): Promise<{ model: ModelFile; buffer: Uint8Array; state: TrainerState; optimizer: AdamWState; best?: BestCopy } | undefined> {
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
  const moments = await unpack(path.join(folder, 'optimizer.bin'), [...file.optimizer.sizes, ...file.optimizer.sizes], file.optimizer.sha256, 'moments');
  const n = file.optimizer.sizes.length;
  const optimizer: AdamWState = { t: file.optimizer.t, m: moments.slice(0, n), v: moments.slice(n) };
  const best = file.best === undefined ? undefined : { epoch: file.best.epoch, values: await unpack(path.join(folder, 'best.bin'), file.best.sizes, file.best.sha256, 'best weights') };
  return { model, buffer, state: file.state as TrainerState, optimizer, ...(best === undefined ? {} : { best }) };
}
