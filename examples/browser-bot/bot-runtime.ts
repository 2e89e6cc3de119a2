/**
 * The bot's model in a browser: the graph exported by `mmfuse export --format onnx`, run by onnxruntime-web
 * (wasm backend), with mmfuse's own preparation code from the side-effect-free entries (tokenizers and
 * text batches from `@mmfuse/text-rnn/tokenizers`, WAV decoding and features from `@mmfuse/audio/dsp`, graph
 * feeds from `@mmfuse/fusion/feeds`), so an answer equals `FusionModel.predict`'s for the same input.
 * Encoders handled: `text/rnn`, `text/ngram`, `text/use`, `audio/cnn` and `audio/phonetic`; a category output.
 * `text/use` runs the Universal Sentence Encoder lite in the page with TensorFlow.js (its CPU backend, the
 * model files served beside the page under `use/`) through the forward pass the encoder's `prepare` runs in
 * Node (`@mmfuse/text-rnn/use-model`).
 */
import * as tf from '@tensorflow/tfjs';
import { audioFeatureFrames, decodeWav, padFeatureBatch } from '@mmfuse/audio/dsp';
import type { AudioFeatureOptions } from '@mmfuse/audio/dsp';
import { buildFeeds, scopeScore, softmaxRow } from '@mmfuse/fusion/feeds';
import type { CollatedField, OnnxInputMetadata, OnnxModelMetadata, ScopeReference } from '@mmfuse/fusion/feeds';
import { SentencePieceUnigram, USE_DIM, USE_RESERVED_PIECES, Vocabulary, collateNgrams, collateTexts, createTokenizer, useTokenIds } from '@mmfuse/text-rnn/tokenizers';
import { UseForward, useOutputDim } from '@mmfuse/text-rnn/use-model';
import type { UseDepth } from '@mmfuse/text-rnn/use-model';
import type { NgramFeatureOptions, Tokenizer, TokenizerConfig } from '@mmfuse/text-rnn/tokenizers';

/** The part of onnxruntime-web's API used here. */
export interface OrtWeb {
  Tensor: new (type: string, data: unknown, dims: readonly number[]) => unknown;
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown }>> }> };
}

/** An answer, as `FusionModel.predict` gives it. */
export interface BotPrediction {
  label: string;
  probabilities: Record<string, number>;
  modalitiesUsed: string[];
  contributions: Record<string, number>;
  /**
   * When the model was saved with an out-of-scope threshold or labels: true when the top probability (or
   * `scopeScore`) is below it, or the label is an out-of-scope label (hand over).
   */
  outOfScope?: boolean;
  /** With an `energy+nearest` out-of-scope score: how typical the request is of the in-scope data, in [0, 1]. */
  scopeScore?: number;
}

/** One input's preparation: a raw value to a prepared value, prepared values to collated tensors. */
interface Preparer {
  prepare(raw: unknown): Promise<unknown>;
  collate(values: unknown[]): CollatedField['tensors'];
}

/**
 * A text input's preparer: the tokenizer of its config, the vocabulary of its saved state, and `collate`
 * over the tokenized texts (with a cache of character n-gram ids per token).
 */
function textInputPreparer<C extends { tokenizer: TokenizerConfig }>(input: OnnxInputMetadata, collate: (texts: { tokens: string[] }[], vocab: Vocabulary, config: C, cache: Map<string, number[]>) => CollatedField['tensors']): Preparer {
  const config = input.config as unknown as C;
  const vocab = Vocabulary.fromJSON(input.state.vocabulary as never);
  let tokenizer: Promise<Tokenizer> | undefined;
  const cache = new Map<string, number[]>();
  return {
    async prepare(raw) {
      if (typeof raw !== 'string') throw new Error(`${input.field}: expected text`);
      tokenizer ??= createTokenizer(config.tokenizer);
      return (await tokenizer).tokenize(raw);
    },
    collate: (values) => collate(values as { tokens: string[] }[], vocab, config, cache),
  };
}

type RnnTextConfig = { tokenizer: TokenizerConfig; addCls: boolean; charNgrams: false | { minN: number; maxN: number; buckets: number; maxPerToken: number } };

/** `text/rnn`: token ids and lengths (+ character n-gram ids per token). */
function textPreparer(input: OnnxInputMetadata): Preparer {
  return textInputPreparer<RnnTextConfig>(input, (texts, vocab, config, cache) => {
    const c = collateTexts(texts, vocab, { addCls: config.addCls, charNgrams: config.charNgrams, ngramCache: cache });
    const b = texts.length;
    const out: CollatedField['tensors'] = { ids: { data: c.ids, dims: [b, c.steps] }, lengths: { data: c.lengths, dims: [b] } };
    if (c.ngrams !== undefined && c.ngramIndex !== undefined) {
      return { ...out, ngrams: { data: c.ngrams.data, dims: [c.ngrams.rows, c.ngrams.perToken] }, ngramIndex: { data: c.ngramIndex, dims: [b, c.steps] } };
    }
    return out;
  });
}

