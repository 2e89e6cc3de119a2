// A request's answer must not depend on the requests batched with it: `serve` answers one request at a time,
// `eval` and `predictMany` answer batches, and training sees batches. The audio input is capped at
// `maxTokens` (pooled), the case that used to take its windows from the batch's padded length.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tone, wavBytes } from '../cli/fixtures.js';
import { botConfig, logitsOf, maxAbsDiff, trainBot, writeBotData } from './compress-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-batch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A clip of `seconds` at 8 kHz written into the test folder. */
function clip(name: string, hz: number, seconds: number): string {
  const file = path.join(dir, `${name}.wav`);
  writeFileSync(file, wavBytes(tone(hz, seconds, 8000, 3), 8000));
  return file;
}

describe.each(['transformer', 'late', 'cross-attention'] as const)('%s fusion', (strategy) => {
  it('a short clip gets the same logits alone as batched with a clip five times longer (audio pooled to maxTokens)', async () => {
    const model = await trainBot(botConfig({ strategy, epochs: 1 }), writeBotData(dir, `train-${strategy}`, 24, 7));
    // 0.5 s: 51 frames, 13 after the two conv blocks (stride 2, then 2): more than maxTokens 8, so it is pooled.
    const requests = [
      { audio: clip('short', 700, 0.5) },
      { audio: clip('long', 300, 2.6) },
      { text: 'my card is lost', audio: clip('short-2', 1300, 0.45) },
    ];
    const prepared = (await model.prepareInputs(requests)).map((o) => { if (!o.ok) throw o.error; return o.value.values; });
    const batched = await logitsOf(model.state, prepared);
    const k = batched.length / requests.length;
    for (const i of [0, 2]) {
      const alone = await logitsOf(model.state, [prepared[i] as unknown[]]);
      expect(maxAbsDiff(alone, batched.slice(i * k, (i + 1) * k)), `request ${i}`).toBeLessThan(1e-4);
    }
    model.dispose();
  });
});
