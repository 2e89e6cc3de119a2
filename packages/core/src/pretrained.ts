/**
 * One loader for local transformers.js model folders, shared by every plugin. transformers.js resolves
 * local models through its one global `env` (`localModelPath`, `allowRemoteModels`), so two loads that set
 * it at once could read each other's folder. Loads go through one process-wide queue (shared by the ESM
 * and CJS copies of @mmfuse/core), each setting `env` and loading before the next starts. Core never
 * imports transformers.js: the plugin passes the module it imported.
 */
import * as path from 'node:path';
import { ModelFormatError } from './errors.js';
import { processGlobal } from './internal/global-state.js';

/** The parts of a transformers.js module (`@xenova/transformers` or `@huggingface/transformers`) used here. */
export interface TransformersModule {
  env: { allowRemoteModels: boolean; allowLocalModels: boolean; localModelPath: string };
  AutoModel: { from_pretrained(name: string, options: Record<string, unknown>): Promise<unknown> };
}

const queue = processGlobal('transformers-env-queue', 1, () => ({ tail: Promise.resolve() as Promise<unknown> }));

/**
 * Run `task` while no other mmfuse task uses transformers.js's global `env` (tasks run one at a time, in
 * call order; a failed task does not block the next).
 */
export function withTransformersEnv<T>(task: () => Promise<T>): Promise<T> {
  const result = queue.tail.then(task, task);
  queue.tail = result.catch(() => undefined);
  return result;
}

/** Options of `loadPretrainedModel`. */
export interface LoadPretrainedOptions {
  /** Load `onnx/model_quantized.onnx` instead of `onnx/model.onnx`. Default false. */
  quantized?: boolean;
}

/**
 * Load `<folder>/onnx/model.onnx` with `AutoModel` from disk only (remote models off), under the `env`
 * queue. A folder that does not load is a `ModelFormatError` naming it.
 */
export function loadPretrainedModel<M = unknown>(transformers: TransformersModule, folder: string, options: LoadPretrainedOptions = {}): Promise<M> {
  const abs = path.resolve(folder);
  return withTransformersEnv(async () => {
    transformers.env.allowRemoteModels = false;
    transformers.env.allowLocalModels = true;
    transformers.env.localModelPath = path.dirname(abs) + path.sep;
    try {
      return (await transformers.AutoModel.from_pretrained(path.basename(abs), { quantized: options.quantized ?? false, local_files_only: true })) as M;
    } catch (err) {
      throw new ModelFormatError(`cannot load the ONNX model of ${abs} (expected onnx/model${options.quantized === true ? '_quantized' : ''}.onnx): ${(err as Error).message}`, { file: abs, cause: err });
    }
  });
}
