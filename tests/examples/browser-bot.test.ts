// The bot in a real headless browser (Debian's chromium driven by playwright-core, no browser download): a
// small bot model trained here, exported and bundled by examples/browser-bot/build.ts, served from
// 127.0.0.1; the page answers a typed message, a WAV clip and both, in the page, with the same answer as
// `FusionModel.predict` in Node, and makes no request outside the local server.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import '@mmfuse/audio';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import type { FusionModelConfig, Prediction } from '@mmfuse/fusion';
import { buildBrowserBot } from '../../examples/browser-bot/build.js';
import { serveStatic } from '../../examples/browser-bot/serve.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const data = path.join(root, 'examples/customer-service/data');
const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function manifest(file: string): { id: string; fields: Record<string, unknown> }[] {
  return readFileSync(path.join(data, file), 'utf8').trim().split('\n').map((line) => {
    const row = JSON.parse(line) as Record<string, unknown>;
    const fields: Record<string, unknown> = { label: row.label };
    if (typeof row.text === 'string') fields.text = row.text;
    if (typeof row.audio === 'string') fields.audio = path.join(data, row.audio);
    return { id: String(row.id), fields };
  });
}

const text = { type: 'text', encoder: { kind: 'rnn', embeddingDim: 16, hiddenSize: 16, cell: 'gru', bidirectional: true, charNgrams: { buckets: 2000 } }, preprocessing: { tokenizer: { type: 'cjk', lowercase: true, maxLength: 24 } } };
const textNgram = { type: 'text', encoder: { kind: 'ngram', dim: 16, buckets: 2000, featureWeights: true } };
const audioCnn = { type: 'audio', encoder: { kind: 'cnn', channels: [8, 8], dropout: 0.1 }, preprocessing: { sampleRateHz: 8000, nMels: 24, nFft: 200, hopLength: 80, normalization: 'global' }, maxTokens: 12 };
const audioPhonetic = { type: 'audio', encoder: { kind: 'phonetic', sampleRateHz: 8000, nMels: 24, nFft: 200, hopLength: 80, convChannels: [16], hiddenSize: 12, layers: 1 } };

function expectSame(page: Prediction, node: Prediction): void {
  expect(page.label).toBe(node.label);
  expect(page.modalitiesUsed).toEqual(node.modalitiesUsed);
  // The page applies the model's calibration (temperature, out-of-scope threshold) as Node does.
  expect(page.outOfScope).toBe(node.outOfScope);
  // An energy+nearest out-of-scope score: the graph's nearest output and the saved reference, as in Node.
  expect(page.scopeScore === undefined).toBe(node.scopeScore === undefined);
  if (node.scopeScore !== undefined) expect(Math.abs((page.scopeScore as number) - node.scopeScore)).toBeLessThan(1e-6);
  for (const [l, v] of Object.entries(node.probabilities ?? {})) expect(Math.abs((page.probabilities?.[l] ?? NaN) - v)).toBeLessThan(1e-4);
  expect(Object.keys(page.contributions ?? {})).toEqual(Object.keys(node.contributions ?? {}));
  for (const [f, v] of Object.entries(node.contributions ?? {})) expect(Math.abs((page.contributions?.[f] ?? NaN) - v)).toBeLessThan(1e-4);
}

async function ask(page: Page, request: { text?: string; wav?: string }): Promise<Prediction> {
  await page.click('#clear');
  if (request.text !== undefined) await page.fill('#text', request.text);
  if (request.wav !== undefined) await page.setInputFiles('#audio-file', request.wav);
  await page.click('#ask');
  await page.waitForSelector('#result[data-state="ready"], #result[data-state="error"]', { timeout: 120_000 });
  const json = JSON.parse((await page.textContent('#result-json')) ?? '{}') as Prediction & { error?: string };
  expect(json.error).toBeUndefined();
  return json;
}

