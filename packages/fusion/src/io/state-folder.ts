/** The serializer's entry points on a trained state: save it as a model folder, load one back. */
import { ModelFormatError, encoders as globalRegistry } from '@mmfuse/core';
import type { EncoderRegistry } from '@mmfuse/core';
import { normalizeConfig } from '../config.js';
import { FusionState } from '../state.js';
import { modelFolderRule, writeFolderAtomically } from './folder.js';
import { readModelFolder, restoreState, writeModelFiles } from './load-save.js';

/**
 * Write a trained state as a model folder, atomically (temp folder, then rename). An existing `dir` is
 * replaced only when it is empty or an mmfuse model folder (`modelFolderRule`); otherwise `ConfigError`.
 * Weights are stored as `state.weightStorage` says (int8 / float16; set by compression or by loading a
 * compressed folder), else float32.
 */
export async function saveState(state: FusionState, dir: string): Promise<void> {
  state.requireNetwork();
  await writeFolderAtomically(dir, (tmp) => writeModelFiles(state, tmp, state.weightStorage === undefined ? {} : { storage: state.weightStorage }), modelFolderRule('dir'));
}

/** Read a model folder into a new state. Throws `ModelFormatError` when it is corrupt, incomplete or mismatched. */
export async function loadState(dir: string, options: { registry?: EncoderRegistry } = {}): Promise<FusionState> {
  const { model: file, buffer } = await readModelFolder(dir);
  let state: FusionState;
  try {
    state = FusionState.create(normalizeConfig(file.config), options.registry ?? globalRegistry);
  } catch (err) {
    throw new ModelFormatError(`model folder: its config cannot be rebuilt: ${(err as Error).message}`, { file: dir, cause: err });
  }
  try {
    restoreState(state, file, buffer, dir);
  } catch (err) {
    state.dispose();
    throw err;
  }
  return state;
}
