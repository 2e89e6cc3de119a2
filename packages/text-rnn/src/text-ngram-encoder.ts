/**
 * `text/ngram`: a fastText-style bag of hashed n-grams. Each token of a text contributes features: the word
 * itself (from a vocabulary fitted on the training set; a word outside it has no word feature), the word
 * n-grams that start at it (n = 2..`wordNgrams`, hashed) and its character n-grams (hashed, the token wrapped
 * in `<` `>`). Every feature is a row of one embedding table (`[vocabulary + buckets, dim]`); a token's
 * vector is the mean of its features, and the pooled text vector is the mean of all the text's features.
 * No recurrence, so it trains in seconds, and misspelt or unseen words still share character n-grams with
 * the words they resemble. CJK text goes through the same tokenizers as `text/rnn` (the default `cjk`
 * tokenizer cuts Han/Kana/Hangul into characters, or words with `cjkSplit: 'word'`), so word bigrams there
 * are character bigrams or word pairs.
 *
 * Output: `pooled` (default) is one step per text, `[B, 1, dim]`, mask 1 when the text has tokens; `tokens`
 * is one step per token, `[B, T, dim]`, mask of the true lengths. Empty texts have an all-zero mask row and
 * zero features.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, ModelFormatError, StateError, dropout, dropoutMask, parseOptions, seededVariable } from '@mmfuse/core';
import { onnxLengthMask } from '@mmfuse/core/base';
import type { BuildOptions, EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, OnnxValue, PrepareContext, RawInputSpec, Rng, TensorMap, WeightDescription } from '@mmfuse/core';
import type { ExpectTrue, OptionsMatch, z } from '@mmfuse/core/base';
import { collateNgrams } from './collate-ngrams.js';
import { createTokenizer } from './create-tokenizer.js';
import type { TokenizerConfig } from './create-tokenizer.js';
import { TEXT_MAX_BYTES, textNgramOptionsSchema } from './options.js';
import { fitVocabulary, tokenizeInput } from './prepared-text.js';
import type { PreparedText } from './prepared-text.js';
import type { Tokenizer } from './tokenizer.js';
import { Vocabulary } from './vocabulary.js';

/** Character n-gram options of `text/ngram` (the buckets are the encoder's shared `buckets`). */
export interface NgramCharOptions {
  /** Shortest n-gram, in code points (the token is wrapped in `<` `>`). Default 2. */
  minN?: number;
  /** Longest n-gram, in code points. Default 5. */
  maxN?: number;
  /** Most n-grams kept per token, the shortest n first, left to right. Default 32. */
  maxPerToken?: number;
}

/** What the output is: one vector per text, or one per token. */
export type NgramOutput = 'pooled' | 'tokens';

export interface TextNgramEncoderConfig {
  /**
   * Tokenizer: `{ type: 'cjk', lowercase: true, minFrequency: 1, maxVocabSize: 50000, maxLength: 64 }` by
   * default (`cjk` is the word tokenizer that also cuts Chinese, Japanese and Korean; `cjkSplit: 'word'` uses
   * `Intl.Segmenter`). `minFrequency` and `maxVocabSize` size the word vocabulary.
   */
  tokenizer?: TokenizerConfig;
  /** Embedding size, the output width. Default 128. */
  dim?: number;
  /** Longest word n-gram used as a feature (1: single words only). Default 2. */
  wordNgrams?: number;
  /** Hashed character n-grams per token, or `false`. Default `{ minN: 2, maxN: 5, maxPerToken: 32 }`. */
  charNgrams?: NgramCharOptions | false;
  /** Hash buckets (rows of the table after the words), shared by word n-grams and character n-grams. Default 20000. */
  buckets?: number;
  /** `pooled` (one vector per text, the mean of all its features) or `tokens` (one vector per token). Default `pooled`. */
  output?: NgramOutput;
  /**
   * While training, drop each feature (a word, a word n-gram, a character n-gram) with this probability
   * before averaging, seeded from `rng`: the model learns not to lean on any one feature, and a dropped word
   * with kept character n-grams looks like a misspelling. Default 0.2.
   */
  featureDropout?: number;
  /**
   * Learn one scalar s per feature row and average with weights exp(s) (clipped to e^±8) instead of
   * equally: a learned IDF, so frequent uninformative features (stop words, common n-grams) can fade.
   * Starts at s = 0, the plain mean. Adds a `[rows, 1]` weight. Default false.
   */
  featureWeights?: boolean;
  /** Dropout on the output vectors while training. Default 0. */
  dropout?: number;
  /** Largest text accepted, in bytes of UTF-8 (longer texts are refused with LimitExceededError). Default 1048576 (1 MiB). */
  maxBytes?: number;
}

