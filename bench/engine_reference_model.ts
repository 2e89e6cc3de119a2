/**
 * A compact tf-ops version of the reference fusion model of BENCHMARK-SPEC.md (the full one is built by the
 * fusion package), used by engine.bench.ts to time and profile one training step on each engine setup.
 * Same layers, shapes and parameter count (LSTM with one bias vector per direction: 764,077 parameters).
 */
import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '@mmfuse/core';
// Not yet re-exported by @mmfuse/core's index (see the engine report); the fused step on wasm, tf ops elsewhere.
import { lstmCell } from '../packages/core/src/internal/wasm/lstm_cell.js';

export const B = 32;
const VOCAB = 5000;
const T_TEXT = 32;
const D = 128;
const HEADS = 4;
const HEAD = D / HEADS;
const FF = 256;
const CLASSES = 77;
const DROPOUT = 0.1;
const TOKENS = 1 + T_TEXT + 25 + 64; // [CLS] + text + audio + image = 122

export interface Batch { tokens: tf.Tensor2D; keyPadBias: tf.Tensor4D; logmel: tf.Tensor4D; image: tf.Tensor4D; labels: tf.Tensor2D }

/** Seeded synthetic batches as the spec describes (lengths 8..32, ids 1..4999, normal features, 77 labels). */
export function makeBatches(count: number, seed = 7): Batch[] {
  const rng = createRng(seed);
  const out: Batch[] = [];
  for (let n = 0; n < count; n++) {
    const ids = new Int32Array(B * T_TEXT);
    const pad = new Float32Array(B * TOKENS);
    for (let b = 0; b < B; b++) {
      const len = 8 + rng.int(25);
      for (let t = 0; t < T_TEXT; t++) {
        ids[b * T_TEXT + t] = t < len ? 1 + rng.int(VOCAB - 1) : 0;
        // Masked keys get a large negative score before the softmax ([CLS] is key 0, text keys 1..32).
        if (t >= len) pad[b * TOKENS + 1 + t] = -1e9;
      }
    }
    const normal = (size: number): Float32Array => Float32Array.from({ length: size }, () => rng.normal());
    const labels = Int32Array.from({ length: B }, () => rng.int(CLASSES));
    out.push(tf.tidy(() => ({
      tokens: tf.tensor2d(ids, [B, T_TEXT], 'int32'),
      keyPadBias: tf.tensor4d(pad, [B, 1, 1, TOKENS]),
      logmel: tf.tensor4d(normal(B * 100 * 64), [B, 100, 64, 1]),
      image: tf.tensor4d(normal(B * 64 * 64 * 3), [B, 64, 64, 3]),
      labels: tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES).toFloat() as tf.Tensor2D,
    })));
  }
  return out;
}

export function disposeBatches(batches: Batch[]): void {
  for (const b of batches) tf.dispose([b.tokens, b.keyPadBias, b.logmel, b.image, b.labels]);
}

type Params = Record<string, tf.Variable>;

function sinusoids(len: number): tf.Tensor2D {
  const pe = new Float32Array(len * D);
  for (let pos = 0; pos < len; pos++) {
    for (let i = 0; i < D; i += 2) {
      const angle = pos / 10000 ** (i / D);
      pe[pos * D + i] = Math.sin(angle);
      pe[pos * D + i + 1] = Math.cos(angle);
    }
  }
  return tf.tensor2d(pe, [len, D]);
}

export class ReferenceModel {
  readonly params: Params = {};
  private readonly pe: tf.Tensor2D;
  private dropoutSeed = 1;

