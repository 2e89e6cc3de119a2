/**
 * `text/rnn`: tokens → embedding → stacked (bi)LSTM/GRU, emitting the whole sequence `[batch, time, dim]`
 * with the mask of true lengths. Tokenizing happens in `prepare` (plain data, cacheable); the vocabulary is
 * fitted on the training set in `fit` and travels in `getState()`.
 *
 * Empty texts (or texts that clean up to nothing) have zero tokens: `collate` gives them length 0, so
 * `encode` returns all-zero features and an all-zero mask row for them (a batch of only empty texts has one
 * time step). Consumers must handle a sample whose mask row is all zero.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError, ModelFormatError, StateError, dropout, parseOptions, seededVariable } from '@mmfuse/core';
import { onnxAxisLength, onnxLengthMask } from '@mmfuse/core/base';
import type { BuildOptions, EncodeOptions, EncoderOutput, JsonObject, ModalityEncoder, OnnxEncoderGraph, OnnxExportContext, OnnxGraphBuilder, PrepareContext, PruningGroup, RawInputSpec, Rng, TensorMap, WeightDescription } from '@mmfuse/core';
import { collateTexts } from './collate-texts.js';
import { fitVocabulary, tokenizeInput } from './prepared-text.js';
import type { PreparedText } from './prepared-text.js';
import { resolveCharNgramOptions } from './char-ngrams.js';
import type { CharNgramOptions, ResolvedCharNgramOptions } from './char-ngrams.js';
import { createTokenizer } from './create-tokenizer.js';
import type { TokenizerConfig } from './create-tokenizer.js';
import { RecurrentLayer } from './recurrent-layer.js';
import type { RecurrentCell } from './recurrent-layer.js';
import type { Tokenizer } from './tokenizer.js';
import { TEXT_MAX_BYTES, textRnnOptionsSchema } from './options.js';
import type { ExpectTrue, OptionsMatch, z } from '@mmfuse/core/base';
import { Vocabulary } from './vocabulary.js';

/** How the embedding lookup is computed. */
export type EmbeddingLookup = 'auto' | 'gather' | 'onehot';

export interface TextRnnEncoderConfig {
  /**
   * Tokenizer: `{ type: 'word', lowercase: true, minFrequency: 1, maxVocabSize: 20000, maxLength: 64 }` by
   * default; `type` is `word`, `char`, `cjk` or `subword` (with `path`, the folder of a `tokenizer.json`).
   */
  tokenizer?: TokenizerConfig;
  /** Embedding size. Default 64. */
  embeddingDim?: number;
  /** Recurrent state size per direction. Default 64. */
  hiddenSize?: number;
  /** `lstm` or `gru`. Default `lstm`. */
  cell?: RecurrentCell;
  /** Stacked recurrent layers. Default 1. */
  layers?: number;
  /** Run a backward direction too (output size doubles). Default `true`. */
  bidirectional?: boolean;
  /** Dropout rate while training, on the embeddings, between layers and on the outputs. Default 0.1. */
  dropout?: number;
  /** Prepend the reserved CLS token (id 2) to every text, a real step the model can summarize into. Default `false`. */
  addCls?: boolean;
  /**
   * `gather` (fast when the engine has the UnsortedSegmentSum gradient kernel, as mmfuse's wasm engine does),
   * `onehot` (matMul of one-hot rows; works on any engine), or `auto` (gather when the kernel exists).
   * Default `auto`. Both give the same numbers.
   */
  embeddingLookup?: EmbeddingLookup;
  /**
   * Add hashed character n-gram embeddings to each token's embedding (fastText-style: the step's input is the
   * mean of the token vector and its n-gram vectors), so rare and misspelt words get useful vectors. `false`
   * (default) or `{ minN: 3, maxN: 5, buckets: 20000, maxPerToken: 32 }`. The n-gram lookup always uses
   * `gather` (its one-hot form would be far too large).
   */
  charNgrams?: CharNgramOptions | false;
  /** Largest text accepted, in bytes of UTF-8 (longer texts are refused with LimitExceededError). Default 1048576 (1 MiB). */
  maxBytes?: number;
}

export type { PreparedText } from './prepared-text.js';

type ResolvedConfig = Required<Omit<TextRnnEncoderConfig, 'tokenizer' | 'charNgrams'>> & {
  tokenizer: TokenizerConfig & Required<Omit<TokenizerConfig, 'path' | 'maxInputChars' | 'cjkSplit' | 'locale'>>;
  charNgrams: ResolvedCharNgramOptions | false;
};