type ResolvedTokenizer = TokenizerConfig & Required<Pick<TokenizerConfig, 'type' | 'lowercase' | 'minFrequency' | 'maxVocabSize' | 'maxLength'>>;
export type ResolvedTextNgramConfig = Required<Omit<TextNgramEncoderConfig, 'tokenizer' | 'charNgrams'>> & {
  tokenizer: ResolvedTokenizer;
  charNgrams: Required<NgramCharOptions> | false;
};

function resolveConfig(config: TextNgramEncoderConfig): ResolvedTextNgramConfig {
  const o = parseOptions(textNgramOptionsSchema, config);
  const tok = o.tokenizer ?? {};
  const tokenizer: ResolvedTokenizer = {
    ...tok,
    type: tok.type ?? 'cjk',
    lowercase: tok.lowercase ?? true,
    minFrequency: tok.minFrequency ?? 1,
    maxVocabSize: tok.maxVocabSize ?? 50000,
    maxLength: tok.maxLength ?? 64,
  };
  if (tokenizer.type === 'subword' && tokenizer.path === undefined) {
    throw new ConfigError('a subword tokenizer needs `path`, the folder of its tokenizer.json', { path: 'tokenizer.path' });
  }
  const c = o.charNgrams ?? {};
  const charNgrams = c === false ? false : { minN: c.minN ?? 2, maxN: c.maxN ?? 5, maxPerToken: c.maxPerToken ?? 32 };
  if (charNgrams !== false && charNgrams.maxN < charNgrams.minN) {
    throw new ConfigError(`must be at least minN (${charNgrams.minN}), got ${charNgrams.maxN}`, { path: 'charNgrams.maxN' });
  }
  return {
    tokenizer,
    dim: o.dim ?? 128,
    wordNgrams: o.wordNgrams ?? 2,
    charNgrams,
    buckets: o.buckets ?? 20000,
    output: o.output ?? 'pooled',
    featureDropout: o.featureDropout ?? 0.2,
    featureWeights: o.featureWeights ?? false,
    dropout: o.dropout ?? 0,
    maxBytes: o.maxBytes ?? TEXT_MAX_BYTES,
  };
}

export class TextNgramEncoder implements ModalityEncoder<string, PreparedText> {
  static readonly kind = 'text/ngram';
  readonly kind = TextNgramEncoder.kind;
  readonly modality = 'text';
  /** A string of up to `maxBytes` bytes of UTF-8. */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  readonly config: ResolvedTextNgramConfig;
  private tokenizerPromise: Promise<Tokenizer> | undefined;
  private vocabulary: Vocabulary | undefined;
  private table: tf.Variable | undefined; // [vocabulary + buckets, dim]
  private logWeights: tf.Variable | undefined; // [vocabulary + buckets, 1], with featureWeights
  /** Hashed character n-gram rows (1..buckets) per token. */
  private readonly charCache = new Map<string, number[]>();

  constructor(config: TextNgramEncoderConfig = {}) {
    this.config = resolveConfig(config);
    this.input = { kind: 'text', maxBytes: this.config.maxBytes };
    this.outputDim = this.config.dim;
  }

  /** The tokenizer (loaded on first use; a subword tokenizer reads its files). */
  tokenizer(): Promise<Tokenizer> {
    this.tokenizerPromise ??= createTokenizer(this.config.tokenizer);
    return this.tokenizerPromise;
  }

  /** The fitted word vocabulary, or undefined before `fit`/`setState`. */
  get fittedVocabulary(): Vocabulary | undefined {
    return this.vocabulary;
  }

  async prepare(raw: string, ctx: PrepareContext): Promise<PreparedText> {
    return tokenizeInput(raw, ctx, this.input, () => this.tokenizer());
  }

  /** Fit the word vocabulary on the training set's prepared texts. */
  fit(values: readonly PreparedText[]): void {
    if (this.table !== undefined) throw new StateError('text/ngram: fit() must come before build(); the table size depends on the vocabulary');
    this.vocabulary = fitVocabulary(values, this.config.tokenizer);
  }

  build(rng: Rng, options: BuildOptions = {}): void {
    if (this.table !== undefined) return;
    if (this.vocabulary === undefined) throw new StateError('text/ngram: call fit() (or setState()) before build(); the table size depends on the vocabulary');
    const seed = rng.fork('text/ngram').nextSeed();
    const rows = this.vocabulary.size + this.config.buckets;
    this.table = seededVariable([rows, this.config.dim], { normal: 0.1 }, seed, options);
    if (this.config.featureWeights) this.logWeights = tf.variable(tf.zeros([rows, 1]), true);
  }

