// No command may destroy a user's files. Every writer (model save, checkpoints, the training report, the
// prepared-value cache) replaces a folder only when it is absent, empty or mmfuse's own earlier output
// (core's `checkOutputTarget`): `mmfuse train --out` a folder holding other files, the project folder, `.`
// or `/` exits 1 before training and leaves every file as it was; an earlier model folder is replaced; an
// unwritable place fails before training with the real errno.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, checkOutputTarget } from '@mmfuse/core';
import { FusionModel, PrepareCache, checkpointFolderRule, modelFolderRule, trainFromManifest } from '@mmfuse/fusion';
import type { FusionModelConfig } from '@mmfuse/fusion';
import { main } from 'mmfuse';
import '@mmfuse/text-rnn';
import { jsonl } from '../cli/fixtures.js';
import { bin, cliEnv, repoRoot } from '../cli/helpers.js';

let dir: string;
let model: FusionModel;

const config: FusionModelConfig = {
  inputs: { text: { type: 'text', encoder: { kind: 'rnn', cell: 'gru', embeddingDim: 8, hiddenSize: 8, bidirectional: false } } },
  fusion: { dModel: 8, layers: 1, heads: 2 },
  output: { field: 'label' },
  training: { epochs: 1, batchSize: 8 },
};

const rows = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, text: i % 2 === 0 ? `good fine day ${i}` : `bad awful day ${i}`, label: i % 2 === 0 ? 'yes' : 'no' }));

/** Every file under `root` with the sha256 of its bytes (symlinks as their target), sorted. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  for (const rel of readdirSync(root, { recursive: true }).map(String).sort()) {
    const p = path.join(root, rel);
    const st = statSync(p, { throwIfNoEntry: false });
    out.push(st?.isFile() ? `${rel} ${createHash('sha256').update(readFileSync(p)).digest('hex')}` : `${rel}/`);
  }
  return out;
}

async function cli(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { stderr += t; }, cwd });
  return { code, stdout, stderr };
}

/** A project folder as a user has one: config, manifest, notes, clips. */
function writeUserProject(root: string): void {
  mkdirSync(path.join(root, 'clips'), { recursive: true });
  writeFileSync(path.join(root, 'train.jsonl'), jsonl(rows));
  writeFileSync(path.join(root, 'model.yaml'), 'inputs:\n  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8, bidirectional: false } }\nfusion: { dModel: 8, layers: 1, heads: 2 }\noutput: { field: label }\ntraining: { epochs: 1, batchSize: 8 }\ndata: { train: train.jsonl }\n');
  writeFileSync(path.join(root, 'NOTES.md'), '# my notes\n');
  writeFileSync(path.join(root, 'clips', 'a.wav'), 'not really audio, but mine');
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-outputs-'));
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows));
  model = (await trainFromManifest({ config, train: path.join(dir, 'train.jsonl'), progress: 'none', log: () => {} })).model;
});

