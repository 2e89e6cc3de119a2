/**
 * The inference runtime of `serve`, `predict` and `eval`: `tfjs` (default, the model folder on
 * TensorFlow.js) or `onnx` (the graph exported by `mmfuse export --format onnx`, on onnxruntime-node,
 * multi-threaded with `--threads N`). With `onnx`, `--model` is a `.onnx` file, or a model folder that is
 * exported in memory at start. A `.onnx` file without `--runtime` runs on `onnx`.
 */
import { statSync } from 'node:fs';
import { UsageError } from '@mmfuse/core';
import { OnnxFusionModel } from '@mmfuse/fusion';
import type { ParsedArgs } from './args.js';
import type { CliIo } from './io.js';
import { loadModel } from './model.js';
import type { FusionModelApi } from './model.js';
import * as path from 'node:path';

import { RUNTIMES } from './runtime-options.js';
import type { RuntimeName } from './runtime-options.js';

/** Whether `file` is an ONNX graph file (not a model folder). */
export function isOnnxFile(file: string): boolean {
  try {
    return file.toLowerCase().endsWith('.onnx') && statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The runtime a loaded model runs on. */
export function runtimeOf(model: FusionModelApi): RuntimeName {
  return model instanceof OnnxFusionModel ? 'onnx' : 'tfjs';
}

/** Load `--model` on the chosen runtime. */
export async function loadModelFor(args: ParsedArgs, io: CliIo, command: string, log: (line: string) => void): Promise<FusionModelApi> {
  const file = path.resolve(io.cwd, args.options.model as string);
  const onnxFile = isOnnxFile(file);
  const given = args.options.runtime as string | undefined;
  if (given !== undefined && !(RUNTIMES as readonly string[]).includes(given)) throw new UsageError(`--runtime must be one of ${RUNTIMES.join(', ')}, got ${JSON.stringify(given)}`, { command });
  const runtime = (given ?? (onnxFile ? 'onnx' : 'tfjs')) as RuntimeName;
  const threads = args.options.threads as number | undefined;
  if (runtime === 'tfjs') {
    if (threads !== undefined) throw new UsageError('--threads sets the onnx runtime\'s threads; use it with --runtime onnx (the tfjs engine reads MMFUSE_THREADS)', { command });
    if (onnxFile) throw new UsageError(`${args.options.model as string} is an ONNX file; run it with --runtime onnx (--runtime tfjs takes a model folder)`, { command });
    return loadModel(file);
  }
  const options = threads === undefined ? {} : { threads };
  let model: OnnxFusionModel;
  if (onnxFile) {
    model = await OnnxFusionModel.load(file, options);
  } else {
    const folder = await loadModel(file);
    try {
      model = await OnnxFusionModel.fromState(folder.state, options);
    } finally {
      folder.dispose();
    }
  }
  log(`runtime: onnxruntime-node${threads === undefined ? '' : `, ${threads} thread${threads > 1 ? 's' : ''}`}${model.metadata.quantize === null ? '' : ` (${model.metadata.quantize})`}`);
  // The commands use the FusionModel API that both runtimes share.
  return model as unknown as FusionModelApi;
}
