// Data files as a hostile or careless user points at them. Symbolic links are followed to their real place
// and held to the data folder like `../` (no /etc/passwd scored as an image, no bytes of it in a message);
// a FIFO, a device or a huge sparse file is refused by `stat` before a byte is read (no hang, no
// gigabytes); and a manifest read by the library without `baseDir` resolves its paths against its own
// folder (`model.fit(readManifest('data/train.jsonl'))` uses every voice sample), says loudly what it
// skipped, and fails when an input could be read in none of its samples.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, readManifest } from '@mmfuse/core';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';
import { jsonl, writeSamples } from '../cli/fixtures.js';
import type { Sample } from '../cli/fixtures.js';

let root: string;
let data: string;
let rows: Sample[];

const config: FusionModelConfig = {
  inputs: {
    text: { type: 'text', encoder: { kind: 'rnn', cell: 'gru', embeddingDim: 8, hiddenSize: 8, bidirectional: false } },
    audio: { type: 'audio', encoder: { kind: 'cnn', sampleRateHz: 16000, features: 'log-mel', nMels: 20, channels: [4] } },
    image: { type: 'image', encoder: { kind: 'cnn', width: 16, height: 16, blocks: [4] } },
  },
  fusion: { dModel: 8, layers: 1, heads: 2 },
  output: { field: 'label' },
  training: { epochs: 1, batchSize: 8 },
};

async function cli(argv: string[], cwd = data): Promise<{ code: number; stdout: string; stderr: string; json: any }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd });
  const last = stdout.trim().split('\n').at(-1);
  return { code, stdout, stderr, json: last ? JSON.parse(last) : undefined };
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'mmfuse-data-paths-'));
  data = path.join(root, 'data');
  mkdirSync(data);
  rows = await writeSamples(data, 's', 16);
  const line = (r: Sample, over: Record<string, unknown> = {}) => ({ id: r.id, text: r.text, audio: r.audio, image: r.image, label: r.label, ...over });
  writeFileSync(path.join(data, 'train.jsonl'), jsonl(rows.slice(0, 12).map((r) => line(r))));
  writeFileSync(path.join(data, 'valid.jsonl'), jsonl(rows.slice(12).map((r) => line(r))));
  // Outside the data folder: a secret, and links into it from inside.
  mkdirSync(path.join(root, 'secret'));
  writeFileSync(path.join(root, 'secret', 'keys.png'), 'root:x:0:0:PRIVATE-KEY-MATERIAL');
  symlinkSync('/etc/passwd', path.join(data, 'images', 'passwd.png'));
  symlinkSync(path.join(root, 'secret', 'keys.png'), path.join(data, 'images', 'keys.png'));
  symlinkSync(path.join(root, 'secret'), path.join(data, 'secret-dir'));
  symlinkSync('/dev/zero', path.join(data, 'clips', 'zero.wav'));
  // A link that stays inside the data folder is fine.
  symlinkSync(path.join(data, rows[0]!.image), path.join(data, 'images', 'alias.png'));
  execFileSync('mkfifo', [path.join(data, 'clips', 'fifo.wav')]);
  writeFileSync(path.join(data, 'clips', 'sparse.wav'), 'RIFF');
  truncateSync(path.join(data, 'clips', 'sparse.wav'), 1536 * 1024 * 1024); // 1.5 GB, no blocks written
  writeFileSync(path.join(data, 'model.yaml'), [
    'inputs:',
    '  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }',
    '  audio: { type: audio, encoder: { kind: cnn, sampleRateHz: 16000, features: log-mel, nMels: 20, channels: [4] } }',
    '  image: { type: image, encoder: { kind: cnn, width: 16, height: 16, blocks: [4] } }',
    'fusion: { dModel: 8, layers: 1, heads: 2 }',
    'output: { field: label }',
    'training: { epochs: 1, batchSize: 8 }',
    'data: { train: train.jsonl, validation: valid.jsonl }',
  ].join('\n'));
  const trained = await cli(['train', 'model.yaml', '--out', path.join(root, 'model'), '--json']);
  if (trained.code !== 0) throw new Error(trained.stderr);
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('symbolic links in a manifest', () => {
  it('are held to the data folder like ../ (eval skips them by name), and no byte of the target reaches a message', async () => {
    const r0 = rows[0] as Sample;
    const cases: Array<[string, Record<string, string>, RegExp]> = [
      ['passwd', { image: 'images/passwd.png' }, /path "images\/passwd\.png" leads outside the data folder .* through a symbolic link \(to \/etc\/passwd\)/],
      ['keys', { image: 'images/keys.png' }, /leads outside the data folder .* through a symbolic link/],
      ['through-folder', { image: 'secret-dir/keys.png' }, /path "secret-dir\/keys\.png" leads outside the data folder/],
      ['zero', { audio: 'clips/zero.wav' }, /leads outside the data folder .*\(to \/dev\/zero\)/],
    ];
    const manifest = [...cases.map(([id, over]) => ({ id, text: r0.text, audio: r0.audio, image: r0.image, label: r0.label, ...over })), { id: 'alias', text: r0.text, audio: r0.audio, image: 'images/alias.png', label: r0.label }];
    writeFileSync(path.join(data, 'links.jsonl'), jsonl(manifest));
    const r = await cli(['eval', '--model', path.join(root, 'model'), '--data', 'links.jsonl', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.n).toBe(1); // the link that stays inside
    for (const [id, over, reason] of cases) {
      const s = r.json.skipped.find((x: { sample?: string }) => x.sample === id);
      expect(s, id).toBeDefined();
      expect(s.field).toBe(Object.keys(over)[0]);
      expect(s.reason, id).toMatch(reason);
    }
    expect(r.stdout + r.stderr).not.toMatch(/root:x|PRIVATE-KEY/);
    // The library reads the same manifest the same way.
    const model = await FusionModel.load(path.join(root, 'model'));
    try {
      const report = await model.evaluate(readManifest(path.join(data, 'links.jsonl')), { ablation: false });
      expect(report.n).toBe(1);
      expect(report.skipped.map((s) => s.sample).sort()).toEqual(cases.map(([id]) => id).sort());
      expect(report.skipped.every((s) => /symbolic link/.test(s.reason))).toBe(true);
      // So does a request with a data folder.
      const err = await model.predict({ image: 'images/passwd.png' }, { baseDir: data }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as Error).message).toMatch(/through a symbolic link/);
    } finally {
      model.dispose();
    }
  });
});

