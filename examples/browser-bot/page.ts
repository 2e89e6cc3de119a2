/// <reference lib="dom" />
/**
 * The bot page: loads `model.onnx` + `model.json` (written by build.ts) and `answers.json` from its own
 * folder, then answers a typed message and/or a voice clip (an uploaded WAV, or a recording made here and
 * written as WAV) in the page, with no server round trip. The last answer is also kept as JSON in
 * `#result-json` (what the browser test reads).
 */
import * as ort from 'onnxruntime-web/wasm';
import { encodeWav } from '@mmfuse/audio/dsp';
import type { OnnxModelMetadata } from '@mmfuse/fusion/feeds';
import { BrowserBot } from './bot-runtime.js';
import type { BotPrediction, OrtWeb } from './bot-runtime.js';

type Answers = Record<string, { en: string; zh: string }>;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** A recording (any format the browser decodes) as mono WAV bytes at its own rate. */
async function toWav(blob: Blob): Promise<Uint8Array> {
  const context = new AudioContext();
  try {
    const buffer = await context.decodeAudioData(await blob.arrayBuffer());
    const mono = new Float32Array(buffer.length);
    for (let c = 0; c < buffer.numberOfChannels; c++) buffer.getChannelData(c).forEach((v, i) => { mono[i]! += v / buffer.numberOfChannels; });
    for (let i = 0; i < mono.length; i++) mono[i] = Math.max(-1, Math.min(1, mono[i] as number));
    return encodeWav(mono, { sampleRateHz: buffer.sampleRate });
  } finally {
    await context.close();
  }
}

function show(p: BotPrediction, answers: Answers, text: string | undefined): void {
  const zh = text !== undefined && /[\u4e00-\u9fff]/.test(text);
  const answer = answers[p.label];
  $('intent').textContent = p.label;
  $('confidence').textContent = `${((p.probabilities[p.label] ?? 0) * 100).toFixed(1)} %`;
  $('answer').textContent = answer === undefined ? '(no answer for this intent)' : zh ? answer.zh : answer.en;
  $('contributions').textContent = Object.entries(p.contributions).map(([f, v]) => `${f}: ${v >= 0 ? '+' : ''}${v.toFixed(3)}`).join('   ') || '—';
  $('used').textContent = p.modalitiesUsed.join(', ');
  $('result-json').textContent = JSON.stringify(p);
  $('result').dataset.state = 'ready';
}

async function main(): Promise<void> {
  const status = $('status');
  ort.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
  ort.env.wasm.numThreads = 1; // no cross-origin isolation on a plain static server
  const [model, metadata, answers] = await Promise.all([
    fetchBytes('model.onnx'),
    fetch('model.json').then((r) => r.json() as Promise<OnnxModelMetadata>),
    fetch('answers.json').then((r) => (r.ok ? (r.json() as Promise<Answers>) : {})),
  ]);
  const bot = await BrowserBot.load(ort as unknown as OrtWeb, model, metadata);
  const textField = bot.fieldsOf('text')[0];
  const audioField = bot.fieldsOf('audio')[0];
  let recorded: Uint8Array | undefined;
  status.textContent = `model loaded: inputs ${bot.fields.join(', ')}; ${bot.labels.length} intents`;
  document.body.dataset.state = 'ready';

  const ask = async (): Promise<void> => {
    $('result').dataset.state = 'busy';
    try {
      const request: Record<string, unknown> = {};
      const text = ($('text') as HTMLInputElement).value.trim();
      if (textField !== undefined && text !== '') request[textField] = text;
      const file = ($('audio-file') as HTMLInputElement).files?.[0];
      const clip = file !== undefined ? new Uint8Array(await file.arrayBuffer()) : recorded;
      if (audioField !== undefined && clip !== undefined) request[audioField] = clip;
      show(await bot.predict(request), answers, text === '' ? undefined : text);
    } catch (err) {
      $('result-json').textContent = JSON.stringify({ error: (err as Error).message });
      $('intent').textContent = `error: ${(err as Error).message}`;
      $('result').dataset.state = 'error';
    }
  };
  $('ask').addEventListener('click', () => { void ask(); });
  $('text').addEventListener('keydown', (e) => { if ((e as KeyboardEvent).key === 'Enter') void ask(); });
  $('clear').addEventListener('click', () => {
    ($('text') as HTMLInputElement).value = '';
    ($('audio-file') as HTMLInputElement).value = '';
    recorded = undefined;
    $('recording').textContent = '';
  });

  let recorder: MediaRecorder | undefined;
  $('record').addEventListener('click', async () => {
    if (recorder !== undefined && recorder.state === 'recording') { recorder.stop(); return; }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const chunks: Blob[] = [];
      recorder = new MediaRecorder(stream);
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = async () => {
        stream.getTracks().forEach((t) => t.stop());
        recorded = await toWav(new Blob(chunks, { type: recorder?.mimeType }));
        $('record').textContent = 'Record';
        $('recording').textContent = `recorded ${(recorded.length / 1024).toFixed(0)} KiB`;
      };
      recorder.start();
      $('record').textContent = 'Stop';
    } catch (err) {
      $('recording').textContent = `cannot record: ${(err as Error).message}`;
    }
  });
}

main().catch((err: unknown) => {
  $('status').textContent = `cannot start: ${(err as Error).message}`;
  document.body.dataset.state = 'error';
});