  /**
   * The batch's features as one flat list (no padding): `rows [N] int32`, the table row of each feature, and
   * `slots [N] int32`, the output step it belongs to (`pooled`: the text b; `tokens`: b × T + t), plus
   * `lengths [B] int32` (tokens per text). T = the longest text (at least 1). A batch without any feature
   * gets one placeholder (row 0, slot 0) that `featureMask [N] float32` (1 = a real feature) zeroes. `order [B]
   * int32` is each text's place in this batch (0..B-1): `encode` does not read it; the ONNX graph does, to
   * put the texts back on their rows when a runtime spreads the batch-major tensors over a larger batch.
   */
  collate(values: readonly PreparedText[]): TensorMap {
    if (this.vocabulary === undefined) throw new StateError('text/ngram: call fit() (or setState()) before collate()');
    const c = collateNgrams(values, this.vocabulary, this.config, this.charCache);
    return {
      rows: tf.tensor1d(c.rows, 'int32'),
      slots: tf.tensor1d(c.slots, 'int32'),
      featureMask: tf.tensor1d(c.featureMask, 'float32'),
      lengths: tf.tensor1d(c.lengths, 'int32'),
      order: tf.tensor1d(c.order, 'int32'),
    };
  }

  /**
   * The inference-mode `encode` as ONNX. Inputs: `rows`, `slots`, `featureMask` [features] and `lengths`,
   * `order` [batch] from `collate`. The segment sums are a product with the one-hot matrix slots × steps
   * (no scatter op, so every ONNX runtime and opset runs it); rows of the batch the collated texts do not
   * fill are then gathered into place through `order` (a runtime fills absent rows with zeros, and the
   * fusion masks them out by the input's presence). The one-hot matrix is [batch × steps, features]: small for
   * `pooled` (one step per text); with `tokens` it grows with the square of the text length, so keep ONNX batches
   * of long texts small there.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    if (this.table === undefined) throw new StateError('text/ngram: call build() before exportOnnx()');
    const rows = g.input('rows', 'int32', ['features']);
    const slots = g.input('slots', 'int32', ['features']);
    const present = g.input('featureMask', 'float32', ['features']);
    const lengths = g.input('lengths', 'int32', [g.batch]);
    const order = g.input('order', 'int32', [g.batch]);
    const dim = this.config.dim;
    const pooled = this.config.output === 'pooled';
    const batch = g.op('Shape', [lengths]); // [1] int64
    // steps: 1 (pooled) or the longest text, at least 1
    const steps = pooled
      ? g.ints([1])
      : g.op('Max', [g.op('Unsqueeze', [g.op('ReduceMax', [g.op('Cast', [lengths], { to: 7 })], { keepdims: 0 }), g.ints([0])]), g.ints([1])]); // [1] int64
    const segments = g.op('Squeeze', [g.op('Mul', [batch, steps]), g.ints([0])]); // scalar: B × T
    const onehot = g.op('Cast', [g.op('Equal', [
      g.op('Unsqueeze', [g.op('Range', [g.ints(0, []), segments, g.ints(1, [])]), g.ints([1])]), // [B×T, 1]
      g.op('Unsqueeze', [g.op('Cast', [slots], { to: 7 }), g.ints([0])]), // [1, N]
    ])], { to: 1 }); // [B×T, N]
    let w: OnnxValue = g.op('Unsqueeze', [present, g.ints([1])]); // [N, 1]
    if (this.logWeights !== undefined) w = g.op('Mul', [w, g.op('Exp', [g.op('Clip', [g.gather(this.logWeights, rows), g.floats(-8, []), g.floats(8, [])])])]);
    const sum = g.op('MatMul', [onehot, g.op('Mul', [g.gather(this.table, rows), w])]); // [B×T, dim]
    const count = g.op('MatMul', [onehot, w]); // [B×T, 1]
    const shape = g.op('Concat', [batch, steps, g.ints([dim])], { axis: 0 });
    const collated = g.op('Reshape', [g.op('Div', [sum, g.op('Max', [count, g.floats(1, [])])]), shape]); // [B, T, dim], texts in collate order
    const features = g.op('Gather', [collated, order], { axis: 0 });
    let mask: OnnxValue;
    if (pooled) {
      const has = g.op('Cast', [g.op('Greater', [g.op('MatMul', [onehot, g.op('Unsqueeze', [present, g.ints([1])])]), g.floats(0, [])])], { to: 1 }); // [B, 1]
      mask = g.op('Gather', [has, order], { axis: 0 });
    } else {
      mask = onnxLengthMask(g, lengths, steps);
    }
    return { features, mask, ...(pooled ? { maxSteps: 1 } : { maxSteps: this.config.tokenizer.maxLength }) };
  }

  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput {
    if (this.table === undefined) throw new StateError('text/ngram: call build() before encode()');
    const { rows, lengths } = batch;
    const slots = batch.slots as tf.Tensor1D | undefined;
    let present = batch.featureMask;
    if (rows === undefined || slots === undefined || present === undefined || lengths === undefined || rows.rank !== 1 || rows.dtype !== 'int32' || slots.shape[0] !== rows.shape[0] || present.shape[0] !== rows.shape[0] || lengths.rank !== 1) {
      throw new ConfigError('text/ngram: encode expects { rows [N], slots [N], featureMask [N], lengths [B] } from collate()');
    }
    const training = options.training;
    if (training && (this.config.featureDropout > 0 || this.config.dropout > 0) && options.rng === undefined) {
      throw new StateError('text/ngram: encode while training needs options.rng (a seeded Rng) for dropout, so runs are reproducible');
    }
    const rng = options.rng?.fork('text/ngram.dropout');
    const n = rows.shape[0] as number;
    if (training && this.config.featureDropout > 0 && rng !== undefined) {
      present = present.mul(tf.tensor1d(dropoutMask(n, this.config.featureDropout, rng.nextSeed())).greater(0).toFloat());
    }
    const b = lengths.shape[0] as number;
    const dim = this.config.dim;
    const pooled = this.config.output === 'pooled';
    const steps = pooled ? 1 : Math.max(1, ...(lengths.dataSync() as Int32Array));
    let w = present.expandDims(1); // [N, 1]
    if (this.logWeights !== undefined) w = w.mul(tf.gather(this.logWeights, rows).clipByValue(-8, 8).exp()); // [N, 1]
    const x = tf.gather(this.table, rows).mul(w); // [N, dim]
    const sum = tf.unsortedSegmentSum(x, slots, b * steps); // [B * T, dim]
    const count = tf.unsortedSegmentSum(w, slots, b * steps); // [B * T, 1]
    let features = sum.div(count.maximum(1)).reshape([b, steps, dim]) as tf.Tensor3D; // [B, T, dim]
    // pooled: a real step when the text has any feature (an empty text, or one of only unknown words too
    // short for character n-grams, has none); tokens: the true lengths.
    const mask = (pooled
      ? tf.unsortedSegmentSum(batch.featureMask as tf.Tensor1D, slots, b).greater(0).toFloat().reshape([b, 1])
      : tf.range(0, steps, 1, 'int32').expandDims(0).less(lengths.expandDims(1)).toFloat()) as tf.Tensor2D; // [B, T]
    features = dropout(features, this.config.dropout, training, rng);
    return { features, mask };
  }

  get trainableWeights(): tf.Variable[] {
    if (this.table === undefined) return [];
    return this.logWeights === undefined ? [this.table] : [this.table, this.logWeights];
  }

  get weights(): tf.Variable[] {
    return this.trainableWeights;
  }

  /** The table gets one int8 scale per row (word / hashed n-gram); the learned feature weights stay float32. */
  describeWeights(): WeightDescription[] {
    if (this.table === undefined) return [];
    return [{ name: 'table', outputAxis: 0 }, ...(this.logWeights !== undefined ? [{ name: 'featureWeights', outputAxis: null }] : [])];
  }

  getConfig(): JsonObject {
    return JSON.parse(JSON.stringify(this.config)) as JsonObject;
  }

  getState(): JsonObject {
    return this.vocabulary === undefined ? {} : { vocabulary: this.vocabulary.toJSON() };
  }

  setState(state: JsonObject): void {
    if (state.vocabulary === undefined) throw new ModelFormatError('text/ngram state has no "vocabulary"; it was saved before fit()');
    const vocab = Vocabulary.fromJSON(state.vocabulary as JsonObject);
    if (this.table !== undefined && this.table.shape[0] !== vocab.size + this.config.buckets) {
      throw new ModelFormatError(`text/ngram state has ${vocab.size} words but the built table has ${this.table.shape[0] as number - this.config.buckets}`);
    }
    this.vocabulary = vocab;
  }

  dispose(): void {
    this.table?.dispose();
    this.table = undefined;
    this.logWeights?.dispose();
    this.logWeights = undefined;
  }
}

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<TextNgramEncoderConfig, z.input<typeof textNgramOptionsSchema>>>;
