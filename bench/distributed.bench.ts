/**
 * `npm run bench distributed`: batch prediction and preparation throughput of the bundled customer-service
 * bot (examples/customer-service: text everywhere, a voice clip on a third of the lines) with the in-process
 * default vs 1 vs 2 `mmfuse worker` processes on a real redis-server (Debian `redis-server`, started on a free
 * loopback port), on the same manifests, in one run; and the per-job overhead (a `ping` job's round trip).
 *
 * Preparation is measured on generated 2 s clips through the bot's audio input (the bot's own 900 samples
 * prepare in about a second, too little to time).
 *
 * Every mmfuse process runs the wasm engine with one thread (MMFUSE_THREADS=1), so "2 workers" uses two
 * cores and "in-process" and "1 worker" one each. Throughput is marginal: the same command on a one-chunk
 * manifest is timed too and subtracted, which removes process start, model loading and connection set-up
 * (workers are warm: the one-chunk run loads their model). The machine's load average is recorded beside
 * every figure: on a shared machine the ratios mean little.
 *
 * DISTRIBUTED_BENCH_REPEAT=N: the prediction manifest is the bot's 900 lines N times (default 6).
 * DISTRIBUTED_BENCH_PREP=N: clips prepared (default 1024).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalExecutor, RedisExecutor, runOrdered } from '@mmfuse/distributed';
import { tone, wavBytes } from '../tests/cli/fixtures.js';
import { startRedis } from '../tests/distributed/redis-server.js';
import type { RedisServer } from '../tests/distributed/redis-server.js';
import type { BenchFigure, Benchmark, BenchSection } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const tsx = path.join(root, 'node_modules/tsx/dist/loader.mjs');
const main = path.join(root, 'packages/cli/src/main.ts');
const REPEAT = Number(process.env.DISTRIBUTED_BENCH_REPEAT ?? '6');
const CHUNK = 64; // packages/cli/src/commands/predict.ts: the lines of one predict job
const PINGS = 200;
const PREP = Number(process.env.DISTRIBUTED_BENCH_PREP ?? '1024');

const env = (): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, MMFUSE_FROM_SOURCE: '1', MMFUSE_ENGINE: 'wasm', MMFUSE_THREADS: '1' };
  delete e.MMFUSE_REDIS_URL;
  delete e.MMFUSE_CACHE_DIR;
  return e;
};

const load = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

interface Proc { child: ChildProcess; stderr: () => string }

function start(args: string[], cwd: string): Proc {
  const child = spawn(process.execPath, ['--conditions=source', '--import', tsx, main, ...args], { cwd, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString('utf8'); });
  return { child, stderr: () => err };
}

/** Run `mmfuse ARGS` to the end; its wall time in seconds. */
async function timed(args: string[], cwd: string): Promise<number> {
  const t0 = performance.now();
  const p = start(args, cwd);
  const code = await new Promise<number | null>((resolve) => p.child.on('close', resolve));
  if (code !== 0) throw new Error(`mmfuse ${args.join(' ')} exited ${code}:\n${p.stderr().slice(-3000)}`);
  return (performance.now() - t0) / 1000;
}

