/**
 * Checks of a saved model before anything is built from it. The checksums in model.json prove only that
 * the files agree with each other (anyone can recompute a SHA-256), so an edited folder must be refused by
 * what it says, in milliseconds and without allocating what it claims:
 * - the weight manifest: names unique, dtypes of the file's format version, shapes of positive integers,
 *   `byteLength` what the dtype needs for the shape (float32 4 bytes a value, float16 2, int8 1 padded to 4
 *   plus a float32 scale per channel), each entry starting at the next multiple of 4 after the one before,
 *   the total equal to the size of weights.bin (checked with `stat` before a byte is read), at most
 *   `MODEL_LIMITS.maxParameters` values;
 * - labels and `outDim`: at most `MODEL_LIMITS.maxOutputs`;
 * - the config's sizes within the schema's upper bounds (`fusionSchema`), and the fusion network the config
 *   describes no larger than the fusion weights the file holds (`minimumFusionParameters`), so a config
 *   edited to 100000 layers is refused before one layer is built;
 * - every weight value finite.
 */
import { ModelFormatError } from '@mmfuse/core';
import type { ResolvedConfig } from '../config.js';
import { blockPaths } from '../strategies/strategy.js';
import type { ModelFile, WeightEntry } from './format.js';
import { alignUp } from './weight-codec.js';
import { DTYPES_BY_VERSION, decodeEntry } from './weight-entries.js';

/** Upper bounds on what `load` builds (documented in the package README). */
export const MODEL_LIMITS = {
  /** Values in weights.bin (1 G float32 = 4 GiB). */
  maxParameters: 2 ** 30,
  /** Labels / output width. */
  maxOutputs: 100_000,
  /** Entries of the weight manifest. */
  maxWeights: 100_000,
  /** Dimensions of one weight's shape. */
  maxRank: 8,
} as const;

function refuse(file: string, reason: string): ModelFormatError {
  return new ModelFormatError(`model.json: ${reason}; the folder was edited or is corrupt`, { file });
}

