/**
 * The small-scale phonetic pretraining run of issue 16: synthesize the customer-service bot's English
 * training messages in several engines/voices, pretrain `audio/phonetic` with CTC, report the phoneme error
 * rate on held-out speakers. Writes only under OUT (default /tmp/mmfuse-cs-speech).
 *
 *   node --conditions=source --import tsx scripts/speech/pretrain-customer-service.ts [OUT] [--epochs N] [--per-text N]
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { initEngine } from '@mmfuse/core';
import { pretrainSpeechEncoder, synthesizeCorpus, voiceGrid } from '@mmfuse/speech';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const OUT = path.resolve(args.find((a, i) => !a.startsWith('--') && (i === 0 || !args[i - 1]?.startsWith('--'))) ?? '/tmp/mmfuse-cs-speech');

// Training speakers and held-out speakers (every rate/pitch of a held-out speaker is held out).
const FLITE = ['slt', 'rms', 'kal16', 'awb'];
const ESPEAK = ['en-us', 'en-us+f3', 'en-gb+m3', 'en-gb-x-rp+f4', 'en-029+m2', 'en-gb-scotland+f2', 'en-us-nyc+m5', 'en-gb-x-gbclan+f1'];
const HELD_OUT = ['flite:awb', 'espeak-ng:en-gb-scotland+f2', 'espeak-ng:en-us+f3'];

async function main(): Promise<void> {
  await initEngine();
  mkdirSync(OUT, { recursive: true });
  const texts = readFileSync(path.join(REPO, 'examples/customer-service/data/train.jsonl'), 'utf8').trim().split('\n')
    .map((l) => JSON.parse(l) as { id: string; text?: string; lang: string })
    .filter((r) => r.text !== undefined && r.lang === 'en');
  const manifest = path.join(OUT, 'texts.jsonl');
  writeFileSync(manifest, `${texts.map((r) => JSON.stringify({ id: r.id, text: r.text })).join('\n')}\n`);
  const voices = [
    ...voiceGrid({ engines: ['flite'], voices: FLITE, rates: [0.9, 1.1], pitches: [0.9, 1.1] }),
    ...voiceGrid({ engines: ['espeak-ng'], voices: ESPEAK, rates: [0.9, 1.1], pitches: [0.9, 1.1] }),
  ];
  const t0 = Date.now();
  const synth = await synthesizeCorpus({ manifest, out: path.join(OUT, 'speech'), voices, perText: flag('per-text', 5), concurrency: 2, onProgress: (d, n) => { if (d % 250 === 0 || d === n) console.log(`synthesize ${d}/${n}`); } });
  console.log(`synthesized ${synth.clips} clips (${synth.written} new) in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${synth.failed.length} failed`);
  const result = await pretrainSpeechEncoder({
    manifest: synth.manifest,
    out: path.join(OUT, 'encoder'),
    heldOutSpeakers: HELD_OUT,
    epochs: flag('epochs', 12),
    batchSize: 16,
    learningRate: flag('lr', 3e-3),
    encoder: { convChannels: [96, 96], hiddenSize: 96, layers: 2, dropout: 0.1 },
    log: (l) => console.log(l),
  });
  console.log(JSON.stringify({ heldOutPer: result.heldOutPer, bestEpoch: result.bestEpoch, trainClips: result.trainClips, heldOutClips: result.heldOutClips, parameters: result.parameters, seconds: result.seconds, examples: result.examples }, null, 1));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack ?? err.message : err);
  process.exit(1);
});
