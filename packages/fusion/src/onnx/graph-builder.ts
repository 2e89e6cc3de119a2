/**
 * The `OnnxGraphBuilder` of @mmfuse/core, implemented on `onnx-proto` (protobufjs definitions of
 * onnx.proto): collects nodes, initializers (raw little-endian bytes), inputs and outputs, and encodes a
 * `ModelProto` (IR version 8, default-domain opset 17, so Debian's onnx 1.12 checker and every
 * onnxruntime since 1.12 read it). With `quantize: 'int8'`, `linear` writes integer kernels and `gather`
 * int8 rows.
 */
import onnxProto from 'onnx-proto';
import { ConfigError } from '@mmfuse/core';
import type { OnnxAttribute, OnnxDim, OnnxElementType, OnnxGraphBuilder, OnnxTensorData, OnnxValue } from '@mmfuse/core';
import type * as tf from '@tensorflow/tfjs';
import { quantizeColumns, quantizeRows } from './quantize.js';

// Captured at load: protobufjs keeps one root per process, which another copy of onnx-proto may reassign.
const { onnx } = onnxProto;

/** The default-domain opset of exported graphs. */
export const ONNX_OPSET = 17;
/** The ONNX IR version written (IR 8 goes with opset 17). */
export const ONNX_IR_VERSION = 8;

const ELEMENT: Record<OnnxElementType, number> = { float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9 };

/** A graph input as a runtime feeds it. */
export interface GraphInputSpec {
  /** The key of the encoder's `collate` output. */
  name: string;
  /** The input's name in the graph (`<field>.<name>`). */
  graphName: string;
  type: OnnxElementType;
  /** Dims as declared; dynamic ones by their graph name (the batch dimension is `batch`). */
  dims: OnnxDim[];
}

function elementOf(data: OnnxTensorData['data']): number {
  if (data instanceof Float32Array) return 1;
  if (data instanceof Int32Array) return 6;
  if (data instanceof BigInt64Array) return 7;
  if (data instanceof Int8Array) return 3;
  return 2;
}

function isIntegerList(v: readonly number[]): boolean {
  return v.every((x) => Number.isInteger(x));
}

function attribute(name: string, value: OnnxAttribute): onnxProto.onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return Number.isInteger(value) ? { name, type: A.INT, i: value } : { name, type: A.FLOAT, f: value };
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return isIntegerList(value) ? { name, type: A.INTS, ints: [...value] } : { name, type: A.FLOATS, floats: [...value] };
  const v = value as Exclude<OnnxAttribute, number | string | readonly number[]>;
  if ('float' in v) return { name, type: A.FLOAT, f: v.float };
  if ('floats' in v) return { name, type: A.FLOATS, floats: [...v.floats] };
  if ('int' in v) return { name, type: A.INT, i: v.int };
  if ('ints' in v) return { name, type: A.INTS, ints: [...v.ints] };
  return { name, type: A.STRINGS, strings: v.strings.map((s) => new TextEncoder().encode(s)) };
}

export interface GraphBuilderOptions {
  /** Write integer kernels for `linear` and int8 tables for `gather`. Default null (float32). */
  quantize?: 'int8' | null;
}

export class OnnxGraph implements OnnxGraphBuilder {
  readonly opset = ONNX_OPSET;
  readonly batch = 'batch';
  readonly quantize: 'int8' | null;
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constants = new Map<string, OnnxValue>();
  private readonly used = new Set<string>();
  private prefix = '';
  private fieldInputs: GraphInputSpec[] | undefined;
  /** Inside `forField` for member k >= 1 of an ensemble: the field's graph inputs (declared by member 0) are reused. */
  private inputPrefix: string | undefined;
  private counter = 0;

  constructor(options: GraphBuilderOptions = {}) {
    this.quantize = options.quantize ?? null;
  }

