/**
 * Connectionist temporal classification loss (Graves et al. 2006), as `torch.nn.functional.ctc_loss`.
 *
 * The forward (alpha) and backward (beta) recursions run in log space over typed arrays (float64), once
 * per sample, over the label sequence extended with blanks (`l' = blank l1 blank l2 ... blank`, length
 * 2S+1). The gradient with respect to the log-probabilities is PyTorch's:
 * `exp(logProbs[t, c]) - exp(logsumexp_{s: l'_s = c}(alpha_t(s) + beta_t(s)) + nll - logProbs[t, c])`,
 * i.e. softmax minus the CTC posterior, which is the exact gradient with respect to the logits when
 * `logProbs = logSoftmax(logits)` (the usual case), and zero at frames past a sample's input length.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, InvalidInputError } from '../errors.js';

/** How the per-sample losses are combined (PyTorch's `reduction`). */
export type CtcReduction = 'mean' | 'sum' | 'none';

/** Options of `ctcLoss`. */
export interface CtcLossOptions {
  /** Index of the blank symbol among the classes. Default 0. */
  blank?: number;
  /**
   * `mean` (default): each sample's loss divided by its target length (at least 1), then the batch mean;
   * `sum`: the sum over the batch; `none`: the `[batch]` losses.
   */
  reduction?: CtcReduction;
  /** Infinite losses (a target that cannot fit its input length) and their gradients become 0. Default false. */
  zeroInfinity?: boolean;
}

/** The labels of one sample: class indices, never the blank. */
export type CtcTarget = ArrayLike<number>;

const NEG_INF = Number.NEGATIVE_INFINITY;

function logAdd(a: number, b: number): number {
  if (a === NEG_INF) return b;
  if (b === NEG_INF) return a;
  return a > b ? a + Math.log1p(Math.exp(b - a)) : b + Math.log1p(Math.exp(a - b));
}

interface SampleResult {
  /** -log p(target | input); +Infinity when the target cannot be aligned. */
  nll: number;
}

/**
 * One sample: loss, and (when the loss is finite) `exp(lp) - posterior` written into `grad` at
 * [t * C + c] for t < T. `lp` is the sample's [maxT, C] slice.
 */
function ctcSample(lp: Float32Array, offset: number, C: number, T: number, target: CtcTarget, blank: number, grad: Float64Array | undefined): SampleResult {
  const S = target.length;
  const L = 2 * S + 1;
  // l'[s]: blank at even s, target[(s - 1) / 2] at odd s.
  const ext = new Int32Array(L);
  for (let s = 0; s < L; s++) ext[s] = s % 2 === 0 ? blank : (target[(s - 1) >> 1] as number);
  // A skip from s - 2 to s is allowed when l'[s] is a label different from l'[s - 2].
  const canSkip = new Uint8Array(L);
  for (let s = 2; s < L; s++) canSkip[s] = ext[s] !== blank && ext[s] !== ext[s - 2] ? 1 : 0;
  if (T === 0) return { nll: S === 0 ? 0 : Number.POSITIVE_INFINITY };

  const alpha = new Float64Array(T * L).fill(NEG_INF); // [T, L]
  const at = (t: number, c: number): number => lp[offset + t * C + c] as number;
  alpha[0] = at(0, blank);
  if (L > 1) alpha[1] = at(0, ext[1] as number);
  for (let t = 1; t < T; t++) {
    const prev = (t - 1) * L;
    const cur = t * L;
    // Only states that can still reach the end (s >= L - 2(T - t)) and be reached from the start (s < 2t + 2) matter.
    const sMin = Math.max(0, L - 2 * (T - t));
    const sMax = Math.min(L, 2 * t + 2);
    for (let s = sMin; s < sMax; s++) {
      let a = alpha[prev + s] as number;
      if (s > 0) a = logAdd(a, alpha[prev + s - 1] as number);
      if (canSkip[s] === 1) a = logAdd(a, alpha[prev + s - 2] as number);
      alpha[cur + s] = a === NEG_INF ? NEG_INF : a + at(t, ext[s] as number);
    }
  }
  const last = (T - 1) * L;
  const logLik = L > 1 ? logAdd(alpha[last + L - 1] as number, alpha[last + L - 2] as number) : (alpha[last] as number);
  const nll = -logLik;
  if (grad === undefined || !Number.isFinite(nll)) return { nll };

  // beta_t(s) includes the emission at t, as alpha does; alpha_t(s) + beta_t(s) - lp(t, l'_s) is the log
  // probability of the paths through state s at time t.
  const beta = new Float64Array(T * L).fill(NEG_INF);
  beta[last + L - 1] = at(T - 1, ext[L - 1] as number);
  if (L > 1) beta[last + L - 2] = at(T - 1, ext[L - 2] as number);
  for (let t = T - 2; t >= 0; t--) {
    const next = (t + 1) * L;
    const cur = t * L;
    const sMin = Math.max(0, L - 2 * (T - t));
    const sMax = Math.min(L, 2 * t + 2);
    for (let s = sMin; s < sMax; s++) {
      let b = beta[next + s] as number;
      if (s + 1 < L) b = logAdd(b, beta[next + s + 1] as number);
      if (s + 2 < L && canSkip[s + 2] === 1) b = logAdd(b, beta[next + s + 2] as number);
      beta[cur + s] = b === NEG_INF ? NEG_INF : b + at(t, ext[s] as number);
    }
  }
  const lcab = new Float64Array(C);
  for (let t = 0; t < T; t++) {
    lcab.fill(NEG_INF);
    const row = t * L;
    for (let s = 0; s < L; s++) {
      const c = ext[s] as number;
      lcab[c] = logAdd(lcab[c] as number, (alpha[row + s] as number) + (beta[row + s] as number));
    }
    for (let c = 0; c < C; c++) {
      const l = at(t, c);
      grad[t * C + c] = Math.exp(l) - Math.exp((lcab[c] as number) + nll - l);
    }
  }
  return { nll };
}

