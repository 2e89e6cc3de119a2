/**
 * `npm run bench [id ...]`: runs every benchmark (or the named ones), then rewrites BENCHMARKS.md and
 * bench/results.json from all sections measured so far (a section not re-run keeps its last figures and
 * says when it was measured).
 */
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFigure, BenchSection, Benchmark } from './types.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const resultsFile = path.join(here, 'results.json');
const mdFile = path.join(root, 'BENCHMARKS.md');

interface StoredSection extends BenchSection { measuredAt: string; machine: string }
interface Results { generatedAt: string; sections: StoredSection[]; figures: (BenchFigure & { section: string; measuredAt: string })[] }

function machine(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}

function ratio(f: BenchFigure): string {
  if (f.peerValue === undefined || f.peerValue === null || f.peerValue === 0) return '';
  const r = (f.higherIsBetter ?? true) ? f.value / f.peerValue : f.peerValue / f.value;
  return `${r.toFixed(2)}×`;
}

function fmt(v: number | null | undefined): string {
  if (v === undefined) return '';
  if (v === null) return 'n/a';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

function render(results: Results): string {
  const lines = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (do not edit by hand). Every ratio compares mmfuse with a peer measured in the same',
    'run on the same machine; "ratio" is mmfuse relative to the peer, above 1× meaning mmfuse is better.',
    'Figures as JSON: `bench/results.json`.',
    '',
    '## Summary',
    '',
    '| figure | mmfuse | unit | peer | peer value | ratio |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const f of results.figures) {
    lines.push(`| ${f.name} | ${fmt(f.value)} | ${f.unit} | ${f.peer ?? ''} | ${fmt(f.peerValue)} | ${ratio(f)} |`);
  }
  for (const s of results.sections) {
    lines.push('', `## ${s.title}`, '', `_Measured ${s.measuredAt} on ${s.machine}._`, '', s.markdown.trim());
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  const files = readdirSync(here).filter((f) => f.endsWith('.bench.ts')).sort();
  const fresh = new Map<string, StoredSection>();
  let failed = 0;
  for (const file of files) {
    const mod = (await import(pathToFileURL(path.join(here, file)).href)) as { benchmark?: Benchmark };
    const bench = mod.benchmark;
    if (bench === undefined) continue;
    if (only.length > 0 && !only.includes(bench.id)) continue;
    console.log(`[bench] ${bench.id}: ${bench.title}`);
    const t0 = performance.now();
    try {
      const section = await bench.run();
      fresh.set(bench.id, { ...section, measuredAt: new Date().toISOString(), machine: machine() });
      for (const f of section.figures) console.log(`[bench]   ${f.name} = ${fmt(f.value)} ${f.unit}${f.peerValue !== undefined ? ` (peer ${fmt(f.peerValue)}, ${ratio(f)})` : ''}`);
    } catch (err) {
      failed++;
      console.error(`[bench] ${bench.id} failed:`, err);
    }
    console.log(`[bench] ${bench.id} took ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  // Read the stored sections only now, just before writing, so a run of another benchmark that finished while
  // this one ran keeps its section.
  const previous: Results = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, 'utf8')) as Results : { generatedAt: '', sections: [], figures: [] };
  const sections = new Map(previous.sections.map((s) => [s.id, s]));
  for (const [id, section] of fresh) sections.set(id, section);
  const ordered = [...sections.values()].sort((a, b) => a.id.localeCompare(b.id));
  const results: Results = {
    generatedAt: new Date().toISOString(),
    sections: ordered,
    figures: ordered.flatMap((s) => s.figures.map((f) => ({ ...f, section: s.id, measuredAt: s.measuredAt }))),
  };
  writeFileSync(`${resultsFile}.tmp`, `${JSON.stringify(results, null, 2)}\n`);
  renameSync(`${resultsFile}.tmp`, resultsFile);
  writeFileSync(mdFile, render(results));
  console.log(`[bench] wrote ${path.relative(root, mdFile)} and ${path.relative(root, resultsFile)}`);
  if (failed > 0) process.exitCode = 1;
}

await main();