afterAll(() => {
  model?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('FusionModel.save and the other library writers', () => {
  it('refuses a folder holding other files, a file, a symlink, the root and the working folder, touching nothing', async () => {
    const foreign = path.join(dir, 'foreign');
    writeUserProject(foreign);
    const before = snapshot(foreign);
    const file = path.join(dir, 'a-file');
    writeFileSync(file, 'mine');
    const link = path.join(dir, 'link');
    symlinkSync(foreign, link);
    const cases: Array<[string, RegExp]> = [
      [foreign, /holds files mmfuse did not write \(NOTES\.md, clips, model\.yaml, train\.jsonl\); mmfuse replaces only an empty folder or an earlier model folder of its own/],
      [file, /is a file; give a new folder/],
      [link, /is a symbolic link/],
      ['/', /is the root of the file system/],
      [process.cwd(), /is the working folder or a folder above it/],
      [path.dirname(process.cwd()), /is the working folder or a folder above it/],
    ];
    for (const [target, reason] of cases) {
      const err = await model.save(target).then(() => undefined, (e: unknown) => e);
      expect(err, target).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).reason, target).toMatch(reason);
      expect((err as ConfigError).path).toBe('dir');
    }
    expect(snapshot(foreign)).toEqual(before);
    expect(readFileSync(file, 'utf8')).toBe('mine');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-') || f.includes('.old-'))).toEqual([]);
  });

  it('writes a new or empty folder and replaces its own earlier model folder', async () => {
    const fresh = path.join(dir, 'models', 'run1');
    await model.save(fresh);
    expect(readdirSync(fresh).sort()).toEqual(['metrics.json', 'model.json', 'weights.bin']);
    const empty = path.join(dir, 'empty');
    mkdirSync(empty);
    await model.save(empty);
    expect(existsSync(path.join(empty, 'model.json'))).toBe(true);
    const first = readFileSync(path.join(fresh, 'model.json'), 'utf8');
    await model.save(fresh);
    expect(JSON.parse(readFileSync(path.join(fresh, 'model.json'), 'utf8')).format).toBe(JSON.parse(first).format);
    expect(await checkOutputTarget(fresh, modelFolderRule())).toBe('owned');
    // A model.json of another program is not mmfuse's.
    const other = path.join(dir, 'other-model');
    mkdirSync(other);
    writeFileSync(path.join(other, 'model.json'), JSON.stringify({ format: 'keras', layers: [] }));
    await expect(model.save(other)).rejects.toThrow(/holds files mmfuse did not write \(model\.json\)/);
  });

  it('refuses a foreign checkpoint folder, cache folder or output folder before training starts', async () => {
    const foreign = path.join(dir, 'foreign-2');
    writeUserProject(foreign);
    const before = snapshot(foreign);
    const started: string[] = [];
    const callbacks = [{ onTrainStart: () => { started.push('train'); } }];
    for (const opts of [{ checkpointDir: foreign }, { cacheDir: foreign }, { out: foreign }]) {
      const err = await trainFromManifest({ config, train: path.join(dir, 'train.jsonl'), progress: 'none', log: () => {}, callbacks, ...opts }).then(() => undefined, (e: unknown) => e);
      expect(err, JSON.stringify(opts)).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).reason).toMatch(/holds files mmfuse did not write/);
      expect((err as ConfigError).path).toBe(Object.keys(opts)[0]);
    }
    expect(started).toEqual([]);
    expect(snapshot(foreign)).toEqual(before);
    // Its own earlier checkpoint and cache folders are accepted (a resumed run, a warm cache).
    const ckpt = path.join(dir, 'ckpt');
    const cache = path.join(dir, 'cache');
    const run = await trainFromManifest({ config, train: path.join(dir, 'train.jsonl'), progress: 'none', log: () => {}, checkpointDir: ckpt, cacheDir: cache });
    run.model.dispose();
    expect(await checkOutputTarget(ckpt, checkpointFolderRule())).toBe('owned');
    const again = await trainFromManifest({ config, train: path.join(dir, 'train.jsonl'), progress: 'none', log: () => {}, checkpointDir: ckpt, cacheDir: cache, resume: true });
    again.model.dispose();
    await new PrepareCache(cache).claim();
    // A `last` that is not a checkpoint makes the folder foreign.
    const fake = path.join(dir, 'ckpt-fake');
    mkdirSync(path.join(fake, 'last'), { recursive: true });
    writeFileSync(path.join(fake, 'last', 'notes.txt'), 'mine');
    await expect(checkOutputTarget(fake, checkpointFolderRule())).rejects.toThrow(/holds files mmfuse did not write \(last\)/);
  });
});

describe('a writability probe left by a killed process', () => {
  it('is removed by the next probe in that folder when its process is gone; nothing else is touched', async () => {
    const place = path.join(dir, 'probes');
    mkdirSync(place);
    // The pid of a process that has exited.
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    expect(gone).toBeGreaterThan(0);
    const stale = `.mmfuse-write-check-${gone}-a1B2c3`;
    const full = `.mmfuse-write-check-${gone}-d4E5f6`;
    const live = `.mmfuse-write-check-${process.pid}-g7H8i9`;
    const unnumbered = '.mmfuse-write-check-j0K1l2';
    for (const name of [stale, full, live, unnumbered]) mkdirSync(path.join(place, name));
    writeFileSync(path.join(place, full, 'notes.txt'), 'not empty: not removed');
    expect(await checkOutputTarget(path.join(place, 'model'), modelFolderRule())).toBe('absent');
    expect(readdirSync(place).sort()).toEqual([full, live, unnumbered].sort());
    // A checkpoint folder holding such a probe is still the trainer's own.
    const ckpt = path.join(dir, 'ckpt-probe');
    mkdirSync(path.join(ckpt, `.mmfuse-write-check-${gone}-m3N4o5`), { recursive: true });
    expect(await checkOutputTarget(ckpt, checkpointFolderRule())).toBe('owned');
  });
});

