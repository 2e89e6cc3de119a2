// A model folder or checkpoint edited by someone who recomputed every checksum (a plain SHA-256 anyone can
// recompute). `load` checks what the files say against each other and against the documented limits
// before building anything: each edit is a ModelFormatError (never INTERNAL, never gigabytes), through the
// library and `mmfuse inspect`, and the tensor count does not move. An edited trainer.json refuses the
// resume with CheckpointError.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, ModelFormatError } from '@mmfuse/core';
import { FusionModel, MODEL_LIMITS, trainFromManifest } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import { jsonl } from '../cli/fixtures.js';

let dir: string;
let source: string;
let ckpt: string;

const config: FusionModelConfig = {
  inputs: { text: { type: 'text', encoder: { kind: 'rnn', cell: 'gru', embeddingDim: 8, hiddenSize: 8, bidirectional: false } } },
  fusion: { dModel: 8, layers: 1, heads: 2 },
  output: { field: 'label' },
  training: { epochs: 2, batchSize: 4, earlyStoppingPatience: null },
};

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** Copy the trained folder, let `edit` change model.json (and weights.bin), then recompute every checksum. */
function edited(name: string, edit: (model: any, weights: Buffer) => Buffer | void): string {
  const out = path.join(dir, name);
  cpSync(source, out, { recursive: true });
  const model = JSON.parse(readFileSync(path.join(out, 'model.json'), 'utf8'));
  let weights: Buffer = readFileSync(path.join(out, 'weights.bin'));
  weights = edit(model, weights) ?? weights;
  writeFileSync(path.join(out, 'weights.bin'), weights);
  model.weightsSha256 = sha(weights);
  for (const w of model.weights) if (w.offset >= 0 && w.offset + w.byteLength <= weights.length) w.sha256 = sha(weights.subarray(w.offset, w.offset + w.byteLength));
  const { integrity: _i, ...rest } = model;
  model.integrity = sha(JSON.stringify(rest));
  writeFileSync(path.join(out, 'model.json'), JSON.stringify(model, null, 2));
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-model-edits-'));
  const rows = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, text: i % 2 === 0 ? `good fine day ${i}` : `bad awful day ${i}`, label: i % 2 === 0 ? 'yes' : 'no' }));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows));
  source = path.join(dir, 'model');
  ckpt = path.join(dir, 'ckpt');
  const { model } = await trainFromManifest({ config, train: path.join(dir, 'train.jsonl'), out: source, checkpointDir: ckpt, progress: 'none', log: () => {} });
  model.dispose();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(folder: string): Promise<ModelFormatError> {
  const before = tf.memory().numTensors;
  const err = await FusionModel.load(folder).then((m) => { m.dispose(); return undefined; }, (e: unknown) => e);
  expect(tf.memory().numTensors, folder).toBe(before);
  expect(err, `${folder} loaded`).toBeInstanceOf(ModelFormatError);
  return err as ModelFormatError;
}