function checkInt(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`must be an integer in ${min}..${max}, got ${String(value)}`, { path: name });
  }
  return value;
}

/**
 * CTC loss of a batch.
 * @param logProbs `[batch, time, classes]` log-probabilities (log-softmax over classes), float32.
 *   Batch-major, unlike PyTorch's `[time, batch, classes]`.
 * @param targets one label sequence per sample (class indices in 0..classes-1, never `blank`); may be empty.
 * @param inputLengths frames of each sample that count (<= time); frames past it get no loss and no gradient.
 * @returns a scalar (`mean`, `sum`) or `[batch]` (`none`); differentiable with respect to `logProbs`.
 * @throws ConfigError for bad options or lengths; InvalidInputError (naming the sample) for a label out of
 *   range or equal to the blank.
 */
export function ctcLoss(logProbs: tf.Tensor3D, targets: readonly CtcTarget[], inputLengths: ArrayLike<number>, options: CtcLossOptions = {}): tf.Tensor {
  if (!(logProbs instanceof tf.Tensor) || logProbs.rank !== 3) throw new ConfigError('must be a [batch, time, classes] tensor', { path: 'logProbs' });
  const [B, maxT, C] = logProbs.shape;
  const blank = checkInt(options.blank ?? 0, 'blank', 0, C - 1);
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') throw new ConfigError(`must be "mean", "sum" or "none", got ${JSON.stringify(reduction)}`, { path: 'reduction' });
  const zeroInfinity = options.zeroInfinity ?? false;
  if (typeof zeroInfinity !== 'boolean') throw new ConfigError(`must be true or false, got ${JSON.stringify(zeroInfinity)}`, { path: 'zeroInfinity' });
  if (!Array.isArray(targets) || targets.length !== B) throw new ConfigError(`must hold one label sequence per sample (${B}), got ${Array.isArray(targets) ? targets.length : typeof targets}`, { path: 'targets' });
  if (inputLengths === null || typeof inputLengths !== 'object' || inputLengths.length !== B) throw new ConfigError(`must hold one length per sample (${B})`, { path: 'inputLengths' });
  const lengths: number[] = [];
  for (let b = 0; b < B; b++) lengths.push(checkInt(inputLengths[b], `inputLengths[${b}]`, 0, maxT));
  targets.forEach((t, b) => {
    for (let i = 0; i < t.length; i++) {
      const v = t[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= C || v === blank) {
        throw new InvalidInputError(`label ${i} is ${String(v)}; labels must be integers in 0..${C - 1} other than the blank (${blank})`, { sample: b, field: 'targets' });
      }
    }
  });

  const forward = (lp: tf.Tensor3D, save: tf.GradSaveFunc): { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor } => {
    save([]);
    const data = lp.dataSync() as Float32Array;
    const grad = new Float64Array(B * maxT * C);
    const nll = new Float64Array(B);
    for (let b = 0; b < B; b++) {
      const off = b * maxT * C;
      const g = grad.subarray(off, off + maxT * C);
      const r = ctcSample(data, off, C, lengths[b] as number, targets[b] as CtcTarget, blank, g);
      nll[b] = r.nll;
      if (!Number.isFinite(r.nll)) {
        g.fill(zeroInfinity ? 0 : Number.NaN, 0, (lengths[b] as number) * C);
        if (zeroInfinity) nll[b] = 0;
      }
    }
    // Each sample's weight in the reduced loss (the gradient's scale).
    const weight = new Float64Array(B);
    for (let b = 0; b < B; b++) weight[b] = reduction === 'mean' ? 1 / (B * Math.max(1, targets[b]?.length ?? 0)) : 1;
    let value: tf.Tensor;
    if (reduction === 'none') value = tf.tensor1d(Float32Array.from(nll));
    else {
      let total = 0;
      for (let b = 0; b < B; b++) total += (nll[b] as number) * (weight[b] as number);
      value = tf.scalar(total);
    }
    const gradFunc = (dy: tf.Tensor): tf.Tensor => {
      const dyData = dy.dataSync();
      const out = new Float32Array(B * maxT * C);
      for (let b = 0; b < B; b++) {
        const scale = (weight[b] as number) * (reduction === 'none' ? (dyData[b] as number) : (dyData[0] as number));
        const off = b * maxT * C;
        for (let i = 0; i < maxT * C; i++) out[off + i] = (grad[off + i] as number) * scale;
      }
      return tf.tensor3d(out, [B, maxT, C]); // [B, T, C]
    };
    return { value, gradFunc };
  };
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0])(logProbs);
}