describe('`mmfuse train --out` a folder that is not mmfuse\'s', () => {
  it('exits 1 before training and leaves every file in place: a folder with other files, the project folder, ".", "/"', async () => {
    const project = path.join(dir, 'project');
    writeUserProject(project);
    const outside = path.join(dir, 'outside');
    writeUserProject(outside);
    const before = snapshot(project);
    const beforeOutside = snapshot(outside);
    for (const out of [outside, '.', project, '/', '..', 'clips']) {
      const r = await cli(['train', 'model.yaml', '--out', out, '--json'], project);
      expect(r.code, `${out}: ${r.stderr}`).toBe(1);
      const error = JSON.parse(r.stdout.trim().split('\n').at(-1) as string).error;
      expect(error.code, out).toBe('CONFIG');
      expect(error.path, out).toBe('--out');
      expect(error.message, out).toMatch(/holds files mmfuse did not write|root of the file system|working folder or a folder above it/);
      // Before training: no engine start, no data read, no epoch.
      expect(r.stderr, out).not.toMatch(/engine:|epoch|training on/);
    }
    expect(snapshot(project)).toEqual(before);
    expect(snapshot(outside)).toEqual(beforeOutside);
    // --checkpoint and a report file that is not mmfuse's are refused the same way.
    const ck = await cli(['train', 'model.yaml', '--out', 'models/a', '--checkpoint', 'clips'], project);
    expect(ck.code).toBe(1);
    expect(ck.stderr).toMatch(/error \[CONFIG\]: .*checkpoint folder .* holds files mmfuse did not write/);
    writeFileSync(path.join(project, 'mine.report.html'), '<html>my own page</html>');
    const rep = await cli(['train', 'model.yaml', '--out', 'mine'], project);
    expect(rep.code).toBe(1);
    expect(rep.stderr).toMatch(/the report .*mine\.report\.html is a file mmfuse did not write/);
    expect(readFileSync(path.join(project, 'mine.report.html'), 'utf8')).toBe('<html>my own page</html>');
    const nested = await cli(['train', 'model.yaml', '--out', 'models/b', '--checkpoint', 'models/b/ckpt'], project);
    expect(nested.code).toBe(2);
    expect(nested.stderr).toMatch(/must be separate folders/);
    // A new folder trains; training again into it replaces the model (and its report).
    const ok = await cli(['train', 'model.yaml', '--out', 'models/run', '--json'], project);
    expect(ok.code, ok.stderr).toBe(0);
    const again = await cli(['train', 'model.yaml', '--out', 'models/run', '--json'], project);
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(path.join(project, 'models')).sort()).toEqual(['run', 'run.report.html']);
  });
});

describe('an unwritable output location', () => {
  it('fails before training with the real errno (EACCES), through the library check and `mmfuse train`', async () => {
    // Permissions bind only a process without CAP_DAC_OVERRIDE. As root, the children run as root without the
    // capabilities that bypass file permissions (util-linux `setpriv`), on a folder owned by nobody; running
    // them as nobody instead would also need the checkout readable by nobody, which a clone under a private
    // folder (/root, `mktemp -d`) is not.
    const asRoot = process.getuid?.() === 0;
    const root = mkdtempSync(path.join(tmpdir(), 'mmfuse-unwritable-'));
    try {
      writeUserProject(root);
      const locked = path.join(root, 'locked');
      mkdirSync(locked);
      if (asRoot) chownSync(locked, 65534, 65534);
      chmodSync(locked, 0o555);
      const dropped = ['--inh-caps=-all', '--bounding-set=-dac_override,-dac_read_search,-fowner'];
      const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> => new Promise((resolve) => {
        const [cmd, argv] = asRoot ? ['setpriv', [...dropped, process.execPath, ...args]] : [process.execPath, args];
        const child = spawn(cmd, argv, { cwd: root, env: { ...cliEnv(), HOME: root }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
        child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
        child.on('error', (err) => resolve({ code: null, stdout, stderr: `${stderr}${String(err)}` }));
        child.on('close', (code) => resolve({ code, stdout, stderr }));
      });
      const r = await run([bin, 'train', 'model.yaml', '--out', 'locked/model', '--json']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stdout.trim(), `no JSON error on stdout; stderr: ${r.stderr}`).not.toBe('');
      const error = JSON.parse(r.stdout.trim().split('\n').at(-1) as string).error;
      expect(error.code).toBe('IO');
      expect(error.details.errno).toBe('EACCES');
      expect(error.message).toMatch(/cannot write in .*locked .*permission denied \(EACCES\)/);
      expect(r.stderr).not.toMatch(/epoch|training on/);
      const script = `import('${path.join(repoRoot, 'packages/core/src/base.ts')}').then(async (c) => { try { await c.checkOutputTarget('locked/deep/model', { what: 'model folder', isOwned: async () => false }); console.log('allowed'); } catch (e) { console.log(JSON.stringify(e.toJSON())); } })`;
      const lib = await run(['--conditions=source', '--import', pathToFileURL(path.join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href, '-e', script]);
      const libError = JSON.parse(lib.stdout.trim() || `{"stderr": ${JSON.stringify(lib.stderr)}}`);
      expect(libError).toMatchObject({ code: 'IO', details: { errno: 'EACCES' } });
      expect(readdirSync(locked)).toEqual([]);
    } finally {
      chmodSync(path.join(root, 'locked'), 0o755);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
