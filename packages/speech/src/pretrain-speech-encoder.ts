/**
 * `pretrainSpeechEncoder`: train an `audio/phonetic` encoder to recognise phonemes with a CTC loss on a
 * synthesized corpus (`synthesizeCorpus` output: `audio`, `phonemes`, `voice` per line), measure the
 * phoneme error rate on held-out voices, and save the best epoch as a pretrained folder that fusion configs
 * load with `encoder: { kind: 'phonetic', pretrained: DIR, freeze: ... }`.
 *
 * Held-out voices are whole speakers (`engine:voice`, every rate and pitch of them), so the PER measures
 * speakers the encoder never heard. Training clips get a fresh random channel/room (`augmentChain`) every
 * epoch, so the encoder learns the phonemes rather than one synthesizer's clean output.
 *
 * Output folder (new, empty, or an earlier output marked by `.mmfuse-pretrain.json`; nothing else is
 * written, and nothing is deleted but mmfuse's own checkpoint folders inside it): `phonetic-encoder.json` +
 * `weights.bin` (the best held-out epoch), `pretrain-report.json` (every epoch's numbers, the split, the
 * settings) and `checkpoint/` (after every epoch: the weights, AdamW's moments and the run's position,
 * so `resume: true` continues an interrupted run exactly as if it had not stopped).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { CheckpointError, ConfigError, InvalidInputError, createRng, ctcGreedyDecode, ctcLoss, errorRate, hashString, isMmfuseError, readManifest } from '@mmfuse/core';
import type { JsonObject, ManifestSample, Rng, SkippedSample } from '@mmfuse/core';
import { AudioPhoneticEncoder } from '@mmfuse/audio';
import type { AudioPhoneticEncoderConfig, PreparedPhoneticAudio } from '@mmfuse/audio';
import { AdamW, clipByGlobalNorm, learningRateAt } from '@mmfuse/fusion';
import { claimFolder } from './internal/owned-folder.js';
import { PHONEMES, PHONEME_INVENTORY, phonemeIds } from './phonemes.js';
import { parseVoiceId } from './voices.js';

const MARKER = '.mmfuse-pretrain.json';

/** Options of `pretrainSpeechEncoder`. */
export interface PretrainSpeechEncoderOptions {
  /** Manifest with audio paths, phoneme transcripts and voice ids (as `synthesizeCorpus` writes). */
  manifest: string;
  /** Output folder. */
  out: string;
  /** Field names. Defaults `audio`, `phonemes`, `voice`. */
  audioField?: string;
  phonemesField?: string;
  voiceField?: string;
  /** Speakers held out for evaluation (`engine:voice`, e.g. `flite:awb`). Default: `heldOutFraction` of the speakers of each engine, seeded. */
  heldOutSpeakers?: readonly string[];
  /** Fraction of speakers held out when `heldOutSpeakers` is not given. Default 0.2. */
  heldOutFraction?: number;
  /** Encoder architecture; `ctcSymbols` is always the phoneme inventory. Default `{ convChannels: [128, 128], hiddenSize: 128, layers: 2 }`. */
  encoder?: Omit<AudioPhoneticEncoderConfig, 'ctcSymbols' | 'pretrained' | 'freeze'>;
  /** Random channel/room per clip and epoch (`augmentChain` defaults), or off. Default true. */
  augment?: boolean;
  /** Passes over the training clips. Default 10. */
  epochs?: number;
  /** Clips per step. Default 16. */
  batchSize?: number;
  /** Peak learning rate (AdamW, linear warmup, cosine decay to 5%). Default 2e-3. */
  learningRate?: number;
  /** Warmup steps. Default 100 (or a tenth of all steps, if fewer). */
  warmupSteps?: number;
  /** Gradient clipping by global norm. Default 5. */
  clipNorm?: number;
  /** Decoupled weight decay. Default 0.01. */
  weightDecay?: number;
  /** Seed of the split, initialization, order, dropout and augmentation. Default 0. */
  seed?: number;
  /** Use at most this many manifest lines (a quick trial). Default all. */
  limit?: number;
  /**
   * Continue from `out/checkpoint/` when an earlier run with the same settings left one (a different
   * setting is a `CheckpointError`). Default false: a new run (an old checkpoint is replaced after epoch 1).
   */
  resume?: boolean;
  /** Stop after the current epoch (its checkpoint written) when aborted. */
  signal?: AbortSignal;
  /** Called after every epoch. */
  onEpoch?: (epoch: PretrainEpoch) => void;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** One epoch's numbers. */
export interface PretrainEpoch {
  epoch: number;
  /** Mean CTC loss per target phoneme over the epoch's steps. */
  trainLoss: number;
  /** CTC loss on the held-out clips (mean per phoneme). */
  heldOutLoss: number;
  /** Phoneme error rate of greedy decoding on the held-out clips. */
  heldOutPer: number;
  /** Training clips whose target could not fit their frames (loss zeroed). */
  infeasible: number;
  seconds: number;
}

/** Result of `pretrainSpeechEncoder`. */
export interface PretrainResult {
  out: string;
  epochs: PretrainEpoch[];
  /** The saved (best) epoch's held-out PER. */
  heldOutPer: number;
  bestEpoch: number;
  trainClips: number;
  heldOutClips: number;
  heldOutSpeakers: string[];
  /** Manifest lines refused (missing fields, unreadable audio, phonemes outside the inventory). */
  skipped: SkippedSample[];
  parameters: number;
  seconds: number;
  /** Held-out examples: reference and greedy transcript. */
  examples: { reference: string; heard: string; voice: string }[];
  /** Epochs done when this call started (a resumed run), else 0. */
  resumedFrom: number;
  /** True when `signal` stopped the run before its last epoch. */
  interrupted: boolean;
}

const CHECKPOINT = 'checkpoint';

interface CheckpointFile {
  format: 'mmfuse-pretrain-checkpoint';
  /** The settings the run was started with (must match to resume). */
  settings: JsonObject;
  epoch: number;
  step: number;
  best: { per: number | null; epoch: number };
  history: PretrainEpoch[];
  examples: PretrainResult['examples'];
  optimizer: { t: number; sizes: number[] };
}

/** Write `<out>/checkpoint/` through a new folder and renames, so an interruption leaves one complete checkpoint. */
async function writeCheckpoint(out: string, encoder: AudioPhoneticEncoder, optimizer: AdamW, file: Omit<CheckpointFile, 'optimizer'>): Promise<void> {
  const dir = path.join(out, CHECKPOINT);
  const next = `${dir}.next`;
  const old = `${dir}.old`;
  await rm(next, { recursive: true, force: true });
  await mkdir(next, { recursive: true });
  await encoder.save(next);
  const state = await optimizer.getState();
  const parts = [...state.m, ...state.v];
  const buf = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { buf.set(p, off); off += p.length; }
  await writeFile(path.join(next, 'optimizer.bin'), new Uint8Array(buf.buffer));
  const doc: CheckpointFile = { ...file, optimizer: { t: state.t, sizes: state.m.map((m) => m.length) } };
  await writeFile(path.join(next, 'trainer.json'), `${JSON.stringify(doc)}\n`);
  await rm(old, { recursive: true, force: true });
  if (existsSync(dir)) await rename(dir, old);
  await rename(next, dir);
  await rm(old, { recursive: true, force: true });
}

/** The checkpoint of `out`, or undefined when there is none (an interrupted swap is completed first). */
async function readCheckpoint(out: string): Promise<{ file: CheckpointFile; dir: string; moments: Float32Array } | undefined> {
  const dir = path.join(out, CHECKPOINT);
  if (!existsSync(path.join(dir, 'trainer.json'))) {
    // Interrupted between the two renames: the new checkpoint is complete in `.next` (or the old one in `.old`).
    for (const other of [`${dir}.next`, `${dir}.old`]) {
      if (existsSync(path.join(other, 'trainer.json'))) { await rename(other, dir); break; }
    }
  }
  if (!existsSync(path.join(dir, 'trainer.json'))) return undefined;
  try {
    const file = JSON.parse(await readFile(path.join(dir, 'trainer.json'), 'utf8')) as CheckpointFile;
    if (file.format !== 'mmfuse-pretrain-checkpoint') throw new Error(`format ${JSON.stringify(file.format)}`);
    const bytes = await readFile(path.join(dir, 'optimizer.bin'));
    const moments = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(moments.buffer).set(bytes);
    if (moments.length !== 2 * file.optimizer.sizes.reduce((a, b) => a + b, 0)) throw new Error('optimizer.bin does not hold the moments trainer.json lists');
    return { file, dir, moments };
  } catch (err) {
    throw new CheckpointError(`the pretraining checkpoint in ${dir} is unreadable: ${(err as Error).message}`, { file: dir, cause: err });
  }
}

interface Clip { sample: ManifestSample; audio: string; targets: number[]; speaker: string; voice: string }

function positiveInt(v: unknown, name: string, fallback: number): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 1) throw new ConfigError(`must be a positive integer, got ${String(x)}`, { path: name });
  return x;
}