describe('an edited model folder with recomputed checksums', () => {
  it('is refused by load before anything is built, with ModelFormatError naming the problem', async () => {
    const first = (m: any) => m.weights[0];
    const cases: Array<[string, (m: any, w: Buffer) => Buffer | void, RegExp]> = [
      ['layers-100000', (m) => { m.config.fusion.layers = 100000; }, /fusion\.layers.*(64|too big)/i],
      ['layers-40', (m) => { m.config.fusion.layers = 40; }, /describes a fusion network of at least \d+ values .* but the file holds \d+/],
      ['dmodel-4096', (m) => { m.config.fusion.dModel = 4096; m.config.fusion.ffDim = 8192; }, /describes a fusion network of at least \d+ values/],
      ['dmodel-8192', (m) => { m.config.fusion.dModel = 8192; }, /fusion\.dModel/],
      ['dmodel-2^20', (m) => { m.config.fusion.dModel = 2 ** 20; }, /fusion\.dModel/],
      ['hidden-1e6', (m) => { m.config.inputs.text.encoder.hiddenSize = 1_000_000; m.encoders[0].config.hiddenSize = 1_000_000; }, /describes a fusion network of at least \d+ values|hiddenSize/],
      ['outdim-1e9', (m) => { m.outDim = 1e9; }, /"outDim" must be an integer from 1 to 100000/],
      ['labels-vs-outdim', (m) => { m.labels = ['no', 'yes', 'maybe']; }, /3 labels for an output of width 2/],
      ['labels-repeated', (m) => { m.labels = ['no', 'no']; }, /lists a label twice/],
      ['bytelength-short', (m) => { first(m).byteLength -= 4; }, /has byteLength \d+, but its shape \[[\d,]+\] needs \d+ bytes|weights\.bin has \d+ bytes, but model\.json lists/],
      ['offset-negative', (m) => { first(m).offset = -8; }, /starts at byte -8/],
      ['offset-overlap', (m) => { m.weights[1].offset = 0; }, /starts at byte 0; .* must start at \d+/],
      ['shape-huge', (m) => { first(m).shape = [2 ** 20, 2 ** 20]; }, /shape|byteLength|values/],
      ['shape-negative', (m) => { first(m).shape = [-1, 8]; }, /has shape \[-1,8\]/],
      ['weights-padded', (_m, w) => Buffer.concat([w, Buffer.alloc(64)]), /weights\.bin has \d+ bytes, but model\.json lists \d+ bytes/],
      ['all-inf', (_m, w) => { for (let i = 0; i + 4 <= w.length; i += 4) w.writeFloatLE(Number.POSITIVE_INFINITY, i); }, /weights\.bin holds Infinity at value 0 .*every weight must be finite/],
      ['one-nan', (_m, w) => { w.writeFloatLE(Number.NaN, 40); }, /holds NaN at value 10/],
      ['weights-not-a-list', (m) => { m.weights = 'x'; }, /"weights" must be a list|lists no valid bytes/],
      ['dtype', (m) => { first(m).dtype = 'float64'; }, /dtype "float64"/],
    ];
    for (const [name, edit, reason] of cases) {
      const err = await refusal(edited(name, edit));
      expect(err.code, name).toBe('MODEL_FORMAT');
      expect(err.message, name).toMatch(reason);
    }
    // The documented limits are what the checks use.
    expect(MODEL_LIMITS.maxOutputs).toBe(100_000);
  });

  it('refuses weights.bin or model.json that is no regular file or of an impossible size, before reading it', async () => {
    const zero = edited('weights-dev-zero', () => undefined);
    unlinkSync(path.join(zero, 'weights.bin'));
    symlinkSync('/dev/zero', path.join(zero, 'weights.bin'));
    expect((await refusal(zero)).message).toMatch(/weights\.bin is not a regular file/);
    const fifoLike = edited('model-json-dev-zero', () => undefined);
    unlinkSync(path.join(fifoLike, 'model.json'));
    symlinkSync('/dev/zero', path.join(fifoLike, 'model.json'));
    expect((await refusal(fifoLike)).message).toMatch(/model\.json is not a regular file/);
    const huge = edited('model-json-huge', () => undefined);
    truncateSync(path.join(huge, 'model.json'), 200 * 1024 * 1024); // sparse: nothing is written
    expect((await refusal(huge)).message).toMatch(/model\.json is 209715200 bytes, over the \d+ bytes of any model mmfuse writes/);
  });

  it('is a MODEL_FORMAT error through `mmfuse inspect` and `predict`, never INTERNAL', async () => {
    for (const name of ['layers-100000', 'dmodel-2^20', 'outdim-1e9', 'bytelength-short', 'all-inf']) {
      for (const argv of [['inspect', path.join(dir, name), '--json'], ['predict', '--model', path.join(dir, name), '--text', 'hi', '--json']]) {
        let stdout = '';
        let stderr = '';
        const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
        expect(code, `${name} ${argv[0]}: ${stderr}`).toBe(1);
        expect(JSON.parse(stdout.trim().split('\n').at(-1) as string).error.code, name).toBe('MODEL_FORMAT');
      }
    }
  });
});

