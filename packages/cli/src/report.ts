/**
 * The training report: one self-contained HTML file (no scripts, no external assets) with learning curves
 * as inline SVG (the best epoch marked), what each input brings (the modality ablation and the mean
 * per-input contributions), the row-normalized confusion matrix (scrollable, readable at 77 classes) with the
 * top confusions listed, and per-class precision / recall / F1.
 */
import { open, writeFile } from 'node:fs/promises';
import { checkOutputTarget } from '@mmfuse/core/base';
import type { OutputRule } from '@mmfuse/core/base';

/** One point of a learning curve: the metrics logged after an epoch. */
export interface EpochRecord {
  epoch: number;
  /** Metric name → value, e.g. `{ loss: 0.7, valLoss: 0.8, valAccuracy: 0.6 }`. Non-finite values are skipped. */
  metrics: Record<string, number>;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/** An evaluation as `mmfuse eval` reports it. */
export interface ReportEvaluation {
  /** What was evaluated, e.g. `validation (valid.jsonl)`. */
  name: string;
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: Record<string, ClassScores>;
  confusion: { labels: string[]; matrix: number[][] };
  skipped: number;
  /** The scores with each input removed from every sample (input field → scores). */
  ablation?: Record<string, { accuracy: number; macroF1: number }>;
  /**
   * The mean contribution of each input over the samples that have it: how much the predicted label's
   * probability drops when the input is removed.
   */
  contributions?: Record<string, number>;
}

export interface ReportInput {
  title: string;
  /** Key facts shown at the top: config file, engine, epochs, duration, model size. */
  facts: Array<[string, string]>;
  history: EpochRecord[];
  /** The epoch whose weights the model kept (lowest validation loss); marked on the curves. */
  bestEpoch?: number;
  evaluations: ReportEvaluation[];
  /** The normalized config, shown at the bottom. */
  config?: unknown;
}

/** The marker of a page mmfuse wrote: a report file is replaced only when it carries it. */
export const GENERATOR_META = '<meta name="generator" content="mmfuse">';

/** True when `file` is a report page mmfuse wrote (its generator marker within the first 4 KiB). */
export async function isReportFile(file: string): Promise<boolean> {
  try {
    const fd = await open(file, 'r');
    try {
      const buf = Buffer.alloc(4096);
      const { bytesRead } = await fd.read(buf, 0, buf.length, 0);
      return buf.subarray(0, bytesRead).toString('utf8').includes(GENERATOR_META);
    } finally {
      await fd.close();
    }
  } catch {
    return false;
  }
}

/** The replace rule of a report file (`mmfuse train`'s `DIR.report.html`, `mmfuse report --out`). */
export function reportFileRule(option: string): OutputRule {
  return { what: 'report', option, kind: 'file', isOwned: isReportFile };
}

/** Write a report page, replacing only an earlier mmfuse report (see `reportFileRule`). */
export async function writeReportFile(file: string, html: string, option: string): Promise<void> {
  await checkOutputTarget(file, reportFileRule(option));
  await writeFile(file, html);
}

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f'];

function fmt(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return '–';
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(digits)).toString();
}

/** "Nice" axis bounds and ticks covering [lo, hi]. */
function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if ((ticks[ticks.length - 1] as number) < hi) ticks.push(Number(((ticks[ticks.length - 1] as number) + step).toPrecision(12)));
  return ticks;
}

/**
 * An SVG line chart of the given series over epochs. Returns an empty string when no series has a point.
 */