describe('files that are no regular file, or far too large', () => {
  it('a FIFO and a 1.5 GB sparse WAV in a manifest are refused by stat, without a hang or reading them', async () => {
    const r0 = rows[0] as Sample;
    writeFileSync(path.join(data, 'special.jsonl'), jsonl([
      { id: 'fifo', text: r0.text, audio: 'clips/fifo.wav', label: r0.label },
      { id: 'sparse', text: r0.text, audio: 'clips/sparse.wav', label: r0.label },
      { id: 'good', text: r0.text, audio: r0.audio, label: r0.label },
    ]));
    const rss = process.resourceUsage().maxRSS;
    const r = await cli(['eval', '--model', path.join(root, 'model'), '--data', 'special.jsonl', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json.n).toBe(1);
    const by = (id: string) => r.json.skipped.find((s: { sample?: string }) => s.sample === id);
    expect(by('fifo').reason).toMatch(/is not a regular file/);
    expect(by('sparse').code).toBe('LIMIT_EXCEEDED');
    expect(by('sparse').reason).toMatch(/1610612736 bytes, over the limit/);
    // Training with a disk cache hashes files only after the same checks (the cache reads no FIFO either).
    const model = FusionModel.create(config);
    try {
      const skipped: string[] = [];
      await model.fit(readManifest(path.join(data, 'special.jsonl')), { cacheDir: path.join(root, 'cache'), progress: 'none', log: () => {}, onSkip: (s) => skipped.push(`${s.sample}: ${s.reason}`) })
        .catch(() => undefined); // one usable sample is too few to train; the skips are what is checked
      expect(skipped.join('\n')).toMatch(/fifo: .*not a regular file/);
      expect(skipped.join('\n')).toMatch(/sparse: .*over the limit/);
    } finally {
      model.dispose();
    }
    // Nothing near the 1.5 GB was read into memory.
    expect(process.resourceUsage().maxRSS - rss).toBeLessThan(512 * 1024);
  });

  it('`mmfuse predict --audio/--image` refuse /dev/zero, a FIFO and a sparse giant the same way', async () => {
    const model = path.join(root, 'model');
    const cases: Array<[string[], string, RegExp]> = [
      [['--audio', '/dev/zero'], 'INVALID_INPUT', /"\/dev\/zero" is not a regular file/],
      [['--image', '/dev/zero'], 'INVALID_INPUT', /"\/dev\/zero" is not a regular file/],
      [['--audio', 'clips/fifo.wav'], 'INVALID_INPUT', /fifo\.wav" is not a regular file/],
      [['--audio', 'clips/sparse.wav'], 'LIMIT_EXCEEDED', /1610612736 bytes, over the limit/],
    ];
    for (const [args, code, reason] of cases) {
      const r = await cli(['predict', '--model', model, '--text', 'good day', ...args, '--json']);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.message).toMatch(reason);
    }
    expect(existsSync(path.join(data, 'clips', 'fifo.wav'))).toBe(true);
  });
});

describe('a manifest read by the library, without baseDir (the paths are relative to the manifest)', () => {
  it('model.fit(readManifest(...), { validation: readManifest(...) }) uses every voice sample from any working folder', async () => {
    expect(process.cwd()).not.toBe(data);
    const model = FusionModel.create(config);
    try {
      const lines: string[] = [];
      const history = await model.fit(readManifest(path.join(data, 'train.jsonl')), { validation: readManifest(path.join(data, 'valid.jsonl')), progress: 'none', log: (l) => lines.push(l) });
      expect(history.trainSamples).toBe(12);
      expect(history.validationSamples).toBe(4);
      expect(history.skipped).toEqual([]);
      expect(lines.join('\n')).not.toMatch(/skipped/);
      const report = await model.evaluate(readManifest(path.join(data, 'valid.jsonl')));
      expect(report.n).toBe(4);
      // One manifest sample predicted on its own: its folder goes with it.
      const sample = (await readManifest(path.join(data, 'valid.jsonl')).next()).value!;
      expect(sample.baseDir).toBe(data);
      const p = await model.predict(sample.fields, { baseDir: sample.baseDir });
      expect(p.modalitiesUsed).toEqual(['text', 'audio', 'image']);
    } finally {
      model.dispose();
    }
  });

  it('says loudly what it skipped (count and first reasons) and fails when an input is unreadable in every sample', async () => {
    const some = rows.slice(0, 12).map((r, i) => ({ id: r.id, text: r.text, audio: i < 3 ? `missing/${r.id}.wav` : r.audio, image: r.image, label: r.label }));
    writeFileSync(path.join(data, 'some-bad.jsonl'), jsonl(some));
    const model = FusionModel.create(config);
    try {
      const lines: string[] = [];
      const history = await model.fit(readManifest(path.join(data, 'some-bad.jsonl')), { progress: 'none', log: (l) => lines.push(l) });
      expect(history.trainSamples).toBe(9);
      expect(lines.join('\n')).toMatch(/train: skipped 3 of 12 samples \(first: sample "s-0" field "audio": file "missing\/s-0\.wav" does not exist .*; sample "s-1" field "audio": .*; sample "s-2" field "audio": .*\)/);
    } finally {
      model.dispose();
    }
    // Every audio path is wrong (relative to another folder): the run would be text-and-image only.
    const wrong = rows.slice(0, 12).map((r) => ({ id: r.id, text: r.text, audio: `data/${r.audio}`, image: r.image, label: r.label }));
    writeFileSync(path.join(data, 'all-bad.jsonl'), jsonl(wrong));
    const model2 = FusionModel.create(config);
    try {
      const err = await model2.fit(readManifest(path.join(data, 'all-bad.jsonl')), { progress: 'none', log: () => {} }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect((err as InvalidInputError).field).toBe('audio');
      expect((err as Error).message).toMatch(/input "audio" could not be read in any of the 12 train samples that have it, so the model would train without it \(first: sample "s-0" field "audio": file "data\/clips\/s-0\.wav" does not exist/);
    } finally {
      model2.dispose();
    }
  });
});
