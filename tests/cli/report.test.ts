import { describe, expect, it } from 'vitest';
import { confusionTableHtml, inputsTableHtml, lineChartSvg, renderReport, topConfusions } from 'mmfuse';
import type { EpochRecord } from 'mmfuse';

const history: EpochRecord[] = [
  { epoch: 1, metrics: { loss: 1.2, valLoss: 1.3, valAccuracy: 0.4, learningRate: 0.001 } },
  { epoch: 2, metrics: { loss: 0.8, valLoss: 1.0, valAccuracy: 0.6, learningRate: 0.001 } },
  { epoch: 3, metrics: { loss: 0.5, valLoss: Number.NaN, valAccuracy: 0.7, learningRate: 0.001 } },
];

describe('HTML report', () => {
  it('draws one path per series with one point per finite value, scaled into the plot', () => {
    const svg = lineChartSvg('Loss', history, ['loss', 'valLoss']);
    const paths = [...svg.matchAll(/<path d="([^"]+)"[^>]*data-series="([^"]+)"/g)];
    expect(paths.map((p) => p[2])).toEqual(['loss', 'valLoss']);
    const coords = paths.map((p) => [...p[1]!.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]));
    expect(coords[0]).toHaveLength(3);
    expect(coords[1]).toHaveLength(2); // NaN skipped
    // The first epoch has the highest loss, so it is drawn highest (smallest y); x grows with the epoch.
    const loss = coords[0]!;
    expect(loss[0]![1]).toBeLessThan(loss[2]![1]!);
    expect(loss[0]![0]).toBeLessThan(loss[2]![0]!);
    for (const [x, y] of coords.flat()) { expect(x).toBeGreaterThanOrEqual(0); expect(x).toBeLessThanOrEqual(520); expect(y).toBeGreaterThanOrEqual(0); expect(y).toBeLessThanOrEqual(300); }
    expect(lineChartSvg('none', history, ['missing'])).toBe('');
  });

  it('renders the confusion matrix normalized by row, with counts and row totals, and escapes labels', () => {
    const html = confusionTableHtml({ labels: ['cat', '<dog>'], matrix: [[3, 1], [0, 2]] });
    expect(html).toContain('&lt;dog&gt;');
    expect(html).not.toContain('<dog>');
    const rows = [...html.matchAll(/<tr><th scope="row">([^<]+)<\/th>(.*?)<\/tr>/g)].map((m) => [m[1], [...m[2]!.matchAll(/data-count="(\d+)"[^>]*>(\d*)<\/td>/g)].map((c) => [Number(c[1]), c[2]]), m[2]!.match(/class="total">(\d+)</)?.[1]]);
    // Cells show the percentage of the true class (blank for none); the count stays in data-count.
    expect(rows).toEqual([['cat', [[3, '75'], [1, '25']], '4'], ['&lt;dog&gt;', [[0, ''], [2, '100']], '2']]);
    expect(html).toContain('title="1 of 4 true cat (25.0%) predicted &lt;dog&gt;"');
  });

  it('lists the top confusions, most first, and numbers the columns of a large matrix', () => {
    const labels = Array.from({ length: 20 }, (_, i) => `intent_${i}`);
    const matrix = labels.map((_, i) => labels.map((_, j) => (i === j ? 10 : j === (i + 1) % 20 ? i % 4 : 0)));
    const top = topConfusions({ labels, matrix }, 3);
    expect(top.map((c) => [c.actual, c.predicted, c.n])).toEqual([['intent_11', 'intent_12', 3], ['intent_15', 'intent_16', 3], ['intent_19', 'intent_0', 3]]);
    expect(top[0]!.share).toBeCloseTo(3 / 13, 10);
    const html = confusionTableHtml({ labels, matrix });
    expect(html).toContain('<th scope="col" title="intent_3">4</th>');
    expect(html).toContain('<th scope="row">4. intent_3</th>');
  });

  it('marks the best epoch on the curves and shows what each input brings', () => {
    const svg = lineChartSvg('Loss', history, ['loss'], 2);
    const marker = /<line x1="([\d.]+)" x2="([\d.]+)"[^>]*data-marker="best-epoch"/.exec(svg);
    expect(marker).not.toBeNull();
    const points = [...svg.matchAll(/<circle cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(Number(marker![1])).toBeCloseTo(points[1]!, 1); // at epoch 2's x
    expect(lineChartSvg('Loss', history, ['loss'])).not.toContain('best-epoch');
    const inputs = inputsTableHtml({ accuracy: 0.9, macroF1: 0.8, ablation: { text: { accuracy: 0.5, macroF1: 0.4 }, audio: { accuracy: 0.85, macroF1: 0.8 } }, contributions: { text: 0.31, audio: 0.02 } });
    expect(inputs).toMatch(/<tr data-input="text"><th scope="row">text<\/th><td>0\.5 \(−0\.4\)<\/td><td>0\.4 \(−0\.4\)<\/td><td>0\.31<\/td><\/tr>/);
    expect(inputs).toMatch(/<tr data-input="audio"><th scope="row">audio<\/th><td>0\.85 \(−0\.05\)<\/td><td>0\.8 \(\+0\)<\/td><td>0\.02<\/td><\/tr>/);
    expect(inputsTableHtml({ accuracy: 1, macroF1: 1 })).toBe('');
  });

  it('is one self-contained page with curves, evaluations and config', () => {
    const html = renderReport({
      title: 'Report <run>',
      facts: [['config', 'model.yaml'], ['engine', 'wasm']],
      history,
      evaluations: [{
        name: 'validation', n: 6, accuracy: 5 / 6, macroF1: 0.8, skipped: 1,
        perClass: { cat: { precision: 0.75, recall: 1, f1: 0.857, support: 3 }, dog: { precision: 1, recall: 0.667, f1: 0.8, support: 3 } },
        confusion: { labels: ['cat', 'dog'], matrix: [[3, 0], [1, 2]] },
      }],
      config: { fusion: { dModel: 16 } },
    });
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>Report &lt;run&gt;</title>');
    expect(html.match(/<svg xmlns/g)).toHaveLength(2); // loss chart + metrics chart
    expect(html).toContain('data-series="valAccuracy"');
    expect(html).not.toContain('data-series="learningRate"');
    expect(html).toMatch(/n = 6, accuracy = 0\.833, macro F1 = 0\.8, 1 bad samples skipped/);
    expect(html).toMatch(/<th scope="row">cat<\/th><td>0\.75<\/td><td>1<\/td><td class="f1">.*0\.857<\/td><td>3<\/td>/);
    expect(html).toContain('&quot;dModel&quot;: 16');
    // Self-contained: no scripts, no external resources.
    expect(html).not.toMatch(/<script|<link|src=|href=/i);
  });
});