/** `text/ngram`: every feature's table row and output step, as the encoder's `collate` computes them. */
function ngramPreparer(input: OnnxInputMetadata): Preparer {
  return textInputPreparer<NgramFeatureOptions & { tokenizer: TokenizerConfig }>(input, (texts, vocab, config, cache) => {
    const c = collateNgrams(texts, vocab, config, cache);
    const n = c.rows.length;
    const b = texts.length;
    return { rows: { data: c.rows, dims: [n] }, slots: { data: c.slots, dims: [n] }, featureMask: { data: c.featureMask, dims: [n] }, lengths: { data: c.lengths, dims: [b] }, order: { data: c.order, dims: [b] } };
  });
}

function audioPreparer(input: OnnxInputMetadata): Preparer {
  const phonetic = input.kind === 'audio/phonetic';
  const config = input.config as unknown as AudioFeatureOptions & { maxDurationSeconds: number; nMfcc?: number };
  const options: AudioFeatureOptions = phonetic ? { ...config, normalization: 'utterance', trimSilence: false } : config;
  const bins = config.features === 'mfcc' ? (config.nMfcc as number) : config.nMels;
  const stats = !phonetic && config.normalization === 'global' ? (input.state as { mean: number[]; std: number[] }) : undefined;
  return {
    async prepare(raw) {
      if (!(raw instanceof Uint8Array)) throw new Error(`${input.field}: expected WAV bytes`);
      const samples = decodeWav(raw, { sampleRateHz: config.sampleRateHz, maxDurationSeconds: config.maxDurationSeconds }).channels[0] as Float32Array;
      return audioFeatureFrames(samples, options, { field: input.field });
    },
    collate(values) {
      const p = padFeatureBatch(values as { features: Float32Array; frames: number }[], bins, stats);
      const b = values.length;
      return { features: { data: p.data, dims: phonetic ? [b, p.frames, bins] : [b, p.frames, bins, 1] }, lengths: { data: p.lengths, dims: [b] } };
    },
  };
}

/** Where the page finds the files of a frozen model (`use/` beside the page). */
export interface BrowserBotOptions {
  /** Base URL of the page's files. Default: the page's own folder. */
  baseUrl?: string;
}

/**
 * `text/use`: the sentence embedding computed in the page: ids as in Node, and the same forward pass as Node's
 * encoder (`@mmfuse/text-rnn/use-model`, on the graph's weights), on TensorFlow.js's CPU backend.
 */
function usePreparer(input: OnnxInputMetadata, options: BrowserBotOptions): Preparer {
  const config = input.config as { maxTokens: number; scale: number; depth?: UseDepth };
  const depth = config.depth ?? 4;
  const dim = useOutputDim(depth);
  const base = options.baseUrl ?? './';
  let loaded: Promise<{ model: UseForward; tokenizer: SentencePieceUnigram }> | undefined;
  const load = (): Promise<{ model: UseForward; tokenizer: SentencePieceUnigram }> => (loaded ??= (async () => {
    // The same float32 arithmetic as Node's wasm engine (WebGL could compute in half precision).
    await tf.setBackend('cpu');
    const vocab = (await (await fetch(`${base}use/vocab.json`)).json()) as [string, number | null][];
    const graph = await tf.loadGraphModel(`${base}use/model.json`);
    try {
      return { model: await UseForward.fromGraphWeights(graph.weights), tokenizer: new SentencePieceUnigram(vocab, { reserved: USE_RESERVED_PIECES, unknownId: 0 }) };
    } finally {
      graph.dispose();
    }
  })());
  return {
    async prepare(raw) {
      if (typeof raw !== 'string') throw new Error(`${input.field}: expected text`);
      const { model, tokenizer } = await load();
      const out = model.embed([useTokenIds(tokenizer, raw, config.maxTokens).ids], depth);
      try {
        return ((await out.data()) as Float32Array).map((x) => x * config.scale);
      } finally {
        out.dispose();
      }
    },
    collate(values) {
      const b = values.length;
      const data = new Float32Array(b * dim);
      values.forEach((v, i) => data.set(v as Float32Array, i * dim));
      return { features: { data, dims: [b, 1, dim] }, lengths: { data: new Int32Array(b).fill(1), dims: [b] } };
    },
  };
}

const PREPARERS: Record<string, (input: OnnxInputMetadata, options: BrowserBotOptions) => Preparer> = {
  'text/rnn': textPreparer,
  'text/ngram': ngramPreparer,
  'text/use': usePreparer,
  'audio/cnn': audioPreparer,
  'audio/phonetic': audioPreparer,
};

export class BrowserBot {
  /** The model's inputs, by name (contributions are keyed by them). */
  readonly fields: string[];
  /** The request field each input reads (two inputs may read one field). */
  readonly sources: string[];
  readonly labels: string[];
  /** The model's calibration (temperature scaling, out-of-scope threshold), as `FusionModel.predict` applies it. */
  private readonly temperature: number;
  private readonly threshold: number | null;
  /** Labels whose answer is a hand-over (the model's out-of-scope labels). */
  private readonly outOfScopeLabels: Set<string>;
  /** An `energy+nearest` out-of-scope score (the threshold applies to it; the graph outputs the nearest similarity). */
  private readonly scope: ScopeReference | undefined;
  private readonly preparers: Preparer[];

