/** Writing and reading the model folder (see format.ts), with every checksum verified on load. */
import { readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { ModelFormatError } from '@mmfuse/core';
import type { FusionModel } from '../model.js';
import { FORMAT_NAME, FORMAT_VERSION, integrityOf, packWeights, sha256 } from './format.js';
import type { ModelFile } from './format.js';

/** Write model.json, weights.bin (and metrics.json) into an existing folder. */
export async function writeModelFiles(model: FusionModel, dir: string): Promise<void> {
  const named = model.namedWeights().map(([name, v]): [string, Float32Array, number[]] => [name, v.dataSync() as Float32Array, [...v.shape]]);
  const { entries, buffer } = packWeights(named);
  const body: Omit<ModelFile, 'integrity'> = {
    format: FORMAT_NAME,
    version: FORMAT_VERSION,
    createdAt: new Date().toISOString(),
    config: model.config,
    labels: model.labels,
    ...(model.targetStats === undefined ? {} : { targetStats: model.targetStats }),
    outDim: model.outDim,
    encoders: model.encoders.map((e, m) => ({ field: model.fields[m] as string, kind: e.kind, config: model.encoderConfigs[m] ?? {}, state: e.getState() })),
    weights: entries,
    weightsFile: 'weights.bin',
    weightsSha256: sha256(buffer),
  };
  const file: ModelFile = { ...body, integrity: integrityOf(body) };
  await writeFile(path.join(dir, 'weights.bin'), buffer);
  if (model.history !== undefined) await writeFile(path.join(dir, 'metrics.json'), `${JSON.stringify(model.history, null, 2)}\n`);
  await writeFile(path.join(dir, 'model.json'), `${JSON.stringify(file, null, 2)}\n`);
}

/** Read and verify a model folder. */
export async function readModelFolder(dir: string): Promise<{ model: ModelFile; buffer: Uint8Array }> {
  const jsonFile = path.join(dir, 'model.json');
  let text: string;
  try {
    text = await readFile(jsonFile, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFormatError(code === 'ENOENT' ? `no model.json here; is ${dir} a folder written by FusionModel.save?` : `cannot read model.json: ${(err as Error).message}`, { file: jsonFile, cause: err });
  }
  let model: ModelFile;
  try {
    model = JSON.parse(text) as ModelFile;
  } catch (err) {
    throw new ModelFormatError(`model.json is not valid JSON (${(err as Error).message}); the file is corrupt`, { file: jsonFile, cause: err });
  }
  if (typeof model !== 'object' || model === null || model.format !== FORMAT_NAME) {
    throw new ModelFormatError(`model.json is not an mmfuse fusion model (format ${JSON.stringify((model as { format?: unknown } | null)?.format)}, expected "${FORMAT_NAME}")`, { file: jsonFile });
  }
  if (model.version !== FORMAT_VERSION) {
    throw new ModelFormatError(`model format version ${JSON.stringify(model.version)} is not supported by this @mmfuse/fusion (reads version ${FORMAT_VERSION})`, { file: jsonFile });
  }
  if (integrityOf(model) !== model.integrity) {
    throw new ModelFormatError('model.json fails its integrity check (edited or corrupt)', { file: jsonFile });
  }
  const weightsFile = path.join(dir, 'weights.bin');
  let buffer: Uint8Array;
  try {
    buffer = new Uint8Array(await readFile(weightsFile));
  } catch (err) {
    throw new ModelFormatError(`cannot read weights.bin: ${(err as Error).message}`, { file: weightsFile, cause: err });
  }
  if (sha256(buffer) !== model.weightsSha256) {
    const bad = model.weights.find((w) => w.offset + w.byteLength > buffer.length || sha256(buffer.subarray(w.offset, w.offset + w.byteLength)) !== w.sha256);
    throw new ModelFormatError(`weights.bin fails its checksum${bad === undefined ? '' : ` (first bad weight: ${bad.name})`}; the file is corrupt or from another model`, { file: weightsFile });
  }
  return { model, buffer };
}