describe('an edited trainer.json', () => {
  /** A copy of the checkpoint folder with trainer.json (and optimizer.bin) changed. */
  function editedCheckpoint(name: string, edit: (file: any, folder: string) => void, optimizer?: (b: Buffer) => Buffer): string {
    const out = path.join(dir, `ckpt-${name}`);
    cpSync(ckpt, out, { recursive: true });
    const trainer = JSON.parse(readFileSync(path.join(out, 'last', 'trainer.json'), 'utf8'));
    if (optimizer !== undefined) {
      const b = optimizer(readFileSync(path.join(out, 'last', 'optimizer.bin')));
      writeFileSync(path.join(out, 'last', 'optimizer.bin'), b);
      trainer.optimizer.sha256 = sha(b);
    }
    edit(trainer, path.join(out, 'last'));
    writeFileSync(path.join(out, 'last', 'trainer.json'), JSON.stringify(trainer));
    return out;
  }

  it('refuses the resume with CheckpointError: state null, history a string, epoch -5, wrong optimizer sizes, mismatched history, best weights that do not fit', async () => {
    /** best.bin: `n` float32 values, listed in trainer.json as the weights of epoch 1. */
    const best = (f: any, folder: string, n: number): void => {
      const b = Buffer.alloc(4 * n);
      writeFileSync(path.join(folder, 'best.bin'), b);
      f.best = { epoch: 1, sizes: [n], sha256: sha(b) };
      f.state.bestEpoch = 1;
    };
    const cases: Array<[string, (f: any, folder: string) => void, RegExp, ((b: Buffer) => Buffer)?]> = [
      ['state-null', (f) => { f.state = null; }, /trainer\.json: state: /],
      ['history-string', (f) => { f.state.history = 'x'; }, /trainer\.json: state\.history: /],
      ['epoch-negative', (f) => { f.state.epoch = -5; }, /trainer\.json: state\.epoch: /],
      ['epoch-vs-history', (f) => { f.state.epoch = 1; }, /records 2 epochs of history after 1 completed epochs/],
      ['loss-infinite', (f) => { f.state.history[0].trainLoss = '1e999'; }, /state\.history\.0\.trainLoss/],
      ['sizes-wrong', (f) => { f.optimizer.sizes[0] += 1; f.optimizer.sizes[1] -= 1; }, /has moments for \d+ weights .* but this model has/],
      ['sizes-vs-file', (f) => { f.optimizer.sizes.push(10); }, /optimizer\.bin has \d+ bytes, but trainer\.json lists moments of \d+ bytes/],
      ['steps-disagree', (f) => { f.optimizer.t += 3; }, /the optimizer made \d+ steps but the trainer counts \d+/],
      ['batch-beyond', (f) => { f.state.batch = 99; f.state.partial.seen = 4; }, /stopped after batch 99 of an epoch, but this data has \d+ batches/],
      ['best-vs-trainer', (f, folder) => { best(f, folder, 4); f.state.bestEpoch = 2; }, /best\.bin holds epoch 1, but the best epoch is 2/],
      ['best-missing', (f, folder) => { best(f, folder, 4); f.best.sizes = [5]; }, /best\.bin has 16 bytes, but trainer\.json lists best weights of 20 bytes/],
      ['best-unfit', (f, folder) => { best(f, folder, 4); }, /best\.bin in .* holds 1 weights that do not fit this model's \d+/],
    ];
    for (const [name, edit, reason, optimizer] of cases) {
      const folder = editedCheckpoint(name, edit, optimizer);
      const before = tf.memory().numTensors;
      const err = await trainFromManifest({ config, train: path.join(dir, 'train.jsonl'), checkpointDir: folder, resume: true, progress: 'none', log: () => {} }).then((r) => { r.model.dispose(); return undefined; }, (e: unknown) => e);
      expect(err, name).toBeInstanceOf(CheckpointError);
      expect((err as CheckpointError).message, name).toMatch(reason);
      expect(tf.memory().numTensors, name).toBe(before);
    }
  });

  it('is a CHECKPOINT error through `mmfuse train --resume`', async () => {
    const folder = editedCheckpoint('cli', (f) => { f.state.epoch = -5; });
    writeFileSync(path.join(dir, 'model.yaml'), 'inputs:\n  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }\nfusion: { dModel: 8, layers: 1, heads: 2 }\noutput: { field: label }\ntraining: { epochs: 2, batchSize: 4, earlyStoppingPatience: null }\ndata: { train: train.jsonl }\n');
    let stdout = '';
    let stderr = '';
    const code = await main(['train', 'model.yaml', '--out', 'resumed', '--checkpoint', folder, '--resume', '--json'], { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd: dir });
    expect(code, stderr).toBe(1);
    expect(JSON.parse(stdout.trim().split('\n').at(-1) as string).error.code).toBe('CHECKPOINT');
    expect(stderr).not.toMatch(/epoch \d+\/2/);
  });
});