export function lineChartSvg(title: string, history: EpochRecord[], series: string[], bestEpoch?: number): string {
  const lines = series
    .map((name) => ({ name, points: history.filter((h) => Number.isFinite(h.metrics[name])).map((h) => [h.epoch, h.metrics[name] as number] as const) }))
    .filter((s) => s.points.length > 0);
  if (lines.length === 0) return '';
  const W = 520, H = 300, L = 56, R = 16, T = 30, B = 60;
  const xs = lines.flatMap((s) => s.points.map((p) => p[0]));
  const ys = lines.flatMap((s) => s.points.map((p) => p[1]));
  const xTicks = niceTicks(Math.min(...xs), Math.max(...xs), Math.min(8, Math.max(1, xs.length)));
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys));
  const x0 = xTicks[0] as number, x1 = xTicks[xTicks.length - 1] as number;
  const y0 = yTicks[0] as number, y1 = yTicks[yTicks.length - 1] as number;
  const sx = (x: number) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y: number) => H - B - ((y - y0) / (y1 - y0 || 1)) * (H - T - B);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(title)}">`);
  out.push(`<text x="${W / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(title)}</text>`);
  for (const t of yTicks) {
    out.push(`<line x1="${L}" x2="${W - R}" y1="${sy(t).toFixed(1)}" y2="${sy(t).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<text x="${sx(t).toFixed(1)}" y="${H - B + 16}" text-anchor="middle" font-size="11">${fmt(t)}</text>`);
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - B + 32}" text-anchor="middle" font-size="11">epoch</text>`);
  out.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`);
  if (bestEpoch !== undefined && bestEpoch >= x0 && bestEpoch <= x1) {
    const bx = sx(bestEpoch).toFixed(1);
    out.push(`<line x1="${bx}" x2="${bx}" y1="${T}" y2="${H - B}" stroke="#555" stroke-dasharray="4 3" data-marker="best-epoch"><title>best epoch: ${bestEpoch} (the weights kept)</title></line>`);
    out.push(`<text x="${bx}" y="${T - 2}" text-anchor="middle" font-size="10" fill="#555">best ${bestEpoch}</text>`);
  }
  lines.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length] as string;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2" data-series="${escapeHtml(s.name)}"/>`);
    for (const p of s.points) out.push(`<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="2.5" fill="${color}"><title>${escapeHtml(s.name)} @ ${p[0]}: ${fmt(p[1], 4)}</title></circle>`);
    const lx = L + i * 120;
    out.push(`<rect x="${lx}" y="${H - 18}" width="12" height="3" fill="${color}"/><text x="${lx + 16}" y="${H - 14}" font-size="11">${escapeHtml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Above this many classes the columns are numbered (the row headers name them), so the matrix stays narrow. */
const NUMBERED_COLUMNS = 12;

/**
 * The confusion matrix normalized by row: each cell is the percentage of the true class (row) predicted as
 * the column's class, shaded by that share, with the count in `data-count` and the tooltip. Rows are true
 * labels; the last column is the row's sample count. Wrapped in a scrolling box with sticky headers.
 */
export function confusionTableHtml(confusion: { labels: string[]; matrix: number[][] }): string {
  const { labels, matrix } = confusion;
  const numbered = labels.length > NUMBERED_COLUMNS;
  const head = labels.map((l, j) => `<th scope="col" title="${escapeHtml(l)}">${numbered ? j + 1 : escapeHtml(l)}</th>`).join('');
  const rows = labels.map((label, i) => {
    const row = matrix[i] ?? [];
    const total = row.reduce((a, b) => a + b, 0);
    const cells = labels.map((predicted, j) => {
      const v = row[j] ?? 0;
      const share = total > 0 ? v / total : 0;
      const hue = i === j ? '44, 160, 44' : '214, 39, 40';
      const text = v === 0 ? '' : `${Math.round(share * 100)}`;
      return `<td data-count="${v}" style="background: rgba(${hue}, ${(share * 0.85).toFixed(3)})" title="${v > 0 ? `${v} of ${total} true ${escapeHtml(label)} (${(share * 100).toFixed(1)}%) predicted ${escapeHtml(predicted)}` : ''}">${text}</td>`;
    }).join('');
    return `<tr><th scope="row">${numbered ? `${i + 1}. ` : ''}${escapeHtml(label)}</th>${cells}<td class="total">${total}</td></tr>`;
  }).join('\n');
  return `<div class="confusion-scroll"><table class="confusion${numbered ? ' numbered' : ''}"><thead><tr><th>true \\ predicted (% of row)</th>${head}<th>n</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table></div>`;
}

/** The most frequent confusions (true → predicted, off the diagonal), most first. */
export function topConfusions(confusion: { labels: string[]; matrix: number[][] }, count = 10): Array<{ actual: string; predicted: string; n: number; share: number }> {
  const out: Array<{ actual: string; predicted: string; n: number; share: number }> = [];
  confusion.matrix.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((v, j) => { if (i !== j && v > 0) out.push({ actual: confusion.labels[i] as string, predicted: confusion.labels[j] as string, n: v, share: v / total }); });
  });
  return out.sort((a, b) => b.n - a.n || b.share - a.share || a.actual.localeCompare(b.actual)).slice(0, count);
}

function topConfusionsHtml(confusion: { labels: string[]; matrix: number[][] }): string {
  const top = topConfusions(confusion);
  if (top.length === 0) return '<p>No confusions: every sample was predicted as its true class.</p>';
  return `<table class="top-confusions"><thead><tr><th>true</th><th>predicted</th><th>samples</th><th>% of true</th></tr></thead>\n<tbody>\n${top.map((c) =>
    `<tr><th scope="row">${escapeHtml(c.actual)}</th><td>${escapeHtml(c.predicted)}</td><td>${c.n}</td><td>${fmt(c.share * 100)}</td></tr>`).join('\n')}\n</tbody></table>`;
}

/** What each input brings: the scores without it (ablation) and its mean contribution. */
export function inputsTableHtml(e: Pick<ReportEvaluation, 'accuracy' | 'macroF1' | 'ablation' | 'contributions'>): string {
  const fields = [...new Set([...Object.keys(e.ablation ?? {}), ...Object.keys(e.contributions ?? {})])];
  if (fields.length === 0) return '';
  const delta = (v: number | undefined, full: number): string => (v === undefined ? '–' : `${fmt(v)} (${v - full >= 0 ? '+' : '−'}${fmt(Math.abs(v - full))})`);
  const rows = fields.map((f) => {
    const a = e.ablation?.[f];
    const c = e.contributions?.[f];
    return `<tr data-input="${escapeHtml(f)}"><th scope="row">${escapeHtml(f)}</th><td>${delta(a?.accuracy, e.accuracy)}</td><td>${delta(a?.macroF1, e.macroF1)}</td><td>${c === undefined ? '–' : fmt(c)}</td></tr>`;
  }).join('\n');
  return `<h3>Inputs: ablation and contributions</h3>
<p>Accuracy and macro F1 with the input removed from every sample (change from all inputs), and the input's mean contribution: how much the predicted label's probability drops without it.</p>
<table class="inputs"><thead><tr><th>input</th><th>accuracy without</th><th>macro F1 without</th><th>mean contribution</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`;
}

/** Per-class precision, recall, F1 (with a bar) and support. */
export function perClassTableHtml(perClass: Record<string, ClassScores>): string {
  const rows = Object.entries(perClass).map(([label, s]) =>
    `<tr><th scope="row">${escapeHtml(label)}</th><td>${fmt(s.precision)}</td><td>${fmt(s.recall)}</td>` +
    `<td class="f1"><svg width="120" height="12" aria-hidden="true"><rect width="${(Math.max(0, Math.min(1, s.f1)) * 120).toFixed(1)}" height="12" fill="#1f77b4"/></svg> ${fmt(s.f1)}</td><td>${s.support}</td></tr>`,
  ).join('\n');
  return `<table class="per-class"><thead><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr></thead>\n<tbody>\n${rows}\n</tbody></table>`;
}

/** Render the whole report. */
export function renderReport(input: ReportInput): string {
  const metricNames = [...new Set(input.history.flatMap((h) => Object.keys(h.metrics)))];
  const lossSeries = metricNames.filter((m) => /loss/i.test(m));
  const otherSeries = metricNames.filter((m) => !/loss/i.test(m) && !/(rate|lr|seconds|millis|time)$/i.test(m));
  const charts = [lineChartSvg('Loss', input.history, lossSeries, input.bestEpoch), lineChartSvg('Metrics', input.history, otherSeries, input.bestEpoch)].filter((s) => s !== '');
  const facts = input.facts.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  const evals = input.evaluations.map((e) => `
<section class="evaluation">
<h2>Evaluation: ${escapeHtml(e.name)}</h2>
<p>n = ${e.n}, accuracy = ${fmt(e.accuracy)}, macro F1 = ${fmt(e.macroF1)}${e.skipped > 0 ? `, ${e.skipped} bad samples skipped` : ''}</p>
${inputsTableHtml(e)}
<h3>Confusion matrix</h3>
${confusionTableHtml(e.confusion)}
<h3>Top confusions</h3>
${topConfusionsHtml(e.confusion)}
<h3>Per-class scores</h3>
${perClassTableHtml(e.perClass)}
</section>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${GENERATOR_META}
<title>${escapeHtml(input.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th[scope="row"], .facts td { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
pre { background: #f6f6f6; padding: 1rem; overflow: auto; }
td.total { color: #666; }
.confusion-scroll { max-width: 100%; max-height: 36rem; overflow: auto; border: 1px solid #ccc; margin: 0.5rem 0 1.5rem; }
.confusion-scroll table { margin: 0; }
table.confusion thead th { position: sticky; top: 0; background: #fff; z-index: 1; }
table.confusion th[scope="row"] { position: sticky; left: 0; background: #fff; white-space: nowrap; }
table.confusion.numbered td, table.confusion.numbered thead th { min-width: 1.6rem; padding: 0.1rem 0.2rem; font-size: 0.75rem; }
</style>
</head>
<body>
<h1>${escapeHtml(input.title)}</h1>
<table class="facts">
${facts}
</table>
<h2>Learning curves</h2>
<div class="charts">
${charts.length > 0 ? charts.join('\n') : '<p>No epochs were logged.</p>'}
</div>
${evals}
${input.config !== undefined ? `<h2>Config</h2>\n<pre>${escapeHtml(JSON.stringify(input.config, null, 2))}</pre>` : ''}
</body>
</html>
`;
}

/** One trained run as `mmfuse report` compares it (from the model folder's run.json). */
export interface ComparedRun {
  /** How the page names the run (the model folder's name). */
  name: string;
  history: EpochRecord[];
  bestEpoch?: number;
  evaluations: Array<{ name: string; n: number; accuracy: number; macroF1: number; perClass?: Record<string, ClassScores> }>;
  facts: Array<[string, string]>;
}

/** Each run's value of `metric` as its own series, for one chart (series named after the runs). */
function runSeries(runs: readonly ComparedRun[], metric: string): { history: EpochRecord[]; series: string[] } {
  const epochs = [...new Set(runs.flatMap((r) => r.history.map((h) => h.epoch)))].sort((a, b) => a - b);
  const history = epochs.map((epoch) => ({
    epoch,
    metrics: Object.fromEntries(runs.map((r) => [r.name, r.history.find((h) => h.epoch === epoch)?.metrics[metric] ?? Number.NaN])),
  }));
  return { history, series: runs.map((r) => r.name) };
}

/**
 * A page comparing runs side by side (as `ludwig visualize compare_performance` does): each curve metric
 * with one line per run, the held-out scores of every run in one table, and per-class F1 by run.
 */
export function renderComparison(title: string, runs: readonly ComparedRun[]): string {
  const metrics = [...new Set(runs.flatMap((r) => r.history.flatMap((h) => Object.keys(h.metrics))))].filter((m) => !/(rate|lr|seconds|millis|time)$/i.test(m));
  const charts = metrics.map((m) => { const { history, series } = runSeries(runs, m); return lineChartSvg(m, history, series); }).filter((s) => s !== '');
  const head = runs.map((r) => `<th scope="col">${escapeHtml(r.name)}</th>`).join('');
  const factKeys = [...new Set(runs.flatMap((r) => r.facts.map(([k]) => k)))];
  const factRows = factKeys.map((k) => `<tr><th scope="row">${escapeHtml(k)}</th>${runs.map((r) => `<td>${escapeHtml(r.facts.find(([f]) => f === k)?.[1] ?? '–')}</td>`).join('')}</tr>`);
  const sets = [...new Set(runs.flatMap((r) => r.evaluations.map((e) => e.name)))];
  const best = (values: number[]): number => Math.max(...values.filter((v) => Number.isFinite(v)));
  const scoreRows = sets.flatMap((set) => (['accuracy', 'macroF1'] as const).map((k) => {
    const values = runs.map((r) => r.evaluations.find((e) => e.name === set)?.[k] ?? Number.NaN);
    const top = best(values);
    return `<tr data-set="${escapeHtml(set)}" data-metric="${k}"><th scope="row">${escapeHtml(set)} ${k === 'macroF1' ? 'macro F1' : k}</th>${values.map((v) => `<td${v === top ? ' class="best"' : ''}>${fmt(v)}</td>`).join('')}</tr>`;
  }));
  // Per-class F1 on the first set every run scored (validation when there is one).
  const set = sets.find((s) => runs.every((r) => r.evaluations.some((e) => e.name === s && e.perClass !== undefined)));
  const perClass = set === undefined ? [] : [...new Set(runs.flatMap((r) => Object.keys(r.evaluations.find((e) => e.name === set)?.perClass ?? {})))];
  const f1Rows = perClass.map((label) => {
    const values = runs.map((r) => r.evaluations.find((e) => e.name === set)?.perClass?.[label]?.f1 ?? Number.NaN);
    const top = best(values);
    return `<tr><th scope="row">${escapeHtml(label)}</th>${values.map((v) => `<td${v === top && runs.length > 1 ? ' class="best"' : ''}>${fmt(v)}</td>`).join('')}</tr>`;
  });
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 70rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th[scope="row"] { text-align: left; }
td.best { font-weight: bold; background: #e8f4e8; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.scroll { max-width: 100%; max-height: 36rem; overflow: auto; }
</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<table class="runs"><thead><tr><th></th>${head}</tr></thead>
<tbody>
${factRows.join('\n')}
</tbody></table>
<h2>Held-out scores</h2>
<table class="scores"><thead><tr><th></th>${head}</tr></thead>
<tbody>
${scoreRows.join('\n')}
</tbody></table>
<h2>Learning curves</h2>
<div class="charts">
${charts.length > 0 ? charts.join('\n') : '<p>No epochs were logged.</p>'}
</div>
${set === undefined ? '' : `<h2>Per-class F1 (${escapeHtml(set)})</h2>\n<div class="scroll"><table class="per-class-f1"><thead><tr><th>class</th>${head}</tr></thead>\n<tbody>\n${f1Rows.join('\n')}\n</tbody></table></div>`}
</body>
</html>
`;
}
