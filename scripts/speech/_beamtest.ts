import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { editDistance, initEngine } from '@mmfuse/core';
import '@mmfuse/audio';
import '@mmfuse/text-rnn';
import { FusionModel } from '@mmfuse/fusion';
import { SpeechRecognizer, lexiconWords } from '@mmfuse/speech';
import { askVoice } from '../../examples/customer-service/heard.js';
await initEngine();
const work = '/work/benchclone/bench/.work/speech';
const clipDir = path.join(work, 'bot-test');
const clips = readFileSync(path.join(clipDir, 'manifest.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const oos = new Set(JSON.parse(readFileSync('examples/customer-service/config.json', 'utf8')).output?.outOfScope?.labels ?? []);
const ins = clips.filter((c: any) => !oos.has(c.label));
const model = await FusionModel.load(path.join(work, 'bot-model'));
const grids = JSON.parse(process.env.GRID ?? '[{}]');
for (const g of [null, ...grids]) {
  const rec = await SpeechRecognizer.load({ encoder: 'examples/customer-service/speech/encoder', lexicon: 'examples/customer-service/speech/lexicon.json', ...(g === null ? {} : { search: 'beam', beam: g }) });
  const heard = await rec.transcribe(ins.map((c: any) => ({ sample: c.id, audio: c.audio })), { baseDir: clipDir });
  rec.dispose();
  let e = 0, n = 0;
  heard.forEach((h: any, i) => { const r = lexiconWords(ins[i].text); e += editDistance(r, h.words); n += r.length; });
  const acc = (await model.evaluate(ins.map((c: any, i) => ({ id: c.id, fields: askVoice('bot', { audio: path.join(clipDir, c.audio), label: c.label }, (heard[i] as any).words.join(' ')) })), { ablation: false })).accuracy;
  console.log(`${g === null ? 'greedy' : JSON.stringify(g)} clips ${ins.length} WER ${(100 * e / n).toFixed(2)}% voice-only ${(100 * acc).toFixed(1)}%`);
}