async function startWorker(url: string, cwd: string, name: string): Promise<Proc> {
  const w = start(['worker', '--redis', url, '--name', name], cwd);
  const end = Date.now() + 300_000;
  while (!/ready: /.test(w.stderr())) {
    if (w.child.exitCode !== null || Date.now() > end) throw new Error(`worker ${name} did not start:\n${w.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return w;
}

async function stop(w: Proc): Promise<void> {
  if (w.child.exitCode !== null || w.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => w.child.kill('SIGKILL'), 30_000);
    w.child.once('close', () => { clearTimeout(t); resolve(); });
    w.child.kill('SIGTERM');
  });
}

interface Setting { name: string; workers: number; predict: number; prepare: number; load: string }

export const benchmark: Benchmark = {
  id: 'distributed',
  title: 'Distributed prediction and preparation (@mmfuse/distributed on BullMQ + Redis)',
  async run(): Promise<BenchSection> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mmfuse-bench-dist-'));
    let redis: RedisServer | undefined;
    const workers: Proc[] = [];
    try {
      cpSync(path.join(root, 'examples/customer-service/data'), path.join(dir, 'data'), { recursive: true });
      const config = JSON.parse(readFileSync(path.join(root, 'examples/customer-service/config.json'), 'utf8')) as { data: Record<string, string> };
      writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
      const lines = (f: string): string[] => readFileSync(path.join(dir, 'data', f), 'utf8').trim().split('\n');
      const all = [...lines('train.jsonl'), ...lines('valid.jsonl'), ...lines('test.jsonl')];
      writeFileSync(path.join(dir, 'data/big.jsonl'), `${Array.from({ length: REPEAT }, () => all).flat().join('\n')}\n`);
      writeFileSync(path.join(dir, 'data/small.jsonl'), `${all.slice(0, CHUNK).join('\n')}\n`);
      // Preparation: the bot's audio input (decode, resample to 8 kHz, log-mel) on PREP distinct 2 s voice-band
      // clips (the cache is keyed by content, so every clip must differ), against one chunk of them.
      mkdirSync(path.join(dir, 'data/gen'));
      const labels = [...new Set(all.map((l) => (JSON.parse(l) as { label: string }).label))];
      const gen = Array.from({ length: PREP }, (_, i) => {
        writeFileSync(path.join(dir, `data/gen/g${i}.wav`), wavBytes(tone(200 + (i % 50) * 20, 2, 16000, i + 1), 16000));
        return JSON.stringify({ id: `g${i}`, audio: `gen/g${i}.wav`, label: labels[i % labels.length] });
      });
      writeFileSync(path.join(dir, 'data/prep-big.jsonl'), `${gen.join('\n')}\n`);
      writeFileSync(path.join(dir, 'data/prep-small.jsonl'), `${gen.slice(0, CHUNK).join('\n')}\n`);
      writeFileSync(path.join(dir, 'prep-big.json'), JSON.stringify({ ...config, data: { train: 'data/prep-big.jsonl' } }));
      writeFileSync(path.join(dir, 'prep-small.json'), JSON.stringify({ ...config, data: { train: 'data/prep-small.jsonl' } }));
      const bigN = all.length * REPEAT;
      console.log(`[bench]   training the bot for 1 epoch (a model to predict with); load ${load()}`);
      await timed(['train', 'config.json', '--out', 'model', '--epochs', '1', '--seed', '1'], dir);

      let cacheN = 0;
      const measure = async (name: string, redisArgs: string[], nWorkers: number): Promise<Setting> => {
        const before = load();
        const predict = async (m: string): Promise<number> => timed(['predict', '--model', 'model', '--data', `data/${m}`, '--json', ...redisArgs], dir);
        const prepare = async (c: string): Promise<number> => timed(['prepare', c, '--cache', `cache-${cacheN++}`, '--json', ...redisArgs], dir);
        const pSmall = await predict('small.jsonl');
        const pBig = await predict('big.jsonl');
        const qSmall = await prepare('prep-small.json');
        const qBig = await prepare('prep-big.json');
        const s = { name, workers: nWorkers, predict: (bigN - CHUNK) / (pBig - pSmall), prepare: (PREP - CHUNK) / (qBig - qSmall), load: `${before} → ${load()}` };
        console.log(`[bench]   ${name}: predict ${s.predict.toFixed(1)} samples/s (${pSmall.toFixed(1)} s / ${pBig.toFixed(1)} s), prepare ${s.prepare.toFixed(1)} samples/s (${qSmall.toFixed(1)} s / ${qBig.toFixed(1)} s); load ${s.load}`);
        return s;
      };

      const local = await measure('in-process', [], 0);
      redis = await startRedis();
      const url = redis.url;
      workers.push(await startWorker(url, dir, 'w1'));
      const one = await measure('1 worker', ['--redis', url], 1);
      workers.push(await startWorker(url, dir, 'w2'));
      const two = await measure('2 workers', ['--redis', url], 2);

      // Per-job overhead: a `ping` job's round trip through Redis to a worker and back, one at a time,
      // against the same handler called in this process (LocalExecutor).
      const ex = await RedisExecutor.connect({ url });
      const pingLoad = load();
      let redisMs: number;
      let localMs: number;
      let pingRate: number;
      try {
        for (let i = 0; i < 10; i++) await ex.run({ kind: 'ping', key: `warm${i}`, data: i });
        let t0 = performance.now();
        for (let i = 0; i < PINGS; i++) {
          const o = await ex.run({ kind: 'ping', key: `p${i}`, data: i });
          if (!o.ok) throw o.error;
        }
        redisMs = (performance.now() - t0) / PINGS;
        t0 = performance.now();
        await runOrdered(Array.from({ length: PINGS }, (_, i) => i), {
          window: 16,
          run: (i) => ex.run({ kind: 'ping', key: `q${i}`, data: i }),
          deliver: (o) => { if (!o.ok) throw o.error; },
        });
        pingRate = PINGS / ((performance.now() - t0) / 1000);
        const lx = new LocalExecutor({ ping: async (data: unknown) => ({ echo: data }) });
        t0 = performance.now();
        for (let i = 0; i < PINGS; i++) await lx.run({ kind: 'ping', key: `l${i}`, data: i });
        localMs = (performance.now() - t0) / PINGS;
      } finally {
        await ex.close();
      }

      const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
      const figures: BenchFigure[] = [
        { name: 'distributed.predict.2-vs-1-worker', value: two.predict, unit: 'samples/s', peer: '1 worker', peerValue: one.predict, details: { load: two.load, peerLoad: one.load } },
        { name: 'distributed.predict.1-worker-vs-in-process', value: one.predict, unit: 'samples/s', peer: 'in-process', peerValue: local.predict, details: { load: one.load, peerLoad: local.load } },
        { name: 'distributed.prepare.2-vs-1-worker', value: two.prepare, unit: 'samples/s', peer: '1 worker', peerValue: one.prepare, details: { load: two.load, peerLoad: one.load } },
        { name: 'distributed.prepare.1-worker-vs-in-process', value: one.prepare, unit: 'samples/s', peer: 'in-process', peerValue: local.prepare, details: { load: one.load, peerLoad: local.load } },
        { name: 'distributed.job.round-trip', value: redisMs, unit: 'ms', higherIsBetter: false, details: { load: pingLoad, inProcessMs: localMs, pingsPerSecondWindow16: pingRate } },
      ];
      const markdown = [
        `The bundled customer-service bot (trained 1 epoch here; its size, not its accuracy, matters), prediction on its 900 lines × ${REPEAT} (${bigN} lines, ${Math.ceil(bigN / CHUNK)} jobs of ${CHUNK}), preparation (decode, resample to 8 kHz, 40-band log-mel: the bot's audio input) of ${PREP} distinct generated 2 s clips into a fresh cache (${Math.ceil(PREP / CHUNK)} jobs). Each \`mmfuse\` process runs the wasm engine with 1 thread; throughput is marginal (the one-chunk run's time subtracted). Load average (1, 5, 15 min) before → after each setting; on ${os.cpus().length} cores a load above ${os.cpus().length} means the workers compete with other work for CPU, and the ratios below cannot show the scaling.`,
        '',
        '| setting | predict samples/s | prepare samples/s | load average |',
        '| --- | --- | --- | --- |',
        ...[local, one, two].map((s) => `| ${s.name} | ${s.predict.toFixed(1)} | ${s.prepare.toFixed(1)} | ${s.load} |`),
        '',
        `2 workers vs 1: prediction ${ratio(two.predict, one.predict)}, preparation ${ratio(two.prepare, one.prepare)}. 1 worker vs in-process: prediction ${ratio(one.predict, local.predict)}, preparation ${ratio(one.prepare, local.prepare)}.`,
        '',
        `Per-job overhead: a \`ping\` job through Redis to a worker and back takes ${redisMs.toFixed(2)} ms one at a time (${localMs.toFixed(3)} ms in this process), ${pingRate.toFixed(0)} jobs/s with 16 in flight and 2 workers (load ${pingLoad}). A prediction job carries ${CHUNK} samples, so Redis adds about ${(redisMs / CHUNK).toFixed(3)} ms per sample.`,
      ].join('\n');
      return { id: 'distributed', title: this.title, markdown, figures };
    } finally {
      await Promise.all(workers.map(stop));
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