function resolveConfig(config: TextRnnEncoderConfig): ResolvedConfig {
  const o = parseOptions(textRnnOptionsSchema, config);
  const tok = o.tokenizer ?? {};
  const tokenizer: ResolvedConfig['tokenizer'] = {
    ...tok,
    type: tok.type ?? 'word',
    lowercase: tok.lowercase ?? true,
    minFrequency: tok.minFrequency ?? 1,
    maxVocabSize: tok.maxVocabSize ?? 20000,
    maxLength: tok.maxLength ?? 64,
  };
  if (tokenizer.type === 'subword' && tokenizer.path === undefined) {
    throw new ConfigError('a subword tokenizer needs `path`, the folder of its tokenizer.json', { path: 'tokenizer.path' });
  }
  const ngrams = o.charNgrams ?? false;
  return {
    tokenizer,
    charNgrams: ngrams === false ? false : resolveCharNgramOptions(ngrams),
    embeddingDim: o.embeddingDim ?? 64,
    hiddenSize: o.hiddenSize ?? 64,
    cell: o.cell ?? 'lstm',
    layers: o.layers ?? 1,
    bidirectional: o.bidirectional ?? true,
    dropout: o.dropout ?? 0.1,
    addCls: o.addCls ?? false,
    embeddingLookup: o.embeddingLookup ?? 'auto',
    maxBytes: o.maxBytes ?? TEXT_MAX_BYTES,
  };
}

export class TextRnnEncoder implements ModalityEncoder<string, PreparedText> {
  static readonly kind = 'text/rnn';
  readonly kind = TextRnnEncoder.kind;
  readonly modality = 'text';
  /** A string of up to `maxBytes` bytes of UTF-8. */
  readonly input: RawInputSpec;
  readonly outputDim: number;
  readonly config: ResolvedConfig;
  private tokenizerPromise: Promise<Tokenizer> | undefined;
  private vocabulary: Vocabulary | undefined;
  private embedding: tf.Variable | undefined; // [vocab, E]
  private ngramEmbedding: tf.Variable | undefined; // [buckets + 1, E]
  private readonly ngramCache = new Map<string, number[]>();
  private readonly rnn: RecurrentLayer;

  constructor(config: TextRnnEncoderConfig = {}) {
    this.config = resolveConfig(config);
    this.input = { kind: 'text', maxBytes: this.config.maxBytes };
    this.rnn = new RecurrentLayer({
      cell: this.config.cell,
      inputSize: this.config.embeddingDim,
      hiddenSize: this.config.hiddenSize,
      numLayers: this.config.layers,
      bidirectional: this.config.bidirectional,
      dropout: this.config.dropout,
    });
    this.outputDim = this.rnn.outputSize;
  }

  /** The tokenizer (loaded on first use; a subword tokenizer reads its files). */
  tokenizer(): Promise<Tokenizer> {
    this.tokenizerPromise ??= createTokenizer(this.config.tokenizer);
    return this.tokenizerPromise;
  }

  /** The fitted vocabulary, or undefined before `fit`/`setState`. */
  get fittedVocabulary(): Vocabulary | undefined {
    return this.vocabulary;
  }

  /** The recurrent stack (PyTorch-layout weights by name in `params`). */
  get recurrent(): RecurrentLayer {
    return this.rnn;
  }

  async prepare(raw: string, ctx: PrepareContext): Promise<PreparedText> {
    return tokenizeInput(raw, ctx, this.input, () => this.tokenizer());
  }

  /** Fit the vocabulary on the training set's prepared texts. */
  fit(values: readonly PreparedText[]): void {
    if (this.embedding !== undefined) {
      throw new StateError('text/rnn: fit() must come before build(); the embedding size depends on the vocabulary');
    }
    this.vocabulary = fitVocabulary(values, this.config.tokenizer);
  }

  build(rng: Rng, options: BuildOptions = {}): void {
    if (this.embedding !== undefined) return;
    if (this.vocabulary === undefined) throw new StateError('text/rnn: call fit() (or setState()) before build(); the embedding size depends on the vocabulary');
    const r = rng.fork('text/rnn');
    const { embeddingDim } = this.config;
    // Small normal init keeps the first recurrent pre-activations away from saturation.
    this.embedding = seededVariable([this.vocabulary.size, embeddingDim], { normal: 0.1 }, r.nextSeed(), options);
    const ngrams = this.config.charNgrams;
    if (ngrams !== false) {
      const seed = r.fork('ngrams').nextSeed();
      this.ngramEmbedding = seededVariable([ngrams.buckets + 1, embeddingDim], { normal: 0.1 }, seed, options);
    }
    this.rnn.build(r.fork('recurrent'), options);
  }

