/**
 * Load on `mmfuse serve` (issue 9): the customer-service bot (text + voice) served on 127.0.0.1, with
 * CLIENTS concurrent keep-alive clients sending, back to back for DURATION seconds, a seeded mix of typed
 * requests, voice requests (base64 WAV clips of the example's test split) and bad requests. Reports
 * requests/s and p50/p99 latency per kind, counts by status, and `mmfuse_tensors` / RSS from /metrics
 * through the run. Fails on any 5xx, any answer other than the expected one, a socket error, or a tensor
 * count that moves. The model: `examples/customer-service/model` when it has been trained
 * (`bot.ts train`), else the example's config trained for LOAD_TRAIN_EPOCHS (default 3) epochs into a
 * temp folder (reused by later runs): latency depends on the architecture, not on how well it was trained.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@mmfuse/core';
import type { Rng } from '@mmfuse/core';
import { main } from 'mmfuse';
import { metricValue, runLoad, send } from '../scripts/load/generator.js';
import type { LoadRequest, LoadResult } from '../scripts/load/generator.js';
import type { BenchFigure, Benchmark } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const example = path.join(root, 'examples/customer-service');
const CLIENTS = Number(process.env.LOAD_CLIENTS ?? 8);
const DURATION = Number(process.env.LOAD_SECONDS ?? 25);
const WARMUP = 4;
const MIX = { text: 0.6, voice: 0.25, bad: 0.15 };

/** What the served model is, from its model.json: its encoders' kinds, and the ensemble size when there is one. */
function describeModel(dir: string): string {
  const m = JSON.parse(readFileSync(path.join(dir, 'model.json'), 'utf8')) as { encoders?: { kind: string }[]; config?: { training?: { ensemble?: number } } };
  const kinds = (m.encoders ?? []).map((e) => e.kind).join(' + ');
  const members = m.config?.training?.ensemble ?? 1;
  return members > 1 ? `${kinds}, an ensemble of ${members}` : kinds;
}

