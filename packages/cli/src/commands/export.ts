/** `mmfuse export --model DIR --format onnx --out FILE.onnx [--quantize int8] [--json]` */
import { readFileSync, statSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { IoError, UsageError } from '@mmfuse/core';
import { ONNX_METADATA_KEY, exportOnnx, readOnnxMetadata } from '@mmfuse/fusion';
import type { ParsedArgs } from '../internal/args.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { loadModel, loadPlugins, startEngine } from '../internal/model.js';
import { fromCwd, logger, pluginArgs } from './common.js';

/** True when `file` is an ONNX model that mmfuse wrote (so replacing it loses nothing of the user's). */
function isMmfuseExport(file: string): boolean {
  try {
    return readOnnxMetadata(readFileSync(file))[ONNX_METADATA_KEY] !== undefined;
  } catch {
    return false;
  }
}

export async function runExport(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'export');
  const format = args.options.format as string;
  if (format !== 'onnx') throw new UsageError(`--format must be onnx, got ${JSON.stringify(format)}`, { command: 'export' });
  const quantize = args.options.quantize as string | undefined;
  if (quantize !== undefined && quantize !== 'int8') throw new UsageError(`--quantize must be int8, got ${JSON.stringify(quantize)}`, { command: 'export' });
  const out = fromCwd(io, args.options.out as string);
  let existing: ReturnType<typeof statSync> | undefined;
  try { existing = statSync(out); } catch { existing = undefined; }
  if (existing !== undefined && (!existing.isFile() || !isMmfuseExport(out))) {
    throw new IoError(`${args.options.out as string} exists and is not an ONNX model written by mmfuse; refusing to replace it (choose another --out)`, { file: out });
  }
  await startEngine(log, { syncReads: 'mmfuse export' });
  await loadPlugins(pluginArgs(args, io), log);
  const dir = fromCwd(io, args.options.model as string);
  const model = await loadModel(dir);
  try {
    const { bytes, metadata } = exportOnnx(model.state, { quantize: quantize === 'int8' ? 'int8' : null });
    const tmp = `${out}.${process.pid}.part`;
    try {
      await mkdir(path.dirname(out), { recursive: true });
      await writeFile(tmp, bytes);
      await rename(tmp, out);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new IoError(`cannot write ${out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: out, cause: err });
    }
    const inputs = metadata.inputs.map((i) => ({ field: i.field, encoder: i.kind, present: i.present, tensors: i.tensors.map((t) => ({ name: t.graphName, type: t.type, dims: t.dims })) }));
    const json = { out, format: 'onnx', bytes: bytes.length, quantize: metadata.quantize, opset: metadata.opset, inputs, output: { name: metadata.logits.name, dims: [metadata.batch, metadata.logits.outDim] } };
    const human = [`wrote ${out} (${(bytes.length / 1024).toFixed(1)} KiB${metadata.quantize === null ? '' : `, ${metadata.quantize}`})`,
      'inputs:', ...inputs.flatMap((i) => [`  ${i.present} float32 [batch]`, ...i.tensors.map((t) => `  ${t.name} ${t.type} [${t.dims.join(', ')}]`)]),
      `output: ${metadata.logits.name} float32 [batch, ${metadata.logits.outDim}]`].join('\n');
    return { json, human };
  } finally {
    model.dispose();
  }
}