describe('the bot page in headless chromium', () => {
  // The first is the bot's: text/ngram and text/use reading one field (the sentence encoder runs in the page
  // on TensorFlow.js, its files served under use/), and audio/cnn. The second scores out-of-scope requests by
  // energy+nearest (so it keeps a quarter of its samples for validation, which that score is fitted on).
  const cases = [
    ['text/ngram + text/use (whole, and depth 0) + audio/cnn, late fusion (the bot\'s encoders)', { text: textNgram, sentence: { type: 'text', field: 'text', encoder: { kind: 'use', scale: 8 } }, pieces: { type: 'text', field: 'text', encoder: { kind: 'use', depth: 0 } }, audio: audioCnn }, 'late', {}],
    ['text/rnn + audio/phonetic, Transformer fusion, energy+nearest out-of-scope score', { text, audio: audioPhonetic }, 'transformer', { outOfScope: { threshold: 'auto', score: 'energy+nearest' } }],
  ] as const;
  for (const [name, inputs, strategy, outOfScope] of cases) {
    it(`answers typed and spoken requests in the page as Node does (${name})`, async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-browser-bot-'));
      dirs.push(dir);
      const scored = 'outOfScope' in outOfScope;
      const config = { inputs, fusion: { strategy, dModel: 32, layers: 1, heads: 4, modalityDropout: 0.3 }, output: { field: 'label', type: 'category', ...outOfScope }, training: { epochs: 1, batchSize: 32, learningRate: 3e-3, seed: 7, validationSplit: scored ? 0.25 : 0 } } as FusionModelConfig;
      const model = FusionModel.create(config);
      let context: BrowserContext | undefined;
      let server: Awaited<ReturnType<typeof serveStatic>> | undefined;
      try {
        // One epoch on a third of the training set: the answers must equal Node's, not be good.
        await model.fit(manifest('train.jsonl').filter((_, i) => i % 3 === 0), { progress: 'none', log: () => undefined });
        const test = manifest('test.jsonl');
        const typed = test.find((s) => s.fields.text !== undefined && s.fields.audio === undefined) as unknown as { fields: { text: string } };
        // The label Node answers the typed request with becomes an out-of-scope label (as the bot's
        // `out_of_scope` intent), so the page must hand that request over by its label.
        const typedLabel = String((await model.predict({ text: typed.fields.text })).label);
        const output = model.state.output as unknown as { calibration: { outOfScopeLabels?: string[] } };
        output.calibration = { ...output.calibration, outOfScopeLabels: [typedLabel] };
        const publicDir = path.join(dir, 'public');
        await buildBrowserBot({ model: model.state, outDir: publicDir });
        server = await serveStatic(publicDir);
        context = await chromium.launchPersistentContext(path.join(dir, 'profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS });
        const outside: string[] = [];
        await context.route('**/*', async (route) => {
          if (new URL(route.request().url()).hostname === '127.0.0.1') await route.continue();
          else { outside.push(route.request().url()); await route.abort(); }
        });
        const page = await context.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        await page.goto(server.url);
        await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 120_000 });
        expect(await page.getAttribute('body', 'data-state'), (await page.textContent('#status')) ?? '').toBe('ready');

        const spoken = test.find((s) => s.fields.audio !== undefined && s.fields.text === undefined) as unknown as { fields: { audio: string } };
        const both = test.find((s) => s.fields.audio !== undefined && s.fields.text !== undefined) as unknown as { fields: { text: string; audio: string } };
        if (scored) expect(model.state.scopeMemory?.rows).toBeGreaterThan(0);
        const typedPage = await ask(page, { text: typed.fields.text });
        if (scored) expect(typeof typedPage.scopeScore).toBe('number');
        expect(typedPage).toMatchObject({ label: typedLabel, outOfScope: true });
        expectSame(typedPage, await model.predict({ text: typed.fields.text }));
        expectSame(await ask(page, { wav: spoken.fields.audio }), await model.predict({ audio: spoken.fields.audio }));
        expectSame(await ask(page, { text: both.fields.text, wav: both.fields.audio }), await model.predict({ text: both.fields.text, audio: both.fields.audio }));
        expect((await page.textContent('#answer'))?.length ?? 0).toBeGreaterThan(0);
        expect(errors).toEqual([]);
        expect(outside).toEqual([]);
      } finally {
        await context?.close();
        await server?.close();
        model.dispose();
      }
    }, 600_000);
  }
});