  /** A fresh unique value name. */
  private fresh(base: string): string {
    let name = `${this.prefix}${base}`;
    while (this.used.has(name)) name = `${this.prefix}${base}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  /**
   * Run `fn` with names prefixed by `<field>.`; returns its result and the graph inputs it declared. For member
   * k >= 1 of an ensemble (`member`), names are prefixed by `members.<k>.<field>.` and every `input` is the
   * graph input member 0 declared for the field (the members read the same prepared values); none is declared.
   */
  forField<T>(field: string, fn: () => T, member = 0): { result: T; inputs: GraphInputSpec[] } {
    const saved = this.prefix;
    this.prefix = member === 0 ? `${field}.` : `members.${member}.${field}.`;
    this.inputPrefix = member === 0 ? undefined : `${field}.`;
    this.fieldInputs = [];
    try {
      const result = fn();
      return { result, inputs: this.fieldInputs };
    } finally {
      this.prefix = saved;
      this.fieldInputs = undefined;
      this.inputPrefix = undefined;
    }
  }

  /** Run `fn` with names prefixed by `prefix` (readability of the graph only). */
  scoped<T>(prefix: string, fn: () => T): T {
    const saved = this.prefix;
    this.prefix = `${saved}${prefix}`;
    try {
      return fn();
    } finally {
      this.prefix = saved;
    }
  }

  private dim(d: OnnxDim): onnxProto.onnx.TensorShapeProto.IDimension {
    if (typeof d === 'number') return { dimValue: d };
    return { dimParam: d === this.batch ? d : `${this.prefix}${d}` };
  }

  input(name: string, type: OnnxElementType, dims: readonly OnnxDim[]): OnnxValue {
    if (this.inputPrefix !== undefined) {
      const shared = `${this.inputPrefix}${name}`;
      if (!this.inputs.some((i) => i.name === shared)) throw new ConfigError(`ONNX export: an ensemble member reads the graph input ${JSON.stringify(shared)}, which member 0 did not declare`, { path: 'exportOnnx' });
      return { name: shared };
    }
    const graphName = `${this.prefix}${name}`;
    if (this.used.has(graphName)) throw new ConfigError(`ONNX export: the graph input ${JSON.stringify(graphName)} is declared twice`, { path: 'exportOnnx' });
    this.used.add(graphName);
    this.inputs.push({ name: graphName, type: { tensorType: { elemType: ELEMENT[type], shape: { dim: dims.map((d) => this.dim(d)) } } } });
    this.fieldInputs?.push({ name, graphName, type, dims: dims.map((d) => (typeof d === 'number' || d === this.batch ? d : `${this.prefix}${d}`)) });
    return { name: graphName };
  }

  /** Declare a graph output. */
  output(value: OnnxValue, name: string, type: OnnxElementType, dims: readonly OnnxDim[]): void {
    const node = { opType: 'Identity', input: [value.name], output: [name], name: this.fresh(`${name}/Identity`) };
    this.used.add(name);
    this.nodes.push(node);
    this.outputs.push({ name, type: { tensorType: { elemType: ELEMENT[type], shape: { dim: dims.map((d) => this.dim(d)) } } } });
  }

  constant(value: tf.Tensor | OnnxTensorData, name?: string): OnnxValue {
    const t: OnnxTensorData = 'dataSync' in value
      ? { data: value.dtype === 'int32' ? (value.dataSync() as Int32Array) : (value.dataSync() as Float32Array), dims: value.shape }
      : value;
    const size = t.dims.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) throw new ConfigError(`ONNX export: constant ${name ?? ''} has ${t.data.length} values for dims [${t.dims.join(', ')}]`, { path: 'exportOnnx' });
    const out = this.fresh(name ?? 'const');
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength).slice(); // little-endian on every supported platform
    this.initializers.push({ name: out, dims: [...t.dims], dataType: elementOf(t.data), rawData: bytes });
    return { name: out };
  }

  private cached(key: string, make: () => OnnxValue): OnnxValue {
    let v = this.constants.get(key);
    if (v === undefined) {
      const saved = this.prefix;
      this.prefix = '';
      try { v = make(); } finally { this.prefix = saved; }
      this.constants.set(key, v);
    }
    return v;
  }

  ints(values: number | readonly number[], dims?: readonly number[]): OnnxValue {
    const shape = dims ?? (typeof values === 'number' ? [] : [values.length]);
    const list = typeof values === 'number' ? new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(values) : [...values];
    return this.cached(`i64:${shape.join('x')}:${list.join(',')}`, () => this.constant({ data: BigInt64Array.from(list, (x) => BigInt(x)), dims: shape }, 'ints'));
  }

  floats(values: number | readonly number[], dims?: readonly number[]): OnnxValue {
    const shape = dims ?? (typeof values === 'number' ? [] : [values.length]);
    const list = typeof values === 'number' ? new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(values) : [...values];
    return this.cached(`f32:${shape.join('x')}:${list.join(',')}`, () => this.constant({ data: Float32Array.from(list), dims: shape }, 'floats'));
  }

  op(type: string, inputs: readonly (OnnxValue | null)[], attributes?: Readonly<Record<string, OnnxAttribute>>): OnnxValue {
    return this.ops(type, inputs, 1, attributes)[0] as OnnxValue;
  }

  ops(type: string, inputs: readonly (OnnxValue | null)[], outputs: number, attributes: Readonly<Record<string, OnnxAttribute>> = {}): OnnxValue[] {
    const outs = Array.from({ length: outputs }, (_, i) => this.fresh(outputs === 1 ? type : `${type}_${i}`));
    this.nodes.push({
      opType: type,
      name: this.fresh(`${type}_node`),
      input: inputs.map((v) => (v === null ? '' : v.name)),
      output: outs,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return outs.map((name) => ({ name }));
  }

  linear(x: OnnxValue, kernel: tf.Tensor, bias?: tf.Tensor): OnnxValue {
    if (kernel.rank !== 2) throw new ConfigError(`ONNX export: linear needs a [in, out] kernel, got [${kernel.shape.join(', ')}]`, { path: 'exportOnnx' });
    const [inDim, outDim] = kernel.shape as [number, number];
    let y: OnnxValue;
    if (this.quantize === 'int8') {
      // Dynamic quantization, as onnxruntime's own quantizer writes it (its optimizer fuses the pattern into
      // one DynamicQuantizeMatMul / MatMulIntegerToFloat kernel): uint8 activations with a per-call scale and
      // zero point, int8 weights with a symmetric scale per output column.
      const q = quantizeColumns(kernel.dataSync() as Float32Array, inDim, outDim);
      const [xq, xScale, xZero] = this.ops('DynamicQuantizeLinear', [x], 3) as [OnnxValue, OnnxValue, OnnxValue];
      const wq = this.constant({ data: q.values, dims: [inDim, outDim] }, 'weight_int8');
      const wZero = this.constant({ data: new Int8Array(outDim), dims: [outDim] }, 'weight_zero_point');
      const acc = this.op('MatMulInteger', [xq, wq, xZero, wZero]); // int32
      const scale = this.op('Mul', [xScale, this.constant({ data: q.scales, dims: [outDim] }, 'weight_scale')]);
      y = this.op('Mul', [this.op('Cast', [acc], { to: 1 }), scale]);
    } else {
      y = this.op('MatMul', [x, this.constant(kernel, 'weight')]);
    }
    return bias === undefined ? y : this.op('Add', [y, this.constant(bias, 'bias')]);
  }

  gather(table: tf.Tensor, ids: OnnxValue): OnnxValue {
    if (table.rank !== 2) throw new ConfigError(`ONNX export: gather needs a [rows, dim] table, got [${table.shape.join(', ')}]`, { path: 'exportOnnx' });
    if (this.quantize !== 'int8') return this.op('Gather', [this.constant(table, 'table'), ids], { axis: 0 });
    const [rows, dim] = table.shape as [number, number];
    const q = quantizeRows(table.dataSync() as Float32Array, rows, dim);
    const picked = this.op('Cast', [this.op('Gather', [this.constant({ data: q.values, dims: [rows, dim] }, 'table_int8'), ids], { axis: 0 })], { to: 1 }); // [..., dim]
    const scales = this.op('Gather', [this.constant({ data: q.scales, dims: [rows, 1] }, 'table_scale'), ids], { axis: 0 }); // [..., 1]
    return this.op('Mul', [picked, scales]);
  }

  /** The encoded model. */
  encode(metadata: Record<string, string>, docString: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: ONNX_IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'mmfuse',
      producerVersion: '0.1.0',
      docString,
      graph: { name: 'mmfuse', node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs },
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** The metadata properties of an encoded ONNX model (`metadata_props`), without a runtime. */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries(model.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
}