function isCount(v: unknown, min: number, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Check the parts of model.json that say how much to allocate, against the size of weights.bin. Throws
 * `ModelFormatError` naming `file` (model.json) and the first problem.
 */
export function checkWeightManifest(model: ModelFile, weightsBytes: number, file: string): void {
  if (!Array.isArray(model.labels) || !model.labels.every((l) => typeof l === 'string')) throw refuse(file, '"labels" must be a list of strings');
  if (model.labels.length > MODEL_LIMITS.maxOutputs) throw refuse(file, `${model.labels.length} labels, over the limit of ${MODEL_LIMITS.maxOutputs}`);
  if (new Set(model.labels).size !== model.labels.length) throw refuse(file, '"labels" lists a label twice');
  if (!isCount(model.outDim, 1, MODEL_LIMITS.maxOutputs)) throw refuse(file, `"outDim" must be an integer from 1 to ${MODEL_LIMITS.maxOutputs}, got ${JSON.stringify(model.outDim)}`);
  if (model.labels.length > 0 && model.labels.length !== model.outDim) throw refuse(file, `${model.labels.length} labels for an output of width ${model.outDim}`);
  if (!Array.isArray(model.encoders)) throw refuse(file, '"encoders" must be a list');
  const weights = model.weights as unknown;
  if (!Array.isArray(weights) || weights.length > MODEL_LIMITS.maxWeights) throw refuse(file, `"weights" must be a list of at most ${MODEL_LIMITS.maxWeights} entries`);
  const names = new Set<string>();
  const dtypes = DTYPES_BY_VERSION[model.version] ?? ['float32'];
  let offset = 0;
  let values = 0;
  (weights as unknown[]).forEach((raw, i) => {
    const w = raw as Partial<WeightEntry> | null;
    if (typeof w !== 'object' || w === null || typeof w.name !== 'string') throw refuse(file, `weight ${i} has no name`);
    const at = `weight ${i} (${JSON.stringify(w.name.slice(0, 80))})`;
    if (names.has(w.name)) throw refuse(file, `${at} is listed twice`);
    names.add(w.name);
    if (typeof w.dtype !== 'string' || !dtypes.includes(w.dtype)) throw refuse(file, `${at}: dtype ${JSON.stringify(w.dtype)} is not one of ${dtypes.join(', ')} (format version ${model.version})`);
    if (!Array.isArray(w.shape) || w.shape.length > MODEL_LIMITS.maxRank || !w.shape.every((d) => isCount(d, 1, MODEL_LIMITS.maxParameters))) {
      throw refuse(file, `${at} has shape ${JSON.stringify(w.shape)}; expected up to ${MODEL_LIMITS.maxRank} positive integers`);
    }
    const size = w.shape.reduce((a, d) => a * d, 1);
    values += size;
    if (values > MODEL_LIMITS.maxParameters) throw refuse(file, `the weights hold more than ${MODEL_LIMITS.maxParameters} values, the most mmfuse loads`);
    const needed = entryBytes(w as WeightEntry, size, (reason) => refuse(file, `${at}: ${reason}`));
    if (w.byteLength !== needed) throw refuse(file, `${at} has byteLength ${JSON.stringify(w.byteLength)}, but its shape [${w.shape}] needs ${needed} bytes as ${w.dtype}`);
    const start = alignUp(offset);
    if (w.offset !== start) throw refuse(file, `${at} starts at byte ${JSON.stringify(w.offset)}; the weights are packed one after the other (each at a multiple of 4), so it must start at ${start}`);
    offset = start + needed;
  });
  if (alignUp(offset) !== weightsBytes) throw refuse(file, `the weights add up to ${alignUp(offset)} bytes, but weights.bin has ${weightsBytes}`);
}

/** The bytes an entry of its dtype and shape spans (an int8 entry: values padded to 4, then one float32 scale per channel). */
function entryBytes(w: WeightEntry, size: number, bad: (reason: string) => ModelFormatError): number {
  switch (w.dtype) {
    case 'float16': return size * 2;
    case 'int8': {
      const s = w.scales as Partial<NonNullable<WeightEntry['scales']>> | undefined;
      if (typeof s !== 'object' || s === null || !isCount(s.axis, 0, MODEL_LIMITS.maxRank) || !isCount(s.count, 0, MODEL_LIMITS.maxParameters)) throw bad('an int8 weight needs scales { axis, offset, count }');
      if (s.axis >= w.shape.length || s.count !== w.shape[s.axis]) throw bad(`scales along axis ${s.axis} must number ${w.shape[s.axis] ?? '(no such axis)'}, got ${s.count}`);
      if (s.offset !== w.offset + alignUp(size)) throw bad(`scales must follow the int8 values at byte ${w.offset + alignUp(size)}, got ${JSON.stringify(s.offset)}`);
      return alignUp(size) + 4 * s.count;
    }
    default: return size * 4;
  }
}

/** Values (not bytes) a weight holds, whatever its storage. */
function valuesOf(w: WeightEntry): number {
  return w.shape.reduce((a, d) => a * d, 1);
}

/**
 * A lower bound on the fusion weights (alignment, strategy, head) the config describes: the matrices alone,
 * biases and norms left out, so it never exceeds the true count. `inputDims` are the encoders' output widths.
 */
export function minimumFusionParameters(config: ResolvedConfig, inputDims: readonly number[], outDim: number): number {
  const f = config.fusion;
  const d = f.dModel;
  const m = inputDims.length;
  const fields = Object.keys(config.inputs);
  const projections = inputDims.reduce((a, inDim, i) => a + (config.inputs[fields[i] as string]?.project === false ? 0 : inDim * d), 0);
  // Each block at its pruned sizes (`fusion.blockShapes`: heads keep the width dModel / heads): the four
  // attention projections d x (heads x headDim) and the two feed-forward matrices d x ffDim.
  const shapes = f.blockShapes ?? {};
  const headDim = d / f.heads;
  const block = (p: string): number => 4 * d * (shapes[p]?.heads ?? f.heads) * headDim + 2 * d * (shapes[p]?.ffDim ?? f.ffDim);
  const hidden = shapes.hidden?.ffDim ?? f.ffDim;
  const blocks = blockPaths(f.strategy, f.layers, m).reduce((a, p) => a + block(p), 0);
  const strategy = f.strategy === 'late' ? m * d * hidden + hidden * d
    : f.strategy === 'cross-attention' ? blocks + m * d * d
      : blocks;
  return m * d + projections + strategy + d * outDim;
}

/** The name of a fusion weight: `fusion.<path>`, or an ensemble member's `members.<k>.fusion.<path>`. */
const FUSION_WEIGHT = /^(members\.\d+\.)?fusion\./;

/** Refuse a config whose fusion network(s) would be larger than the fusion weights the file holds. */
export function checkFusionSize(model: ModelFile, config: ResolvedConfig, inputDims: readonly number[], file: string): void {
  // An ensemble (training.ensemble) holds one fusion network per member: `fusion.` and `members.<k>.fusion.`.
  const members = config.training.ensemble ?? 1;
  const needed = members * minimumFusionParameters(config, inputDims, model.outDim);
  const held = model.weights.filter((w) => FUSION_WEIGHT.test(w.name)).reduce((a, w) => a + valuesOf(w), 0);
  if (!Number.isFinite(needed) || needed > held) {
    throw refuse(file, `its config describes ${members === 1 ? 'a fusion network' : `${members} fusion networks`} of at least ${needed} values (fusion ${JSON.stringify(config.fusion)}, inputs of width ${inputDims.join(', ')}), but the file holds ${held}`);
  }
}

/**
 * Refuse weights with a NaN or an infinity (the first one: its index among the file's float32 values, or
 * within its weight for float16 / int8 storage, and the weight's name). Entries must be checked already.
 */
export function checkFinite(model: ModelFile, buffer: Uint8Array, file: string): void {
  for (const w of model.weights) {
    if (w.dtype === 'float32') {
      // A view where the bytes are 4-aligned (no copy of the file); v - v is 0 for a finite value and NaN otherwise.
      // Before stop 44: a copy and a findIndex callback per value, 140 ms of the bot's 830 ms load.
      const start = buffer.byteOffset + w.offset;
      const n = w.byteLength / 4;
      const values = start % 4 === 0 ? new Float32Array(buffer.buffer, start, n) : new Float32Array(buffer.buffer.slice(start, start + w.byteLength));
      let j = -1;
      for (let i = 0; i < n; i++) {
        const v = values[i] as number;
        if (v - v !== 0) { j = i; break; }
      }
      if (j >= 0) throw new ModelFormatError(`weights.bin holds ${values[j]} at value ${w.offset / 4 + j} (weight ${w.name}); every weight must be finite`, { file });
    } else {
      // float16 infinities/NaNs and int8 scales (checked by decodeEntry) decoded as load reads them.
      const values = decodeEntry(w, buffer, file);
      const j = values.findIndex((v) => !Number.isFinite(v));
      if (j >= 0) throw new ModelFormatError(`weights.bin holds ${values[j]} at value ${j} of weight ${w.name} (${w.dtype}); every weight must be finite`, { file });
    }
  }
}