  private constructor(readonly metadata: OnnxModelMetadata, private readonly ort: OrtWeb, private readonly session: Awaited<ReturnType<OrtWeb['InferenceSession']['create']>>, options: BrowserBotOptions) {
    if (metadata.config.output.type !== 'category') throw new Error(`this page answers category models, not ${metadata.config.output.type}`);
    this.fields = metadata.inputs.map((i) => i.field);
    this.sources = metadata.inputs.map((i) => (metadata.config.inputs[i.field] as { field?: string } | undefined)?.field ?? i.field);
    this.labels = [...metadata.output.labels];
    this.temperature = metadata.output.calibration?.temperature ?? 1;
    this.threshold = metadata.output.calibration?.outOfScopeThreshold ?? null;
    this.outOfScopeLabels = new Set(metadata.output.calibration?.outOfScopeLabels ?? []);
    this.scope = metadata.output.calibration?.score;
    if (this.scope !== undefined && metadata.nearest === undefined) throw new Error('the model scores out-of-scope requests by energy+nearest, but its graph has no nearest output');
    this.preparers = metadata.inputs.map((i) => {
      const make = PREPARERS[i.kind];
      if (make === undefined) throw new Error(`input ${i.field}: encoder ${i.kind} has no browser preparation in this page`);
      return make(i, options);
    });
  }

  /** The exported graph's bytes and its metadata (`model.json`). */
  static async load(ort: OrtWeb, model: Uint8Array, metadata: OnnxModelMetadata, options: BrowserBotOptions = {}): Promise<BrowserBot> {
    const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    return new BrowserBot(metadata, ort, session, options);
  }

  /** The request fields of a given modality (e.g. the field the audio input reads), each once. */
  fieldsOf(modality: string): string[] {
    return [...new Set(this.metadata.inputs.flatMap((i, m) => (i.modality === modality ? [this.sources[m] as string] : [])))];
  }

  /** Head outputs of one prepared request, `drop` hiding an input (as `outputRows` on a batch of one). */
  private async logits(values: readonly unknown[], drop?: number): Promise<Float32Array> {
    return (await this.run(values, drop)).logits;
  }

  /** The graph's outputs for one prepared request: logits, and the nearest in-scope similarity when it has that output. */
  private async run(values: readonly unknown[], drop?: number): Promise<{ logits: Float32Array; nearest?: number }> {
    const fields = values.map((v, m): CollatedField | null => (v === undefined || m === drop ? null : { rows: [0], tensors: (this.preparers[m] as Preparer).collate([v]) }));
    const feeds = buildFeeds(this.metadata.inputs, this.metadata.batch, 1, fields);
    const ortFeeds: Record<string, unknown> = {};
    for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new this.ort.Tensor(t.type, t.data, t.dims);
    const out = await this.session.run(ortFeeds);
    const logits = (out[this.metadata.logits.name] as { data: Float32Array }).data;
    const nearest = this.metadata.nearest === undefined ? undefined : (out[this.metadata.nearest.name] as { data: Float32Array }).data[0];
    return nearest === undefined ? { logits } : { logits, nearest };
  }

  /** Answer one request of any subset of the inputs: `{ text: '...', audio: wavBytes }`. */
  async predict(request: Record<string, unknown>): Promise<BotPrediction> {
    const values: unknown[] = [];
    for (let m = 0; m < this.fields.length; m++) {
      const raw = request[this.sources[m] as string];
      values.push(raw === undefined || raw === null ? undefined : await (this.preparers[m] as Preparer).prepare(raw));
    }
    if (values.every((v) => v === undefined)) throw new Error(`none of the inputs ${this.fields.join(', ')} is present`);
    const calibrated = (logits: Float32Array): number[] => softmaxRow(Array.from(logits, (v) => v / this.temperature));
    const full = await this.run(values);
    const probs = calibrated(full.logits);
    let top = 0;
    probs.forEach((p, i) => { if (p > (probs[top] as number)) top = i; });
    const probabilities: Record<string, number> = {};
    this.labels.forEach((l, i) => { probabilities[l] = probs[i] as number; });
    const contributions: Record<string, number> = {};
    for (let m = 0; m < values.length; m++) {
      if (values[m] === undefined) continue;
      const without = calibrated(await this.logits(values, m));
      contributions[this.fields[m] as string] = (probs[top] as number) - (without[top] as number);
    }
    const answer: BotPrediction = { label: this.labels[top] as string, probabilities, modalitiesUsed: this.fields.filter((_, m) => values[m] !== undefined), contributions };
    // What the threshold applies to: the top probability, or the energy+nearest score (as FusionModel.predict).
    let measured = probs[top] as number;
    if (this.scope !== undefined) {
      measured = scopeScore(this.scope, full.logits, full.nearest as number, this.temperature);
      answer.scopeScore = measured;
    }
    const oosLabel = this.outOfScopeLabels.has(answer.label);
    if (this.threshold !== null || oosLabel) answer.outOfScope = oosLabel || (this.threshold !== null && measured < this.threshold);
    return answer;
  }
}
