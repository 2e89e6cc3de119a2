/** Writing and reading the model folder (see format.ts), with every checksum verified on load. */
import { readFile, stat, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ModelFormatError, isMmfuseError } from '@mmfuse/core';
import type { ModalityEncoder } from '@mmfuse/core';
import { readCopies } from '../read-tensors.js';
import type { FusionState } from '../state.js';
import { FORMAT_NAME, READABLE_VERSIONS, integrityOf, packWeights, sha256, versionFor } from './format.js';
import type { ModelFile, WeightEntry, WeightStorage } from './format.js';
import { MAX_MODEL_JSON_BYTES } from './folder.js';
import { checkFinite, checkFusionSize, checkWeightManifest } from './validate.js';
import { alignUp } from './weight-codec.js';
import { checkEntries, decodeEntry } from './weight-entries.js';

/**
 * The name of the weights.bin entry holding `state.scopeMemory` (the fused vectors of an `energy+nearest`
 * out-of-scope score): not a network weight, so it comes last and is not in `namedWeights()`.
 */
export const SCOPE_MEMORY_WEIGHT = 'outOfScope.memory';

/** Options of `writeModelFiles`. */
export interface WriteModelOptions {
  /** Low-precision storage by weight name (int8 with per-channel scales, float16); the rest is float32. Default: all float32. */
  storage?: WeightStorage;
}

/** Write model.json, weights.bin (and metrics.json) of a trained state into an existing folder. */
export async function writeModelFiles(state: FusionState, dir: string, options: WriteModelOptions = {}): Promise<void> {
  const output = state.requireOutput().toJSON();
  const weights = state.namedWeights();
  const values = await readCopies(weights.map(([, v]) => v));
  const named = weights.map(([name, v], i): [string, Float32Array, number[]] => [name, values[i] as Float32Array, [...v.shape]]);
  const memory = state.scopeMemory;
  // An energy+nearest out-of-scope score's memory travels as the last entry of weights.bin, in float16.
  if (memory !== undefined) named.push([SCOPE_MEMORY_WEIGHT, memory.data, [memory.rows, memory.dim]]);
  const storage = memory === undefined ? options.storage : { ...(options.storage ?? {}), [SCOPE_MEMORY_WEIGHT]: { dtype: 'float16' } as const };
  const { entries, buffer } = packWeights(named, storage);
  const body: Omit<ModelFile, 'integrity'> = {
    format: FORMAT_NAME,
    version: versionFor(entries, output.calibration),
    createdAt: new Date().toISOString(),
    config: state.savedConfig(),
    labels: output.labels,
    ...(output.targetStats === undefined ? {} : { targetStats: output.targetStats }),
    outDim: output.outDim,
    ...(output.calibration === undefined ? {} : { calibration: output.calibration }),
    encoders: state.encoders.map((e, m) => ({ field: state.fields[m] as string, kind: e.kind, config: state.savedEncoderConfig(m), state: e.getState() })),
    weights: entries,
    weightsFile: 'weights.bin',
    weightsSha256: sha256(buffer),
  };
  const file: ModelFile = { ...body, integrity: integrityOf(body) };
  await writeFile(path.join(dir, 'weights.bin'), buffer);
  if (state.history !== undefined) await writeFile(path.join(dir, 'metrics.json'), `${JSON.stringify(state.history, null, 2)}\n`);
  await writeFile(path.join(dir, 'model.json'), `${JSON.stringify(file, null, 2)}\n`);
}