  /**
   * `{ ids [B, T] int32 (0 = padding), lengths [B] int32 }` with T = the longest text (at least 1); with
   * `charNgrams`, also the n-grams of the batch's distinct tokens, `ngrams [U, K] int32` (bucket ids, 0 = none;
   * U = distinct tokens + 1, row 0 being "no token"; K = most n-grams of a token), and `ngramIndex [B, T] int32`,
   * each step's row in `ngrams`. Computing n-gram sums per distinct token, not per occurrence, does the same
   * arithmetic on about a third of the rows.
   */
  collate(values: readonly PreparedText[]): TensorMap {
    const vocab = this.vocabulary;
    if (vocab === undefined) throw new StateError('text/rnn: call fit() (or setState()) before collate()');
    const c = collateTexts(values, vocab, { addCls: this.config.addCls, charNgrams: this.config.charNgrams, ngramCache: this.ngramCache });
    const out: TensorMap = { ids: tf.tensor2d(c.ids, [values.length, c.steps], 'int32'), lengths: tf.tensor1d(c.lengths, 'int32') };
    if (c.ngrams !== undefined && c.ngramIndex !== undefined) {
      out.ngrams = tf.tensor2d(c.ngrams.data, [c.ngrams.rows, c.ngrams.perToken], 'int32');
      out.ngramIndex = tf.tensor2d(c.ngramIndex, [values.length, c.steps], 'int32');
    }
    return out;
  }

  private lookup(ids: tf.Tensor2D): tf.Tensor3D {
    const table = this.embedding as tf.Variable;
    const [b, t] = ids.shape;
    const flat = ids.reshape([b * t]); // [B*T]
    const mode = this.config.embeddingLookup;
    const useGather = mode === 'gather' || (mode === 'auto' && tf.getKernel('UnsortedSegmentSum', tf.getBackend()) !== undefined);
    const rows = useGather
      ? tf.gather(table, flat) // [B*T, E]
      : tf.matMul(tf.oneHot(flat, table.shape[0] as number), table); // [B*T, E]
    return rows.reshape([b, t, this.config.embeddingDim]); // [B, T, E]
  }

  /** (token vector + Σ n-gram vectors) / (1 + n-gram count), per step. */
  private addNgrams(x: tf.Tensor3D, ngrams: tf.Tensor2D, index: tf.Tensor2D): tf.Tensor3D {
    const [u, k] = ngrams.shape;
    const [b, t] = index.shape;
    const e = this.config.embeddingDim;
    const present = ngrams.greater(0).toFloat().expandDims(2); // [U, K, 1]
    const rows = tf.gather(this.ngramEmbedding as tf.Variable, ngrams.reshape([u * k])).reshape([u, k, e]); // [U, K, E]
    const perToken = tf.concat([rows.mul(present).sum(1), present.sum(1)], 1); // [U, E + 1]: n-gram sum, count
    const perStep = tf.gather(perToken, index.reshape([b * t])).reshape([b, t, e + 1]); // [B, T, E + 1]
    const [sum, count] = tf.split(perStep, [e, 1], 2) as [tf.Tensor3D, tf.Tensor3D];
    return x.add(sum).div(count.add(1)) as tf.Tensor3D;
  }

  encode(batch: TensorMap, options: EncodeOptions): EncoderOutput {
    if (this.embedding === undefined) throw new StateError('text/rnn: call build() before encode()');
    const ids = batch.ids as tf.Tensor2D | undefined;
    const lengths = batch.lengths as tf.Tensor1D | undefined;
    if (ids === undefined || lengths === undefined || ids.rank !== 2 || lengths.rank !== 1 || lengths.shape[0] !== ids.shape[0]) {
      throw new ConfigError('text/rnn: encode expects { ids [B, T], lengths [B] } from collate()');
    }
    const [, steps] = ids.shape;
    const mask = tf.range(0, steps, 1, 'int32').expandDims(0).less(lengths.expandDims(1)).toFloat() as tf.Tensor2D; // [B, T]
    const train = options.training && this.config.dropout > 0;
    const rng = options.rng?.fork('text/rnn.dropout');
    let x = this.lookup(ids);
    if (this.ngramEmbedding !== undefined) {
      const ngrams = batch.ngrams as tf.Tensor2D | undefined;
      const index = batch.ngramIndex as tf.Tensor2D | undefined;
      if (ngrams === undefined || index === undefined || ngrams.rank !== 2 || index.rank !== 2) {
        throw new ConfigError('text/rnn: charNgrams is on, so encode expects `ngrams` [U, K] and `ngramIndex` [B, T] from collate()');
      }
      x = this.addNgrams(x, ngrams, index);
    }
    if (train && rng === undefined) throw new StateError('text/rnn: encode while training needs options.rng (a seeded Rng) for dropout, so runs are reproducible');
    x = dropout(x, this.config.dropout, train, rng);
    let features = this.rnn.apply(x, mask, { training: options.training, ...(rng !== undefined ? { rng } : {}) }).output; // [B, T, outputDim]
    features = dropout(features, this.config.dropout, train, rng);
    return { features, mask };
  }