async function modelDir(log: (s: string) => void): Promise<{ dir: string; trainedHere: boolean; epochs?: number }> {
  const own = path.join(example, 'model');
  if (existsSync(path.join(own, 'model.json'))) return { dir: own, trainedHere: false };
  const epochs = Number(process.env.LOAD_TRAIN_EPOCHS ?? 3);
  const config = JSON.parse(readFileSync(path.join(example, 'config.json'), 'utf8')) as { data: Record<string, string> };
  for (const k of Object.keys(config.data)) config.data[k] = path.join(example, config.data[k] as string);
  const key = createHash('sha256').update(JSON.stringify(config)).update(String(epochs)).digest('hex').slice(0, 12);
  const work = path.join(tmpdir(), `mmfuse-load-model-${key}`);
  const dir = path.join(work, 'model');
  if (existsSync(path.join(dir, 'model.json'))) return { dir, trainedHere: true, epochs };
  mkdirSync(work, { recursive: true });
  writeFileSync(path.join(work, 'config.json'), JSON.stringify(config));
  log(`training the customer-service model for ${epochs} epochs into ${dir}`);
  const code = await main(['train', path.join(work, 'config.json'), '--out', dir, '--epochs', String(epochs), '--json'], { stdout: () => {}, stderr: (t) => { if (/epoch \d+\//.test(t)) log(t.trim()); }, cwd: work });
  if (code !== 0) throw new Error(`training the load model failed (exit ${code})`);
  return { dir, trainedHere: true, epochs };
}

interface Payloads { text: Buffer[]; voice: Buffer[]; bad: Array<{ body: Buffer; type: string; expect: number[]; what: string }> }

function payloads(): Payloads {
  const rows = readFileSync(path.join(example, 'data/test.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { id: string; text?: string; audio?: string });
  const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));
  const text = rows.filter((r) => r.text !== undefined).map((r) => json({ id: r.id, text: r.text }));
  const voice = rows.filter((r) => r.audio !== undefined).map((r) => json({ id: r.id, audio: readFileSync(path.join(example, 'data', r.audio as string)).toString('base64'), ...(r.text !== undefined ? { text: r.text } : {}) }));
  const clip = readFileSync(path.join(example, 'data', rows.find((r) => r.audio !== undefined)?.audio as string));
  const bad = [
    { what: 'truncated WAV', body: json({ id: 'bad', audio: clip.subarray(0, 100).toString('base64') }), type: 'application/json', expect: [400] },
    { what: 'not base64', body: json({ id: 'bad', audio: '### not base64 ###' }), type: 'application/json', expect: [400] },
    { what: 'text is a number', body: json({ id: 'bad', text: 42 }), type: 'application/json', expect: [400] },
    { what: 'unknown field', body: json({ id: 'bad', image: 'AAAA' }), type: 'application/json', expect: [400] },
    { what: 'broken JSON', body: Buffer.from('{"text": "where is my card'), type: 'application/json', expect: [400] },
    { what: 'text/plain body', body: Buffer.from('where is my card'), type: 'text/plain', expect: [415] },
  ];
  return { text, voice, bad };
}

function nextRequest(p: Payloads, rngs: Rng[]) {
  return (client: number, _i: number): LoadRequest => {
    const rng = rngs[client] as Rng;
    const u = rng.next();
    const post = (kind: string, body: Buffer, type = 'application/json', expect = [200]): LoadRequest => ({ kind, method: 'POST', path: '/v1/predict', headers: { 'content-type': type }, body, expect });
    if (u < MIX.text) return post('text', p.text[rng.int(p.text.length)] as Buffer);
    if (u < MIX.text + MIX.voice) return post('voice', p.voice[rng.int(p.voice.length)] as Buffer);
    const b = p.bad[rng.int(p.bad.length)] as Payloads['bad'][number];
    return post('bad', b.body, b.type, b.expect);
  };
}

async function metrics(agent: http.Agent, base: URL): Promise<{ tensors: number; rssBytes: number; batches: number; batched: number }> {
  const r = await send(agent, base, { kind: 'metrics', method: 'GET', path: '/metrics', expect: [200] }, 10_000);
  return {
    tensors: metricValue(r.body, 'mmfuse_tensors'),
    rssBytes: metricValue(r.body, 'process_resident_memory_bytes'),
    batches: metricValue(r.body, 'mmfuse_predict_batch_size_count'),
    batched: metricValue(r.body, 'mmfuse_predict_batch_size_sum'),
  };
}

const fmt = (v: number, d = 1): string => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');

export const benchmark: Benchmark = {
  id: 'load',
  title: 'Load: mmfuse serve under concurrent text, voice and bad requests',
  async run() {
    const log = (s: string): void => console.log(`[bench]   ${s}`);
    const model = await modelDir(log);
    const p = payloads();
    const server = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', path.join(root, 'packages/cli/src/main.ts'), 'serve', '--model', model.dir, '--host', '127.0.0.1', '--port', '0'], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => server.on('close', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server not ready in 120 s: ${stderr}`)), 120_000);
        server.stderr.on('data', (d: Buffer) => {
          stderr += d.toString('utf8');
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
          if (m) { clearTimeout(timer); resolve(m[1] as string); }
        });
        void exited.then((code) => { clearTimeout(timer); reject(new Error(`server exited (${code}) before listening: ${stderr}`)); });
      });
      const base = new URL(url);
      const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
      const seed = 9;
      const rngs = (s: number) => Array.from({ length: CLIENTS }, (_, c) => createRng(s).fork(`client-${c}`));
      log(`warming up ${WARMUP} s`);
      const warm = await runLoad({ baseUrl: url, clients: CLIENTS, durationSeconds: WARMUP, next: nextRequest(p, rngs(seed + 1)) });
      const start = await metrics(probe, base);
      const samples = [start];
      const sampler = setInterval(() => { void metrics(probe, base).then((m) => samples.push(m), () => undefined); }, 2500);
      log(`${CLIENTS} clients for ${DURATION} s (mix: ${JSON.stringify(MIX)})`);
      const load0 = loadavg()[0] as number;
      let r: LoadResult;
      try {
        r = await runLoad({ baseUrl: url, clients: CLIENTS, durationSeconds: DURATION, next: nextRequest(p, rngs(seed)) });
      } finally {
        clearInterval(sampler);
      }
      const end = await metrics(probe, base);
      samples.push(end);
      probe.destroy();
      const load1 = loadavg()[0] as number;

      const problems: string[] = [];
      const fiveXX = Object.entries(r.all.byStatus).filter(([s]) => s.startsWith('5')).reduce((a, [, n]) => a + n, 0) + Object.entries(warm.all.byStatus).filter(([s]) => s.startsWith('5')).reduce((a, [, n]) => a + n, 0);
      if (fiveXX > 0) problems.push(`${fiveXX} answers were 5xx`);
      if (r.all.unexpected + warm.all.unexpected > 0) problems.push(`${r.all.unexpected + warm.all.unexpected} unexpected answers: ${[...r.unexpectedSamples, ...warm.unexpectedSamples].join(' | ')}`);
      if (r.errors.length + warm.errors.length > 0) problems.push(`${r.errors.length + warm.errors.length} socket errors: ${[...r.errors, ...warm.errors].slice(0, 3).join(' | ')}`);
      const tensorSeries = samples.map((s) => s.tensors);
      if (tensorSeries.some((t) => t !== start.tensors)) problems.push(`mmfuse_tensors moved: ${tensorSeries.join(', ')}`);
      const rssMb = samples.map((s) => s.rssBytes / 2 ** 20);
      const rssGrowth = (end.rssBytes - start.rssBytes) / 2 ** 20;
      // Flat: under 10% of the starting RSS (allocator noise), which a leak of ~1 kB per request would exceed.
      if (rssGrowth > 0.1 * (start.rssBytes / 2 ** 20)) problems.push(`RSS grew ${fmt(rssGrowth)} MiB (${rssMb.map((v) => fmt(v, 0)).join(', ')})`);

      server.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) problems.push(`server exited with ${code} after SIGTERM`);
      if (problems.length > 0) throw new Error(`load run failed: ${problems.join('; ')}`);

      const meanBatch = (end.batched - start.batched) / (end.batches - start.batches);
      const kinds = ['text', 'voice', 'bad'] as const;
      const figures: BenchFigure[] = [
        { name: 'load.requests_per_s', value: r.requestsPerSecond, unit: 'req/s', details: { clients: CLIENTS, seconds: r.seconds, requests: r.requests, byStatus: r.all.byStatus, socketsOpened: r.socketsOpened } },
        { name: 'load.p50_ms', value: r.all.p50, unit: 'ms', higherIsBetter: false },
        { name: 'load.p99_ms', value: r.all.p99, unit: 'ms', higherIsBetter: false },
        ...kinds.flatMap((k): BenchFigure[] => {
          const s = r.kinds[k];
          if (s === undefined) return [];
          return [
            { name: `load.${k}.p50_ms`, value: s.p50, unit: 'ms', higherIsBetter: false, details: { n: s.n, p90: s.p90, max: s.max, mean: s.mean, byStatus: s.byStatus } },
            { name: `load.${k}.p99_ms`, value: s.p99, unit: 'ms', higherIsBetter: false },
          ];
        }),
        { name: 'load.mean_batch_size', value: meanBatch, unit: 'requests', details: { modelCalls: end.batches - start.batches } },
        { name: 'load.tensors_delta', value: end.tensors - start.tensors, unit: 'tensors', higherIsBetter: false, details: { series: tensorSeries } },
        { name: 'load.rss_delta_mib', value: rssGrowth, unit: 'MiB', higherIsBetter: false, details: { seriesMiB: rssMb } },
      ];
      const rows = kinds.map((k) => {
        const s = r.kinds[k];
        return s === undefined ? `| ${k} | 0 | | | | | |` : `| ${k} | ${s.n} | ${fmt(s.n / r.seconds)} | ${fmt(s.p50)} | ${fmt(s.p90)} | ${fmt(s.p99)} | ${Object.entries(s.byStatus).map(([st, n]) => `${st}: ${n}`).join(', ')} |`;
      });
      // The engine line `mmfuse serve` prints at start (e.g. `wasm (2 threads)`).
      const engine = /engine: ([^;\n]+)/.exec(stderr)?.[1]?.trim() ?? 'not reported';
      const markdown = [
        `\`npm run bench load\`: \`mmfuse serve\` (defaults: batches of up to 16, 5 ms window) with the customer-service`,
        `bot (${describeModel(model.dir)}; ${model.trainedHere ? `the example config trained ${model.epochs} epochs for this run` : 'examples/customer-service/model'}) on 127.0.0.1, one process, engine: ${engine}.`,
        `${CLIENTS} closed-loop clients (scripts/load/generator.ts: node:http, one keep-alive connection each; ${r.socketsOpened} sockets opened)`,
        `send requests back to back for ${fmt(r.seconds)} s after a ${WARMUP} s warm-up; seeded mix: ${MIX.text * 100}% typed text,`,
        `${MIX.voice * 100}% voice (base64 WAV of the test clips, some with their transcript), ${MIX.bad * 100}% bad (truncated WAV, bad base64, wrong`,
        'types, unknown field, broken JSON → 400; text/plain → 415). Latency is measured at the client, request sent → answer read.',
        '',
        `**${fmt(r.requestsPerSecond)} requests/s**, p50 ${fmt(r.all.p50)} ms, p99 ${fmt(r.all.p99)} ms over ${r.requests} requests; no 5xx, no socket error, every answer the expected status.`,
        '',
        '| kind | requests | req/s | p50 ms | p90 ms | p99 ms | statuses |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows,
        '',
        `The server answered them in ${end.batches - start.batches} model calls, ${fmt(meanBatch)} requests per call on average.`,
        '',
        `Server state from \`/metrics\` every 2.5 s: \`mmfuse_tensors\` ${tensorSeries.join(', ')} (flat); RSS ${rssMb.map((v) => fmt(v, 0)).join(', ')} MiB`,
        `(${rssGrowth >= 0 ? '+' : ''}${fmt(rssGrowth)} MiB from start to end).`,
        '',
        `Caveat: a shared 2-core machine (load average ${fmt(load0)} → ${fmt(load1)} during the run, ${cpus().length} cores), with the clients in the same`,
        `machine as the server. The model runs one batch at a time (engine: ${engine}; a batch's kernels share the threads, batches do not overlap), so throughput is bounded by`,
        'the forward pass; concurrency shows up as batching (larger batches) and queueing (higher p99), not as parallel work.',
      ].join('\n');
      return { id: 'load', title: this.title, markdown, figures };
    } finally {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
  },
};