function positiveNumber(v: unknown, name: string, fallback: number): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new ConfigError(`must be a positive number, got ${String(x)}`, { path: name });
  return x;
}

/** Batches of similar length (less padding): shuffle, sort within pools of 20 batches, shuffle the batches. */
function lengthBatches(frames: readonly number[], batchSize: number, rng: Rng): number[][] {
  const order = rng.permutation(frames.length);
  const batches: number[][] = [];
  const pool = batchSize * 20;
  for (let i = 0; i < order.length; i += pool) {
    const group = order.slice(i, i + pool).sort((a, b) => (frames[a] as number) - (frames[b] as number));
    for (let j = 0; j < group.length; j += batchSize) batches.push(group.slice(j, j + batchSize));
  }
  return rng.shuffle(batches);
}

/** Train an `audio/phonetic` encoder on phonemes with CTC; see the module doc. */
export async function pretrainSpeechEncoder(options: PretrainSpeechEncoderOptions): Promise<PretrainResult> {
  const started = Date.now();
  if (options === null || typeof options !== 'object') throw new ConfigError('options { manifest, out, ... } are required', { path: 'options' });
  if (typeof options.manifest !== 'string' || options.manifest === '') throw new ConfigError('must be a manifest path', { path: 'manifest' });
  if (typeof options.out !== 'string' || options.out === '') throw new ConfigError('must be a folder path', { path: 'out' });
  const audioField = options.audioField ?? 'audio';
  const phonemesField = options.phonemesField ?? 'phonemes';
  const voiceField = options.voiceField ?? 'voice';
  const epochs = positiveInt(options.epochs, 'epochs', 10);
  const batchSize = positiveInt(options.batchSize, 'batchSize', 16);
  const lr = positiveNumber(options.learningRate, 'learningRate', 2e-3);
  const clipNorm = positiveNumber(options.clipNorm, 'clipNorm', 5);
  const weightDecay = options.weightDecay ?? 0.01;
  const seed = options.seed ?? 0;
  const limit = options.limit === undefined ? Number.POSITIVE_INFINITY : positiveInt(options.limit, 'limit', 1);
  const augment = options.augment ?? true;
  const log = options.log ?? (() => {});
  const fraction = options.heldOutFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) throw new ConfigError(`must be in (0, 1), got ${String(fraction)}`, { path: 'heldOutFraction' });

  const encoderConfig: AudioPhoneticEncoderConfig = { convChannels: [128, 128], hiddenSize: 128, layers: 2, ...(options.encoder ?? {}), ctcSymbols: [...PHONEMES], augment: augment ? {} : null };
  const manifest = path.resolve(options.manifest);
  const out = path.resolve(options.out);
  await claimFolder(out, MARKER, 'mmfuse-pretrain', 'pretrain-speech');
  const checkpoint = options.resume === true ? await readCheckpoint(out) : undefined;
  const encoder = new AudioPhoneticEncoder(checkpoint === undefined ? encoderConfig : { pretrained: checkpoint.dir, augment: encoderConfig.augment ?? null, ...(encoderConfig.dropout === undefined ? {} : { dropout: encoderConfig.dropout }) });

  // Read the corpus; a bad line is listed and skipped, the others train.
  const skipped: SkippedSample[] = [];
  const clips: Clip[] = [];
  for await (const s of readManifest(manifest, { fields: { [audioField]: 'path', [phonemesField]: 'string' }, required: [audioField, phonemesField], onError: 'skip', onSkip: (x) => skipped.push(x) })) {
    if (clips.length >= limit) break;
    try {
      const phonemes = (s.fields[phonemesField] as string).trim().split(/\s+/).filter((p) => p !== '');
      if (phonemes.length === 0) throw new InvalidInputError('the phoneme transcript is empty', { field: phonemesField });
      const targets = phonemeIds(phonemes);
      const voice = typeof s.fields[voiceField] === 'string' ? (s.fields[voiceField] as string) : '';
      let speaker = '';
      if (voice !== '') {
        const v = parseVoiceId(voice);
        speaker = `${v.engine}:${v.voice}`;
      }
      clips.push({ sample: s, audio: s.fields[audioField] as string, targets, speaker, voice });
    } catch (err) {
      if (!isMmfuseError(err)) throw err;
      skipped.push({ file: manifest, line: s.line, sample: s.id, field: err.field ?? phonemesField, code: err.code, reason: err.reason, message: err.locate({ sample: s.id, file: manifest, line: s.line }).message });
    }
  }
  if (clips.some((c) => c.speaker === '')) throw new ConfigError(`every line needs a "${voiceField}" voice id to hold out speakers (synthesizeCorpus writes it)`, { path: 'voiceField' });

  // Held-out speakers: given, or a seeded fraction of each engine's speakers.
  const speakers = [...new Set(clips.map((c) => c.speaker))].sort();
  let held: Set<string>;
  if (options.heldOutSpeakers !== undefined) {
    held = new Set(options.heldOutSpeakers);
    const unknown = [...held].filter((h) => !speakers.includes(h));
    if (unknown.length > 0) throw new ConfigError(`held-out speaker(s) ${unknown.join(', ')} are not in the corpus (speakers: ${speakers.join(', ')})`, { path: 'heldOutSpeakers' });
  } else {
    held = new Set();
    for (const engine of new Set(speakers.map((s) => s.split(':')[0] as string))) {
      const names = speakers.filter((s) => s.startsWith(`${engine}:`));
      if (names.length < 2) continue;
      const k = Math.max(1, Math.round(names.length * fraction));
      createRng(hashString(engine, seed)).permutation(names.length).slice(0, k).forEach((i) => held.add(names[i] as string));
    }
  }
  const train = clips.filter((c) => !held.has(c.speaker));
  const heldOut = clips.filter((c) => held.has(c.speaker));
  if (train.length === 0 || heldOut.length === 0) throw new ConfigError(`the split leaves ${train.length} training and ${heldOut.length} held-out clips; the corpus needs at least two speakers`, { path: 'heldOutSpeakers' });
  log(`${train.length} training clips, ${heldOut.length} held-out clips (speakers ${[...held].join(', ')}); ${skipped.length} lines skipped`);

  const settings = JSON.parse(JSON.stringify({ manifest, limit: options.limit ?? null, heldOut: [...held].sort(), epochs, batchSize, learningRate: lr, warmupSteps: options.warmupSteps ?? null, clipNorm, weightDecay, seed, augment, encoder: encoderConfig })) as JsonObject;
  if (checkpoint !== undefined && JSON.stringify(checkpoint.file.settings) !== JSON.stringify(settings)) {
    encoder.dispose();
    throw new CheckpointError(`the checkpoint in ${checkpoint.dir} was written with other settings; pass the same options, or resume: false to start over`, { file: checkpoint.dir });
  }
  const root = createRng(seed);
  encoder.build(root.fork('init'));
  const baseDir = path.dirname(manifest);
  const prepareSet = async (set: Clip[], training: boolean, rng: Rng | undefined): Promise<(PreparedPhoneticAudio | undefined)[]> => {
    const res: (PreparedPhoneticAudio | undefined)[] = [];
    for (const c of set) {
      try {
        res.push(await encoder.prepareAudio(c.audio, { sample: c.sample.id, field: audioField, baseDir, allowOutsideBaseDir: true, training, ...(rng === undefined ? {} : { rng }) }));
      } catch (err) {
        if (!isMmfuseError(err)) throw err;
        res.push(undefined);
        if (!training || rng === undefined || !skipped.some((s) => s.sample === c.sample.id)) {
          skipped.push({ file: manifest, line: c.sample.line, sample: c.sample.id, field: audioField, code: err.code, reason: err.reason, message: err.message });
        }
      }
    }
    return res;
  };

  const heldPrepared = await prepareSet(heldOut, false, undefined);
  let trainPrepared = augment ? undefined : await prepareSet(train, false, undefined);
  const stepsPerEpoch = Math.ceil(train.length / batchSize);
  const totalSteps = stepsPerEpoch * epochs;
  const warmupSteps = options.warmupSteps ?? Math.min(100, Math.floor(totalSteps / 10));
  const optimizer = new AdamW(encoder.trainableWeights, { weightDecay });
  const history: PretrainEpoch[] = [];
  let best: { per: number; epoch: number } = { per: Number.POSITIVE_INFINITY, epoch: 0 };
  let examples: PretrainResult['examples'] = [];
  let step = 0;
  let startEpoch = 1;
  if (checkpoint !== undefined) {
    const f = checkpoint.file;
    const m: Float32Array[] = [];
    const v: Float32Array[] = [];
    let off = 0;
    for (const n of f.optimizer.sizes) { m.push(checkpoint.moments.slice(off, off + n)); off += n; }
    for (const n of f.optimizer.sizes) { v.push(checkpoint.moments.slice(off, off + n)); off += n; }
    optimizer.setState({ t: f.optimizer.t, m, v });
    history.push(...f.history);
    best = { per: f.best.per ?? Number.POSITIVE_INFINITY, epoch: f.best.epoch };
    examples = f.examples;
    step = f.step;
    startEpoch = f.epoch + 1;
    log(`resuming after epoch ${f.epoch} (best held-out PER ${f.best.per === null ? '-' : `${(100 * f.best.per).toFixed(1)}%`} at epoch ${f.best.epoch})`);
  }
  let interrupted = false;

  const evaluate = (): { loss: number; per: number; heard: string[][] } => {
    const idx = heldPrepared.map((p, i) => (p === undefined ? -1 : i)).filter((i) => i >= 0);
    const refs: number[][] = [];
    const hyps: number[][] = [];
    let lossSum = 0;
    let phones = 0;
    for (let i = 0; i < idx.length; i += batchSize) {
      const chunk = idx.slice(i, i + batchSize);
      const values = chunk.map((j) => heldPrepared[j] as PreparedPhoneticAudio);
      const targets = chunk.map((j) => (heldOut[j] as Clip).targets);
      const lengths = values.map((v) => encoder.outputFrames(v.frames));
      tf.tidy(() => {
        const batch = encoder.collate(values);
        const o = encoder.encode(batch, { training: false });
        const lp = tf.logSoftmax(o.aux?.ctcLogits as tf.Tensor3D) as tf.Tensor3D;
        const l = ctcLoss(lp, targets, lengths, { reduction: 'none', zeroInfinity: true }).dataSync();
        targets.forEach((t, k) => { lossSum += l[k] as number; phones += t.length; });
        hyps.push(...ctcGreedyDecode(lp, { lengths }));
      });
      refs.push(...targets);
    }
    return { loss: lossSum / Math.max(1, phones), per: errorRate(refs, hyps).rate, heard: hyps.map((h) => h.map((id) => PHONEMES[id - 1] as string)) };
  };

  for (let epoch = startEpoch; epoch <= epochs; epoch++) {
    if (options.signal?.aborted === true) { interrupted = true; break; }
    const t0 = Date.now();
    if (augment) trainPrepared = await prepareSet(train, true, root.fork(`augment-${epoch}`));
    const prepared = trainPrepared as (PreparedPhoneticAudio | undefined)[];
    const usable = prepared.map((p, i) => (p === undefined ? -1 : i)).filter((i) => i >= 0);
    const batches = lengthBatches(usable.map((i) => (prepared[i] as PreparedPhoneticAudio).frames), batchSize, root.fork(`order-${epoch}`)).map((b) => b.map((k) => usable[k] as number));
    const dropoutRng = root.fork(`dropout-${epoch}`);
    let lossSum = 0;
    let lossSteps = 0;
    let infeasible = 0;
    for (const b of batches) {
      const values = b.map((i) => prepared[i] as PreparedPhoneticAudio);
      const targets = b.map((i) => (train[i] as Clip).targets);
      const lengths = values.map((v) => encoder.outputFrames(v.frames));
      targets.forEach((t, k) => {
        let need = t.length;
        for (let j = 1; j < t.length; j++) if (t[j] === t[j - 1]) need++;
        if (need > (lengths[k] as number)) infeasible++;
      });
      const batch = encoder.collate(values);
      const { value, grads } = tf.variableGrads(() => {
        const o = encoder.encode(batch, { training: true, rng: dropoutRng });
        const lp = tf.logSoftmax(o.aux?.ctcLogits as tf.Tensor3D) as tf.Tensor3D;
        return ctcLoss(lp, targets, lengths, { reduction: 'mean', zeroInfinity: true }) as tf.Scalar;
      }, encoder.trainableWeights);
      const list = encoder.trainableWeights.map((w) => grads[w.name] as tf.Tensor);
      const { norm, scale } = clipByGlobalNorm(list, clipNorm);
      optimizer.step(list, learningRateAt(step, { base: lr, warmupSteps, totalSteps, min: lr * 0.05, schedule: 'cosine' }), scale);
      lossSum += value.dataSync()[0] as number;
      lossSteps++;
      step++;
      tf.dispose([value, norm, scale, ...list, ...Object.values(batch)]);
    }
    const ev = evaluate();
    const m: PretrainEpoch = { epoch, trainLoss: lossSum / Math.max(1, lossSteps), heldOutLoss: ev.loss, heldOutPer: ev.per, infeasible, seconds: (Date.now() - t0) / 1000 };
    history.push(m);
    log(`epoch ${epoch}/${epochs}: train CTC ${m.trainLoss.toFixed(3)}, held-out CTC ${m.heldOutLoss.toFixed(3)}, held-out PER ${(100 * m.heldOutPer).toFixed(1)}% (${m.seconds.toFixed(0)} s)`);
    options.onEpoch?.(m);
    if (ev.per < best.per) {
      best = { per: ev.per, epoch };
      const ok = heldOut.map((c, i) => ({ c, i })).filter(({ i }) => heldPrepared[i] !== undefined);
      examples = ok.slice(0, 5).map(({ c }, k) => ({ reference: c.targets.map((id) => PHONEMES[id - 1]).join(' '), heard: (ev.heard[k] ?? []).join(' '), voice: c.voice }));
      await encoder.save(out, { inventory: PHONEME_INVENTORY, heldOutPer: ev.per, epoch, heldOutSpeakers: [...held], trainClips: train.length, heldOutClips: heldOut.length });
    }
    await writeCheckpoint(out, encoder, optimizer, { format: 'mmfuse-pretrain-checkpoint', settings, epoch, step, best: { per: Number.isFinite(best.per) ? best.per : null, epoch: best.epoch }, history, examples });
  }
  optimizer.dispose();
  const parameters = encoder.weights.reduce((s, w) => s + w.size, 0);
  encoder.dispose();
  const result: PretrainResult = {
    out, epochs: history, heldOutPer: best.per, bestEpoch: best.epoch, trainClips: train.length, heldOutClips: heldOut.length, heldOutSpeakers: [...held],
    skipped, parameters, seconds: (Date.now() - started) / 1000, examples, resumedFrom: startEpoch - 1, interrupted,
  };
  const report: JsonObject = JSON.parse(JSON.stringify({ ...result, settings: { manifest, epochs, batchSize, learningRate: lr, warmupSteps, clipNorm, weightDecay, seed, augment, encoder: encoderConfig } })) as JsonObject;
  const reportFile = path.join(out, 'pretrain-report.json');
  await writeFile(`${reportFile}.part`, `${JSON.stringify(report, null, 1)}\n`);
  await rename(`${reportFile}.part`, reportFile);
  return result;
}
