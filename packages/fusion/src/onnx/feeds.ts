/**
 * Graph feeds of an exported model from collated batches, for any runtime (no TensorFlow.js, no
 * onnxruntime, no Node API: the browser page uses it too). Each input field's `collate` tensors cover the
 * rows that have the field; batch-major tensors (declared with the batch dimension first) are spread to
 * the whole batch with zero rows for the rows without it, `present` marks the rows that have it, and a
 * field no row has gets zero tensors with every dynamic dimension 1.
 */
import { InternalError } from '@mmfuse/core/base';
import type { OnnxDim, OnnxElementType } from '@mmfuse/core/base';

/** A typed array with its dims (row-major). */
export interface FeedTensor {
  type: OnnxElementType;
  data: Float32Array | Int32Array | BigInt64Array | Uint8Array | Int8Array;
  dims: number[];
}

/** The graph inputs of one field, as `OnnxInputMetadata` lists them. */
export interface FeedFieldSpec {
  present: string;
  tensors: readonly { name: string; graphName: string; type: OnnxElementType; dims: readonly OnnxDim[] }[];
}

/** One field of a batch: the batch rows that have it and its collated tensors (first axis = those rows). */
export interface CollatedField {
  rows: readonly number[];
  tensors: Readonly<Record<string, { data: FeedTensor['data']; dims: readonly number[] }>>;
}

function typedArray(type: OnnxElementType, size: number): FeedTensor['data'] {
  switch (type) {
    case 'float32': return new Float32Array(size);
    case 'int32': return new Int32Array(size);
    case 'int64': return new BigInt64Array(size);
    case 'int8': return new Int8Array(size);
    default: return new Uint8Array(size);
  }
}

/** Feeds (by graph input name) of a batch of `batchSize` rows; `fields[m]` null when no row has field m. */
export function buildFeeds(specs: readonly FeedFieldSpec[], batch: string, batchSize: number, fields: readonly (CollatedField | null)[]): Record<string, FeedTensor> {
  const feeds: Record<string, FeedTensor> = {};
  specs.forEach((spec, m) => {
    const field = fields[m] ?? null;
    const present = new Float32Array(batchSize);
    field?.rows.forEach((r) => { present[r] = 1; });
    feeds[spec.present] = { type: 'float32', data: present, dims: [batchSize] };
    for (const t of spec.tensors) {
      const batchMajor = t.dims[0] === batch;
      if (field === null) {
        const dims = t.dims.map((d, i) => (i === 0 && batchMajor ? batchSize : typeof d === 'number' ? d : 1));
        feeds[t.graphName] = { type: t.type, data: typedArray(t.type, dims.reduce((a, b) => a * b, 1)), dims };
        continue;
      }
      const given = field.tensors[t.name];
      if (given === undefined) throw new InternalError(`collate gave no "${t.name}" tensor, which the exported graph reads as ${t.graphName}`);
      const identity = field.rows.length === batchSize && field.rows.every((r, i) => r === i);
      if (!batchMajor || identity) {
        feeds[t.graphName] = { type: t.type, data: given.data, dims: [...given.dims] };
        continue;
      }
      const rowSize = given.dims.slice(1).reduce((a, b) => a * b, 1);
      const data = typedArray(t.type, batchSize * rowSize);
      field.rows.forEach((r, i) => {
        (data as Float32Array).set((given.data as Float32Array).subarray(i * rowSize, (i + 1) * rowSize), r * rowSize);
      });
      feeds[t.graphName] = { type: t.type, data, dims: [batchSize, ...given.dims.slice(1)] };
    }
  });
  return feeds;
}
