// The CLI's output as a first-time user meets it: training progress as a live bar on a terminal and whole
// lines otherwise (never a log line glued to a bar), predict's top-k labels, eval's `without.FIELD`
// ablation keys, and a single prediction's errors naming the sample "command line".
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Progress } from '@mmfuse/fusion';
import { main } from 'mmfuse';
import { jsonl, pngBytes } from './fixtures.js';

let dir: string;

/** The CLI in this process, with stderr captured chunk by chunk and its terminal flag chosen. */
async function run(argv: string[], stderrIsTTY = false): Promise<{ code: number; stdout: string; chunks: string[] }> {
  let stdout = '';
  const chunks: string[] = [];
  const code = await main(argv, { stdout: (t) => { stdout += t; }, stderr: (t) => { chunks.push(t); }, cwd: dir, stderrIsTTY });
  return { code, stdout, chunks };
}

/**
 * What a terminal shows after `text`: `\r` returns to the row's start, `ESC[K` erases to its end, `\n` starts
 * a new row; other characters overwrite the row from the cursor on.
 */
function screen(text: string): string[] {
  const rows: string[] = [];
  let row: string[] = [];
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\n') { rows.push(row.join('')); row = []; col = 0; } else if (c === '\r') col = 0;
    else if (c === '\x1b' && text.startsWith('\x1b[K', i)) { row.length = col; i += 2; } else { row[col++] = c; }
  }
  if (row.length > 0) rows.push(row.join(''));
  return rows;
}