  constructor(seed = 11) {
    const rng = createRng(seed);
    const add = (name: string, shape: number[], scale: number): void => {
      this.params[name] = tf.variable(tf.randomNormal(shape, 0, scale, 'float32', rng.nextSeed()), true, `ref/${name}`);
    };
    const zeros = (name: string, shape: number[], value = 0): void => {
      this.params[name] = tf.variable(tf.fill(shape, value), true, `ref/${name}`);
    };
    add('embed', [VOCAB, 64], 1);
    for (const dir of ['fw', 'bw']) {
      add(`lstm_${dir}_W`, [64, 256], 0.125);
      add(`lstm_${dir}_U`, [64, 256], 0.125);
      zeros(`lstm_${dir}_b`, [256]);
    }
    const conv = (name: string, cin: number, cout: number): void => {
      add(`${name}_W`, [3, 3, cin, cout], Math.sqrt(2 / (9 * cin)));
      zeros(`${name}_b`, [cout]);
    };
    conv('audio1', 1, 16);
    conv('audio2', 16, 32);
    conv('image1', 3, 16);
    conv('image2', 16, 32);
    conv('image3', 32, 64);
    const dense = (name: string, din: number, dout: number): void => {
      add(`${name}_W`, [din, dout], 1 / Math.sqrt(din));
      zeros(`${name}_b`, [dout]);
    };
    dense('audio_proj', 512, D);
    dense('image_proj', 64, D);
    add('modality', [3, D], 0.02);
    add('cls', [D], 0.02);
    for (let l = 0; l < 2; l++) {
      zeros(`l${l}_ln1_g`, [D], 1);
      zeros(`l${l}_ln1_b`, [D]);
      dense(`l${l}_qkv`, D, 3 * D);
      dense(`l${l}_out`, D, D);
      zeros(`l${l}_ln2_g`, [D], 1);
      zeros(`l${l}_ln2_b`, [D]);
      dense(`l${l}_ff1`, D, FF);
      dense(`l${l}_ff2`, FF, D);
    }
    zeros('ln_g', [D], 1);
    zeros('ln_b', [D]);
    dense('head', D, CLASSES);
    this.pe = tf.keep(sinusoids(64));
  }

  get parameterCount(): number {
    return Object.values(this.params).reduce((n, v) => n + v.size, 0);
  }

  private p(name: string): tf.Variable {
    const v = this.params[name];
    if (v === undefined) throw new Error(`no parameter ${name}`);
    return v;
  }

  private dropout(x: tf.Tensor, training: boolean): tf.Tensor {
    return training ? tf.dropout(x, DROPOUT, undefined, this.dropoutSeed++) : x;
  }

  /** x [B, T, 64] → hidden states [B, T, 64] of one LSTM direction (gates i, f, g, o). */
  private lstm(x: tf.Tensor3D, dir: string): tf.Tensor3D {
    const [b, t] = x.shape;
    const xw = tf.fused.matMul({ a: x.reshape([b * t, 64]), b: this.p(`lstm_${dir}_W`), bias: this.p(`lstm_${dir}_b`) }).reshape([b, t, 256]); // [B, T, 4·64]
    const steps = tf.unstack(xw, 1); // T × [B, 256]
    let h: tf.Tensor2D = tf.zeros([b, 64]);
    let c: tf.Tensor2D = tf.zeros([b, 64]);
    const hs: tf.Tensor2D[] = [];
    for (const z0 of steps) {
      const z = z0.add(tf.matMul(h, this.p(`lstm_${dir}_U`))) as tf.Tensor2D; // [B, 4·64], gates i, f, g, o
      ({ h, c } = lstmCell(z, c));
      hs.push(h);
    }
    return tf.stack(hs, 1) as tf.Tensor3D;
  }

  private convBlock(x: tf.Tensor4D, name: string): tf.Tensor4D {
    const y = tf.fused.conv2d({ x, filter: this.p(`${name}_W`) as tf.Tensor4D, strides: 1, pad: 'same', bias: this.p(`${name}_b`), activation: 'relu' });
    return tf.maxPool(y, 2, 2, 'valid');
  }

  private dense(x: tf.Tensor, name: string, activation?: 'relu'): tf.Tensor {
    const shape = x.shape;
    const din = shape[shape.length - 1]!;
    const flat = x.reshape([-1, din]);
    const y = tf.fused.matMul({ a: flat, b: this.p(`${name}_W`), bias: this.p(`${name}_b`), ...(activation ? { activation } : {}) });
    return y.reshape([...shape.slice(0, -1), y.shape[1]!]);
  }

  private layerNorm(x: tf.Tensor, g: string, b: string): tf.Tensor {
    const { mean, variance } = tf.moments(x, -1, true);
    return x.sub(mean).mul(tf.rsqrt(variance.add(1e-5))).mul(this.p(g)).add(this.p(b));
  }

