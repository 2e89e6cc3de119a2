/**
 * Training checkpoints: `<checkpointDir>/last/` is a complete model folder (loadable with
 * FusionModel.load) plus `optimizer.bin` (AdamW moments m then v, float32, in trainable-weight order) and
 * `trainer.json` (epoch, step, position in the epoch, history, early-stopping state). Written to a temp
 * folder and renamed, so an interruption at any moment leaves the previous checkpoint intact.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFormatError } from '@mmfuse/core';
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
  let file: TrainerFile;
  try {
    file = JSON.parse(await readFile(path.join(folder, 'trainer.json'), 'utf8')) as TrainerFile;
  } catch (err) {
    throw new ModelFormatError(`trainer.json is unreadable: ${(err as Error).message}`, { file: folder, cause: err });
  }
  const buf = new Uint8Array(await readFile(path.join(folder, 'optimizer.bin')));
  if (sha256(buf) !== file.optimizer.sha256) throw new ModelFormatError('optimizer.bin fails its checksum', { file: folder });
  const f32 = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const m: Float32Array[] = []; const v: Float32Array[] = [];
  let off = 0;
  for (const n of file.optimizer.sizes) { m.push(f32.slice(off, off + n)); off += n; }
  for (const n of file.optimizer.sizes) { v.push(f32.slice(off, off + n)); off += n; }
  return { model, buffer, state: file.state as TrainerState, optimizer: { t: file.optimizer.t, m, v } };
}
