// The training report as a person sees it: a 77-class report (Banking77's size) opened in Debian's headless
// chromium through playwright-core (no browser download). The confusion matrix scrolls inside its own box
// (the page itself never scrolls sideways) with its headers kept in view, the best epoch is drawn on the
// curves, and the inputs and top-confusions tables are there. The comparison of runs draws every run.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { renderComparison, renderReport } from 'mmfuse';
import type { ClassScores, EpochRecord } from 'mmfuse';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-report-browser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A 77-class evaluation: mostly right, each class confused with its neighbour now and then. */
function evaluation77(): { labels: string[]; matrix: number[][]; perClass: Record<string, ClassScores> } {
  const labels = Array.from({ length: 77 }, (_, i) => `intent_with_a_long_name_${i}`);
  const matrix = labels.map((_, i) => labels.map((_, j) => (i === j ? 30 + (i % 7) : j === (i + 1) % 77 ? i % 5 : 0)));
  const perClass = Object.fromEntries(labels.map((l, i) => [l, { precision: 0.9, recall: 0.85, f1: 0.87, support: (matrix[i] as number[]).reduce((a, b) => a + b, 0) }]));
  return { labels, matrix, perClass };
}

describe('the training report in headless chromium', () => {
  it('keeps a 77-class confusion matrix readable: its own scroll box, sticky headers, marked best epoch', async () => {
    const { labels, matrix, perClass } = evaluation77();
    const history: EpochRecord[] = Array.from({ length: 8 }, (_, i) => ({ epoch: i + 1, metrics: { loss: 2 / (i + 1), valLoss: 2.2 / (i + 1) + (i > 4 ? 0.1 * (i - 4) : 0), valAccuracy: 0.5 + i * 0.05 } }));
    const file = path.join(dir, 'report.html');
    writeFileSync(file, renderReport({
      title: 'banking77-sized report',
      facts: [['labels', String(labels.length)]],
      history,
      bestEpoch: 5,
      evaluations: [{ name: 'validation', n: 3000, accuracy: 0.86, macroF1: 0.85, perClass, confusion: { labels, matrix }, skipped: 0, ablation: { text: { accuracy: 0.2, macroF1: 0.18 }, audio: { accuracy: 0.8, macroF1: 0.79 } }, contributions: { text: 0.4, audio: 0.05 } }],
    }));
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(pathToFileURL(file).href);
      const layout = await page.evaluate(() => {
        const box = document.querySelector('.confusion-scroll') as HTMLElement;
        const table = box.querySelector('table') as HTMLTableElement;
        const firstCell = table.querySelector('tbody td') as HTMLElement;
        const head = table.querySelector('thead th[scope="col"]') as HTMLElement;
        const before = head.getBoundingClientRect().top - box.getBoundingClientRect().top;
        box.scrollTop = 600;
        box.scrollLeft = 800;
        const after = head.getBoundingClientRect().top - box.getBoundingClientRect().top;
        const rowHead = table.querySelector('tbody th[scope="row"]') as HTMLElement;
        const rowHeadLeft = rowHead.getBoundingClientRect().left - box.getBoundingClientRect().left;
        const marker = document.querySelector('[data-marker="best-epoch"]') as SVGLineElement;
        return {
          pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
          boxWidth: box.clientWidth, tableWidth: box.scrollWidth, boxHeight: box.clientHeight, tableHeight: box.scrollHeight,
          rows: table.querySelectorAll('tbody tr').length, columns: table.querySelectorAll('thead th[scope="col"]').length,
          cellFontPx: parseFloat(getComputedStyle(firstCell).fontSize), before, after, rowHeadLeft,
          markers: document.querySelectorAll('[data-marker="best-epoch"]').length, markerHeight: marker.getBoundingClientRect().height,
          topConfusions: document.querySelectorAll('table.top-confusions tbody tr').length,
          inputs: Array.from(document.querySelectorAll('table.inputs tbody tr')).map((r) => (r as HTMLElement).dataset.input),
        };
      });
      // The page never scrolls sideways; the matrix scrolls inside its box, both ways.
      expect(layout.pageWidth).toBeLessThanOrEqual(layout.viewport);
      expect(layout.tableWidth).toBeGreaterThan(layout.boxWidth);
      expect(layout.tableHeight).toBeGreaterThan(layout.boxHeight);
      expect([layout.rows, layout.columns]).toEqual([77, 77]);
      expect(layout.cellFontPx).toBeGreaterThanOrEqual(11);
      // Scrolled down and right, the column numbers stay at the box's top and the class names at its left.
      expect(Math.abs(layout.after - layout.before)).toBeLessThan(2);
      expect(Math.abs(layout.rowHeadLeft)).toBeLessThan(2);
      expect(layout.markers).toBe(2); // loss chart and metrics chart
      expect(layout.markerHeight).toBeGreaterThan(100);
      expect(layout.topConfusions).toBe(10);
      expect(layout.inputs).toEqual(['text', 'audio']);
    } finally {
      await browser.close();
    }
  });

  it('draws the comparison of runs: one visible line per run in each chart, the better score marked', async () => {
    const { labels, perClass } = evaluation77();
    const curve = (k: number): EpochRecord[] => Array.from({ length: 6 }, (_, i) => ({ epoch: i + 1, metrics: { loss: k / (i + 1), valAccuracy: 0.4 + (i * 0.1) / k } }));
    const file = path.join(dir, 'compare.html');
    writeFileSync(file, renderComparison('runs', [
      { name: 'text-only', history: curve(1), bestEpoch: 6, evaluations: [{ name: 'validation', n: 3000, accuracy: 0.8, macroF1: 0.78, perClass }], facts: [['engine', 'wasm']] },
      { name: 'fused', history: curve(2), evaluations: [{ name: 'validation', n: 3000, accuracy: 0.86, macroF1: 0.85, perClass }], facts: [['engine', 'wasm'], ['epochs run', '6']] },
    ]));
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(pathToFileURL(file).href);
      const seen = await page.evaluate(() => ({
        lines: Array.from(document.querySelectorAll('svg path[data-series]')).map((p) => {
          const r = p.getBoundingClientRect();
          return [(p as SVGPathElement).dataset.series, r.width > 50 && r.height > 1];
        }),
        best: Array.from(document.querySelectorAll('table.scores td.best')).map((td) => (td as HTMLTableCellElement).cellIndex),
        f1Rows: document.querySelectorAll('table.per-class-f1 tbody tr').length,
        pageWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
      }));
      expect(seen.lines).toEqual([['text-only', true], ['fused', true], ['text-only', true], ['fused', true]]);
      expect(seen.best).toEqual([2, 2]); // the fused run's accuracy and macro F1 (column 2)
      expect(seen.f1Rows).toBe(77);
      expect(seen.pageWidth).toBeLessThanOrEqual(seen.viewport);
    } finally {
      await browser.close();
    }
  });
});