  private encoderLayer(x: tf.Tensor3D, l: number, keyPadBias: tf.Tensor4D, training: boolean): tf.Tensor3D {
    const [b, t] = x.shape;
    const h = this.layerNorm(x, `l${l}_ln1_g`, `l${l}_ln1_b`);
    const qkv = this.dense(h, `l${l}_qkv`).reshape([b, t, 3, HEADS, HEAD]).transpose([2, 0, 3, 1, 4]); // [3, B, H, T, 32]
    const [q, k, v] = tf.unstack(qkv, 0) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    const scores = tf.matMul(q, k, false, true).mul(1 / Math.sqrt(HEAD)).add(keyPadBias); // [B, H, T, T]
    const probs = this.dropout(tf.softmax(scores), training);
    const ctx = tf.matMul(probs, v).transpose([0, 2, 1, 3]).reshape([b, t, D]); // [B, T, 128]
    let y = x.add(this.dropout(this.dense(ctx, `l${l}_out`), training));
    const h2 = this.layerNorm(y, `l${l}_ln2_g`, `l${l}_ln2_b`);
    const a = this.dense(h2, `l${l}_ff1`);
    const gelu = a.mul(0.5).mul(tf.erf(a.mul(Math.SQRT1_2)).add(1));
    y = y.add(this.dropout(this.dense(this.dropout(gelu, training), `l${l}_ff2`), training));
    return y as tf.Tensor3D;
  }

  /** logits [B, 77] */
  forward(batch: Batch, training: boolean): tf.Tensor2D {
    const emb = tf.gather(this.p('embed'), batch.tokens) as tf.Tensor3D; // [B, 32, 64]
    const fw = this.lstm(emb, 'fw');
    const bw = tf.reverse(this.lstm(tf.reverse(emb, 1), 'bw'), 1);
    const mod = tf.unstack(this.p('modality'), 0);
    const text = tf.concat([fw, bw], 2).add(mod[0]!).add(this.pe.slice([0, 0], [T_TEXT, D])); // [B, 32, 128]
    let a = this.convBlock(this.convBlock(batch.logmel, 'audio1'), 'audio2'); // [B, 25, 16, 32]
    a = a.reshape([B, 25, 512]);
    const audio = this.dense(a, 'audio_proj').add(mod[1]!).add(this.pe.slice([0, 0], [25, D])); // [B, 25, 128]
    let v = this.convBlock(this.convBlock(this.convBlock(batch.image, 'image1'), 'image2'), 'image3'); // [B, 8, 8, 64]
    v = v.reshape([B, 64, 64]) as tf.Tensor4D;
    const image = this.dense(v, 'image_proj').add(mod[2]!).add(this.pe); // [B, 64, 128]
    const cls = tf.tile(this.p('cls').reshape([1, 1, D]), [B, 1, 1]);
    let x = tf.concat([cls, text, audio, image], 1) as tf.Tensor3D; // [B, 122, 128]
    for (let l = 0; l < 2; l++) x = this.encoderLayer(x, l, batch.keyPadBias, training);
    const out = this.layerNorm(x, 'ln_g', 'ln_b');
    const first = out.slice([0, 0, 0], [B, 1, D]).reshape([B, D]);
    return this.dense(first, 'head') as tf.Tensor2D;
  }

  loss(batch: Batch, training: boolean): tf.Scalar {
    return tf.losses.softmaxCrossEntropy(batch.labels, this.forward(batch, training)) as tf.Scalar;
  }

  dispose(): void {
    tf.dispose(Object.values(this.params));
    this.pe.dispose();
  }
}

/** AdamW as the spec has it: decoupled weight decay on every parameter, then an Adam update. */
export class AdamW {
  private readonly adam = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  constructor(private readonly model: ReferenceModel, private readonly lr = 1e-3, private readonly decay = 0.01) {}

  /** One training step; returns the loss read back to the host. */
  step(batch: Batch): number {
    const vars = Object.values(this.model.params);
    const { value, grads } = tf.variableGrads(() => this.model.loss(batch, true), vars);
    tf.tidy(() => {
      for (const v of vars) v.assign(v.mul(1 - this.lr * this.decay));
    });
    this.adam.applyGradients(grads as tf.NamedTensorMap as Record<string, tf.Variable>);
    const loss = value.dataSync()[0]!;
    tf.dispose([value, ...Object.values(grads)]);
    return loss;
  }

  dispose(): void {
    this.adam.dispose();
  }
}

export type { Rng };