/** The size of a regular file, checked before it is read (a FIFO, a device or a link to one is refused). */
async function regularFileSize(file: string, name: string, dir: string): Promise<number> {
  let st;
  try {
    st = await stat(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelFormatError(code === 'ENOENT' ? (name === 'model.json' ? `no model.json here; is ${dir} a folder written by FusionModel.save?` : `${name} is missing`) : `cannot read ${name}: ${(err as Error).message}`, { file, cause: err });
  }
  if (!st.isFile()) throw new ModelFormatError(`${name} is not a regular file`, { file });
  return st.size;
}

/**
 * Read and verify a model folder: sizes checked with `stat` before reading, model.json's integrity, its
 * weight manifest against the size of weights.bin (`checkWeightManifest`), the checksums, and every value
 * finite. Nothing is allocated from what the files claim before these checks pass.
 */
export async function readModelFolder(dir: string): Promise<{ model: ModelFile; buffer: Uint8Array }> {
  const jsonFile = path.join(dir, 'model.json');
  const jsonBytes = await regularFileSize(jsonFile, 'model.json', dir);
  if (jsonBytes > MAX_MODEL_JSON_BYTES) throw new ModelFormatError(`model.json is ${jsonBytes} bytes, over the ${MAX_MODEL_JSON_BYTES} bytes of any model mmfuse writes`, { file: jsonFile });
  let text: string;
  try {
    text = await readFile(jsonFile, 'utf8');
  } catch (err) {
    throw new ModelFormatError(`cannot read model.json: ${(err as Error).message}`, { file: jsonFile, cause: err });
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
  if (!READABLE_VERSIONS.includes(model.version)) {
    throw new ModelFormatError(`model format version ${JSON.stringify(model.version)} is not supported by this @mmfuse/fusion (reads versions ${READABLE_VERSIONS.join(' and ')})`, { file: jsonFile });
  }
  if (model.version === 1 && model.calibration !== undefined) {
    throw new ModelFormatError('model.json of format version 1 has a "calibration" (a version 2 key); the file is corrupt', { file: jsonFile });
  }
  if (integrityOf(model) !== model.integrity) {
    throw new ModelFormatError('model.json fails its integrity check (edited or corrupt)', { file: jsonFile });
  }
  const weightsFile = path.join(dir, 'weights.bin');
  const weightsBytes = await regularFileSize(weightsFile, 'weights.bin', dir);
  if (weightsBytes !== expectedWeightBytes(model)) {
    // Said first in the words of a truncated or padded file; the manifest itself is checked just below.
    throw new ModelFormatError(`weights.bin has ${weightsBytes} bytes, but model.json lists ${expectedWeightBytes(model) ?? 'no valid'} bytes of weights; the file is corrupt or from another model`, { file: weightsFile });
  }
  checkWeightManifest(model, weightsBytes, jsonFile);
  let buffer: Uint8Array;
  try {
    buffer = new Uint8Array(await readFile(weightsFile));
  } catch (err) {
    throw new ModelFormatError(`cannot read weights.bin: ${(err as Error).message}`, { file: weightsFile, cause: err });
  }
  if (buffer.byteLength !== weightsBytes) throw new ModelFormatError('weights.bin changed while it was read', { file: weightsFile });
  if (sha256(buffer) !== model.weightsSha256) {
    const bad = model.weights.find((w) => w.offset + w.byteLength > buffer.length || sha256(buffer.subarray(w.offset, w.offset + w.byteLength)) !== w.sha256);
    throw new ModelFormatError(`weights.bin fails its checksum${bad === undefined ? '' : ` (first bad weight: ${bad.name})`}; the file is corrupt or from another model`, { file: weightsFile });
  }
  checkEntries(model, buffer.length, jsonFile);
  checkFinite(model, buffer, weightsFile);
  return { model, buffer };
}

/**
 * The size weights.bin must have by the manifest's byte lengths (each entry starts at a multiple of 4, as
 * `packWeights` lays them out), when the manifest is a list of entries with numbers.
 */
function expectedWeightBytes(model: ModelFile): number | undefined {
  if (!Array.isArray(model.weights)) return undefined;
  let total = 0;
  for (const w of model.weights as unknown[]) {
    const n = (w as { byteLength?: unknown } | null)?.byteLength;
    if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
    total = alignUp(total) + n;
  }
  return alignUp(total);
}

function formatError(dir: string, reason: string, cause?: unknown): ModelFormatError {
  return new ModelFormatError(`model folder: ${reason}`, cause === undefined ? { file: dir } : { file: dir, cause });
}

/**
 * Set a state's output (labels / target statistics), encoder states and weights from a read model file
 * (`readModelFolder`). The state must be built from the file's config. Throws `ModelFormatError` naming
 * `dir` when the file does not fit it. `members: false` restores one model even where the config asks for an
 * ensemble (a training checkpoint holds one member).
 */
export function restoreState(state: FusionState, file: ModelFile, buffer: Uint8Array, dir: string, options: { members?: boolean } = {}): void {
  // Every weight decoded (and its scales checked) before anything is built.
  const values = file.weights.map((w) => decodeEntry(w, buffer, dir));
  try {
    state.output = state.outputKind.restore({
      labels: file.labels, outDim: file.outDim,
      ...(file.targetStats === undefined ? {} : { targetStats: file.targetStats }),
      ...(file.calibration === undefined ? {} : { calibration: file.calibration }),
    }, state.config.output.field);
  } catch (err) {
    throw formatError(dir, isMmfuseError(err) ? err.reason : (err as Error).message, err);
  }
  if (file.encoders.length !== state.encoders.length) throw formatError(dir, `lists ${file.encoders.length} encoders for ${state.encoders.length} inputs`);
  file.encoders.forEach((e, m) => {
    const enc = state.encoders[m] as ModalityEncoder;
    if (e.field !== state.fields[m] || e.kind !== enc.kind) throw formatError(dir, `encoder ${m} is ${e.kind} for "${e.field}", but the config gives ${enc.kind} for "${state.fields[m]}"`);
    try { enc.setState(e.state); } catch (err) { throw formatError(dir, `encoder ${e.kind} refused its saved state: ${(err as Error).message}`, err); }
  });
  // Nothing is built that the file could not fill: refused before a single weight exists.
  const one = options.members === false && state.config.training.ensemble !== undefined;
  const sized = one ? { ...state.config, training: { ...state.config.training, ensemble: 1 } } : state.config;
  checkFusionSize(file, sized, state.encoders.map((e) => e.outputDim), path.join(dir, 'model.json'));
  // Every weight is assigned from the file below: the encoders need not draw initial values.
  state.build(undefined, { weightsFollow: true });
  if (options.members !== false && (state.config.training.ensemble ?? 1) > 1) state.buildMembers({ weightsFollow: true });
  const named = state.namedWeights();
  const last = file.weights[file.weights.length - 1];
  const memoryEntry = last?.name === SCOPE_MEMORY_WEIGHT ? last : undefined;
  const networkWeights = memoryEntry === undefined ? file.weights.length : file.weights.length - 1;
  if (named.length !== networkWeights) throw formatError(dir, `holds ${networkWeights} weights, the model has ${named.length}`);
  const score = state.output?.calibration?.score;
  if (score !== undefined && memoryEntry === undefined) throw formatError(dir, `its calibration scores out-of-scope requests by energy+nearest, but weights.bin has no ${SCOPE_MEMORY_WEIGHT} entry`);
  if (memoryEntry !== undefined) {
    const dim = state.requireNetwork().fusedDim;
    if (memoryEntry.shape.length !== 2 || memoryEntry.shape[1] !== dim || !((memoryEntry.shape[0] as number) >= 1)) throw formatError(dir, `${SCOPE_MEMORY_WEIGHT} is [${memoryEntry.shape}], expected [samples, ${dim}]`);
    if (score === undefined) throw formatError(dir, `weights.bin has a ${SCOPE_MEMORY_WEIGHT} entry, but the calibration has no energy+nearest score`);
    state.scopeMemory = { rows: memoryEntry.shape[0] as number, dim, data: values[values.length - 1] as Float32Array };
  }
  tf.tidy(() => {
    named.forEach(([name, v], i) => {
      const w = file.weights[i] as WeightEntry;
      if (w.name !== name || w.shape.join('x') !== v.shape.join('x')) throw formatError(dir, `weight ${i} is ${w.name} [${w.shape}], the model expects ${name} [${v.shape}]`);
      v.assign(tf.tensor(values[i] as Float32Array, v.shape, 'float32'));
    });
  });
  const stored = Object.fromEntries(file.weights.filter((w) => w.name !== SCOPE_MEMORY_WEIGHT).flatMap((w) => (w.dtype === 'int8' && w.scales !== undefined ? [[w.name, { dtype: 'int8', axis: w.scales.axis }]] : w.dtype === 'float16' ? [[w.name, { dtype: 'float16' }]] : [])));
  // Saving the state again keeps the weights' storage (re-quantizing dequantized int8 weights gives the same codes).
  if (Object.keys(stored).length > 0) state.weightStorage = stored as WeightStorage;
  else delete state.weightStorage;
}