const WORDS = { billing: ['invoice', 'charge', 'refund'], delivery: ['parcel', 'courier', 'tracking'], login: ['password', 'account', 'locked'] };
const COLOURS: Record<string, [number, number, number]> = { billing: [220, 40, 40], delivery: [40, 200, 40], login: [30, 40, 200] };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-cli-first-use-'));
  const rows = [];
  const labels = Object.keys(WORDS) as Array<keyof typeof WORDS>;
  for (let i = 0; i < 24; i++) {
    const label = labels[i % 3] as keyof typeof WORDS;
    const w = WORDS[label];
    writeFileSync(path.join(dir, `img-${i}.png`), await pngBytes(COLOURS[label] as [number, number, number], 16, i));
    rows.push({ id: `s${i}`, text: `my ${w[i % 3]} and ${w[(i + 1) % 3]}`, image: `img-${i}.png`, label });
  }
  writeFileSync(path.join(dir, 'train.jsonl'), jsonl(rows.slice(0, 18)));
  writeFileSync(path.join(dir, 'valid.jsonl'), jsonl(rows.slice(18)));
  writeFileSync(path.join(dir, 'model.yaml'), [
    'inputs:',
    '  text: { type: text, encoder: { kind: rnn, cell: gru, embeddingDim: 8, hiddenSize: 8 } }',
    '  image: { type: image, preprocessing: { width: 16, height: 16 }, encoder: { kind: cnn, blocks: [4] } }',
    'fusion: { strategy: transformer, dModel: 16, layers: 1, heads: 2 }',
    'output: { field: label }',
    'data: { train: train.jsonl, validation: valid.jsonl }',
    'training: { epochs: 2, batchSize: 4, learningRate: 0.01, seed: 3, earlyStoppingPatience: null }',
    '',
  ].join('\n'));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('training progress', () => {
  it('on a terminal: a live bar with ETA, every log line on its own row, no bar left at the end', { timeout: 600_000 }, async () => {
    const r = await run(['train', 'model.yaml', '--out', 'tty-model'], true);
    expect(r.code, r.chunks.join('')).toBe(0);
    // 18 training samples in batches of 4: five steps an epoch, each redrawing the bar in place.
    const bars = r.chunks.filter((c) => c.startsWith('\repoch '));
    expect(bars.length).toBeGreaterThanOrEqual(10);
    for (const b of bars) expect(b).toMatch(/^\repoch [12]\/2 \[[#-]{24}\] [1-5]\/5 loss \d+\.\d{4} ETA (\d+:)?\d\d:\d\d\x1b\[K$/);
    expect(bars.at(-1)).toMatch(/^\repoch 2\/2 \[#{24}\] 5\/5 /);
    // What the terminal shows: whole log lines, none glued to a bar, and the bar erased once training ended.
    const rows = screen(r.chunks.join(''));
    expect(rows.length).toBeGreaterThan(3);
    for (const row of rows) expect(row).toMatch(/^mmfuse train: /);
    expect(rows.filter((row) => /^mmfuse train: epoch \d\/2 loss/.test(row))).toHaveLength(2);
    expect(rows.join('\n')).not.toContain('ETA');
  });

  it('redirected: whole plain lines only, no carriage returns or escape codes', { timeout: 600_000 }, async () => {
    const r = await run(['train', 'model.yaml', '--out', 'model']);
    expect(r.code, r.chunks.join('')).toBe(0);
    for (const c of r.chunks) {
      expect(c).toMatch(/^mmfuse train: [^\n]*\n$/); // one write per line
      expect(c).not.toMatch(/[\r\x1b]/);
    }
    expect(r.chunks.filter((c) => /^mmfuse train: epoch \d\/2 loss/.test(c))).toHaveLength(2);
    // The report says what each input brings (ablation and mean contributions) and marks the best epoch.
    const report = readFileSync(path.join(dir, 'model.report.html'), 'utf8');
    for (const input of ['text', 'image']) expect(report).toMatch(new RegExp(`<tr data-input="${input}"><th scope="row">${input}</th><td>[\\d.]+ \\([+−][\\d.]+\\)</td><td>[\\d.]+ \\([+−][\\d.]+\\)</td><td>-?[\\d.e-]+</td></tr>`));
    expect(report).toContain('data-marker="best-epoch"');
    expect(report).toContain('<h3>Top confusions</h3>');
  });

  it('a log line written while the bar is drawn clears the bar first (library Progress)', () => {
    const writes: string[] = [];
    const lines: string[] = [];
    const p = new Progress('auto', (l) => { lines.push(l); writes.push(`${l}\n`); }, { isTTY: true, write: (t: string) => { writes.push(t); } });
    expect(p.mode).toBe('bar');
    p.startEpoch();
    p.step({ epoch: 1, epochs: 1, done: 1, total: 4, loss: 0.5, doneAtStart: 0 });
    p.line('interrupted at epoch 1, step 1');
    p.clear(); // nothing shown any more: writes nothing
    expect(screen(writes.join(''))).toEqual(['interrupted at epoch 1, step 1']);
    expect(writes.at(-1)).toBe('interrupted at epoch 1, step 1\n');
    const plain: string[] = [];
    const q = new Progress('auto', () => undefined, { isTTY: false, write: (t: string) => { plain.push(t); } });
    expect(q.mode).toBe('lines');
    q.startEpoch();
    q.step({ epoch: 1, epochs: 1, done: 1, total: 4, loss: 0.5, doneAtStart: 0 });
    q.clear();
    expect(plain).toEqual([]);
  });
});

describe('mmfuse report', () => {
  it('compares trained runs side by side: facts, held-out scores, one curve per run, per-class F1', async () => {
    const r = await run(['report', 'model', 'tty-model', '--out', 'compare.html', '--json']);
    expect(r.code, r.chunks.join('')).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.report).toBe(path.join(dir, 'compare.html'));
    expect(json.runs.map((x: { name: string }) => x.name)).toEqual(['model', 'tty-model']);
    for (const x of json.runs) {
      expect(x.epochs).toBe(2);
      expect(x.evaluations[0]).toMatchObject({ name: 'validation', n: 6 });
    }
    const html = readFileSync(path.join(dir, 'compare.html'), 'utf8');
    expect(html).toContain('<title>mmfuse runs: model vs tty-model</title>');
    // One chart per logged metric, each with one line per run.
    expect(html).toMatch(/aria-label="valLoss"/);
    const chart = html.slice(html.indexOf('aria-label="valLoss"'));
    expect([...chart.slice(0, chart.indexOf('</svg>')).matchAll(/data-series="([^"]+)"/g)].map((m) => m[1])).toEqual(['model', 'tty-model']);
    expect(html).toMatch(/<tr data-set="validation" data-metric="accuracy"><th scope="row">validation accuracy<\/th>(<td( class="best")?>[\d.]+<\/td>){2}<\/tr>/);
    for (const label of ['billing', 'delivery', 'login']) expect(html).toMatch(new RegExp(`<tr><th scope="row">${label}</th>(<td( class="best")?>[\\d.]+</td>){2}</tr>`));
    const human = await run(['report', 'model']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^report: .*mmfuse-compare\.html\nmodel validation: accuracy [\d.]+, macro F1 [\d.]+ \(n 6\)\n$/);
    const notARun = await run(['report', 'model', '.', '--json']);
    expect(notARun.code).toBe(1);
    expect(JSON.parse(notARun.stdout).error).toMatchObject({ code: 'MODEL_FORMAT' });
    expect(JSON.parse(notARun.stdout).error.message).toMatch(/no run\.json: give model folders written by "mmfuse train"/);
  });
});

describe('predict and eval output', () => {
  it('prints the top-k labels (all with --all) while --json keeps every probability', async () => {
    const args = ['predict', '--model', 'model', '--text', 'my refund and invoice', '--image', 'img-0.png'];
    const top = await run([...args, '--top', '2']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^label: (billing|delivery|login)\nprobabilities \(top 2 of 3; --all for every label\):\n( {2}(billing|delivery|login): [\d.e-]+\n){2}contributions:\n/);
    const all = await run([...args, '--all']);
    expect(all.stdout).toMatch(/\nprobabilities:\n( {2}(billing|delivery|login): [\d.e-]+\n){3}contributions:/);
    // The default (5) shows all three labels here.
    expect((await run(args)).stdout).toMatch(/\nprobabilities:\n( {2}\w+: [\d.e-]+\n){3}contributions:/);
    const json = await run([...args, '--top', '1', '--json']);
    expect(Object.keys(JSON.parse(json.stdout).probabilities).sort()).toEqual(['billing', 'delivery', 'login']);
  });

  it('names a single prediction\'s sample "command line" in errors, not "0"', async () => {
    const r = await run(['predict', '--model', 'model', '--text', 'hello', '--image', 'missing.png', '--json']);
    expect(r.code).toBe(1);
    const error = JSON.parse(r.stdout).error;
    expect(error).toMatchObject({ sample: 'command line', field: 'image' });
    expect(error.message).toMatch(/sample "command line"/);
    expect(r.chunks.join('')).not.toMatch(/sample "0"/);
  });

  it('keys the ablation by what it measures: without.FIELD', async () => {
    const r = await run(['eval', '--model', 'model', '--data', 'valid.jsonl', '--json']);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout);
    expect(Object.keys(e.ablation).sort()).toEqual(['without.image', 'without.text']);
    for (const a of Object.values(e.ablation) as Array<{ accuracy: number }>) expect(a.accuracy).toBeGreaterThanOrEqual(0);
    const human = await run(['eval', '--model', 'model', '--data', 'valid.jsonl']);
    expect(human.stdout).toMatch(/\nwithout text: accuracy [\d.]+ \([+−][\d.]+\) {3}macro F1: [\d.]+ \([+−][\d.]+\)\n/);
    expect(human.stdout).toMatch(/\nwithout image: accuracy /);
  });
});
