/**
 * The report of a hyperparameter search: one self-contained HTML file (no scripts, no external assets)
 * with the trials ranked by the metric, their values, how far each ran and why it stopped, and the
 * validation loss per epoch of the best trials.
 */
import { escapeHtml, lineChartSvg } from '../report.js';
import type { EpochRecord } from '../report.js';

export interface TrialRow {
  trial: number;
  params: Record<string, unknown>;
  status: 'completed' | 'stopped' | 'failed';
  metric?: number;
  valLoss?: number;
  valAccuracy?: number;
  bestEpoch?: number;
  epochs?: number;
  stopReason?: string;
  error?: { code: string; message: string };
  seconds?: number;
  worker?: string;
  baseline?: boolean;
  valLossHistory?: (number | null)[];
}

export interface SearchReport {
  title: string;
  facts: Array<[string, string]>;
  metric: string;
  maximize: boolean;
  trials: TrialRow[];
  bestTrial?: number;
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Number(v.toPrecision(4)).toString();
  return v === undefined ? '–' : JSON.stringify(v);
}

/** Trials best first (failed last), by the metric. */
export function rankTrials<T extends Pick<TrialRow, 'metric' | 'trial'>>(trials: readonly T[], maximize: boolean): T[] {
  return [...trials].sort((a, b) => {
    const am = a.metric, bm = b.metric;
    if (am === undefined && bm === undefined) return a.trial - b.trial;
    if (am === undefined) return 1;
    if (bm === undefined) return -1;
    return maximize ? bm - am || a.trial - b.trial : am - bm || a.trial - b.trial;
  });
}

export function renderSearchReport(r: SearchReport): string {
  const keys = [...new Set(r.trials.flatMap((t) => Object.keys(t.params)))];
  const ranked = rankTrials(r.trials, r.maximize);
  const head = ['rank', 'trial', 'status', r.metric, 'valLoss', 'valAccuracy', 'best epoch', 'epochs run', 'seconds', 'worker', ...keys, 'note']
    .map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  const rows = ranked.map((t, i) => {
    const cls = t.trial === r.bestTrial ? ' class="best"' : t.status === 'failed' ? ' class="failed"' : '';
    const note = t.error !== undefined ? `[${t.error.code}] ${t.error.message}` : t.stopReason ?? (t.baseline === true ? 'the config as written' : '');
    const cells = [t.status === 'failed' ? '–' : String(i + 1), String(t.trial) + (t.baseline === true ? ' (config)' : ''), t.status, fmt(t.metric), fmt(t.valLoss), fmt(t.valAccuracy), fmt(t.bestEpoch), fmt(t.epochs), t.seconds === undefined ? '–' : t.seconds.toFixed(1), t.worker ?? '–', ...keys.map((k) => (k in t.params ? fmt(t.params[k]) : '–')), note];
    return `<tr${cls}>${cells.map((c, j) => `<td${j === cells.length - 1 ? ' class="note"' : ''}>${escapeHtml(c)}</td>`).join('')}</tr>`;
  }).join('\n');
  // Curves of the best few trials (more would be unreadable).
  const shown = ranked.filter((t) => t.valLossHistory !== undefined).slice(0, 6);
  const maxEpoch = Math.max(0, ...shown.map((t) => t.valLossHistory?.length ?? 0));
  const history: EpochRecord[] = Array.from({ length: maxEpoch }, (_, e) => ({
    epoch: e + 1,
    metrics: Object.fromEntries(shown.flatMap((t) => { const v = t.valLossHistory?.[e]; return v === null || v === undefined ? [] : [[`trial ${t.trial}`, v]]; })),
  }));
  const chart = lineChartSvg('Validation loss per epoch (best trials)', history, shown.map((t) => `trial ${t.trial}`));
  const facts = r.facts.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(r.title)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th[scope="row"], .facts td, td.note { text-align: left; }
tr.best { background: #e6f4e6; font-weight: bold; }
tr.failed { color: #a33; }
</style>
</head>
<body>
<h1>${escapeHtml(r.title)}</h1>
<table class="facts">
${facts}
</table>
<h2>Trials, best first (${escapeHtml(r.metric)}, ${r.maximize ? 'higher' : 'lower'} is better)</h2>
<table class="trials"><thead><tr>${head}</tr></thead>
<tbody>
${rows}
</tbody></table>
${chart !== '' ? `<h2>Learning curves</h2>\n${chart}` : ''}
</body>
</html>
`;
}