  /**
   * The inference-mode `encode` as ONNX: inputs `ids` [batch, time] int32, `lengths` [batch] int32 (and with
   * `charNgrams`, `ngrams` [rows, ngrams] int32 and `ngramIndex` [batch, time] int32), the embedding (and
   * n-gram) lookups, then ONNX LSTM/GRU ops with the lengths as `sequence_lens`.
   */
  exportOnnx(g: OnnxGraphBuilder, _context: OnnxExportContext): OnnxEncoderGraph {
    if (this.embedding === undefined) throw new StateError('text/rnn: call build() before exportOnnx()');
    const ids = g.input('ids', 'int32', [g.batch, 'time']);
    const lengths = g.input('lengths', 'int32', [g.batch]);
    const mask = onnxLengthMask(g, lengths, onnxAxisLength(g, ids, 1)); // [B, T]
    let x = g.gather(this.embedding, ids); // [B, T, E]
    if (this.ngramEmbedding !== undefined) {
      const e = this.config.embeddingDim;
      const ngrams = g.input('ngrams', 'int32', ['ngramRows', 'ngramsPerToken']);
      const index = g.input('ngramIndex', 'int32', [g.batch, 'time']);
      const present = g.op('Unsqueeze', [g.op('Cast', [g.op('Greater', [ngrams, g.constant({ data: Int32Array.of(0), dims: [] })])], { to: 1 }), g.ints([2])]); // [U, K, 1]
      const sum = g.op('ReduceSum', [g.op('Mul', [g.gather(this.ngramEmbedding, ngrams), present]), g.ints([1])], { keepdims: 0 }); // [U, E]
      const count = g.op('ReduceSum', [present, g.ints([1])], { keepdims: 0 }); // [U, 1]
      const perStep = g.op('Gather', [g.op('Concat', [sum, count], { axis: 1 }), index], { axis: 0 }); // [B, T, E + 1]
      const [stepSum, stepCount] = g.ops('Split', [perStep, g.ints([e, 1])], 2, { axis: 2 }) as [typeof x, typeof x];
      x = g.op('Div', [g.op('Add', [x, stepSum]), g.op('Add', [stepCount, g.floats(1, [])])]);
    }
    const features = this.rnn.exportOnnx(g, x, lengths, mask); // [B, T, outputDim]
    return { features, mask, maxSteps: this.config.tokenizer.maxLength + (this.config.addCls ? 1 : 0) };
  }

  get trainableWeights(): tf.Variable[] {
    if (this.embedding === undefined) return [];
    return [this.embedding, ...(this.ngramEmbedding !== undefined ? [this.ngramEmbedding] : []), ...this.rnn.weights];
  }

  get weights(): tf.Variable[] {
    return this.trainableWeights;
  }

  /** Embedding tables [rows, E] get one int8 scale per row (token / n-gram bucket); recurrent matrices per gate row. */
  describeWeights(): WeightDescription[] {
    return [
      { name: 'embedding', outputAxis: 0 },
      ...(this.config.charNgrams !== false ? [{ name: 'ngramEmbedding', outputAxis: 0 }] : []),
      ...this.rnn.describeWeights('rnn.'),
    ];
  }

  /** The recurrent hidden units (one count for every layer and direction: `hiddenSize`). */
  pruningGroups(): PruningGroup[] {
    return this.rnn.pruningGroups(this.config.charNgrams !== false ? 2 : 1, 'rnn.');
  }

  prunedOptions(kept: Readonly<Record<string, number>>): JsonObject {
    const h = kept['rnn.l0.hidden'];
    return h === undefined ? {} : { hiddenSize: h };
  }

  getConfig(): JsonObject {
    return JSON.parse(JSON.stringify(this.config)) as JsonObject;
  }

  getState(): JsonObject {
    return this.vocabulary === undefined ? {} : { vocabulary: this.vocabulary.toJSON() };
  }

  setState(state: JsonObject): void {
    if (state.vocabulary === undefined) {
      throw new ModelFormatError('text/rnn state has no "vocabulary"; it was saved before fit()');
    }
    const vocab = Vocabulary.fromJSON(state.vocabulary as JsonObject);
    if (this.embedding !== undefined && this.embedding.shape[0] !== vocab.size) {
      throw new ModelFormatError(`text/rnn state has ${vocab.size} tokens but the built embedding has ${this.embedding.shape[0]} rows`);
    }
    this.vocabulary = vocab;
  }

  dispose(): void {
    this.embedding?.dispose();
    this.embedding = undefined;
    this.ngramEmbedding?.dispose();
    this.ngramEmbedding = undefined;
    this.rnn.dispose();
  }
}

// The documented interface and the declared schema accept the same options (checked by tsc).
type _SameOptions = ExpectTrue<OptionsMatch<TextRnnEncoderConfig, z.input<typeof textRnnOptionsSchema>>>;
