/**
 * `mmfuse pretrain-speech --data MANIFEST --out DIR [--epochs N] ...`: CTC phoneme pretraining of the
 * `audio/phonetic` encoder on a `mmfuse synthesize` corpus (@mmfuse/speech), with the phoneme error rate on
 * held-out speakers. The spec is here with the runner; @mmfuse/speech loads only when it runs.
 */
import type { CommandSpec, ParsedArgs } from '../internal/args.js';
import { UsageError } from '@mmfuse/core';
import { startEngine } from '../internal/model.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { fromCwd, logger } from './common.js';

export const pretrainSpeechSpec: CommandSpec = {
  name: 'pretrain-speech',
  summary: 'Pretrain the audio/phonetic speech encoder on phonemes (CTC) from a "mmfuse synthesize" corpus; reports the phoneme error rate on held-out voices.',
  positionals: [],
  options: {
    data: { type: 'string', valueName: 'MANIFEST', description: 'Manifest with audio, phonemes and voice fields (as "mmfuse synthesize" writes)', required: true },
    out: { type: 'string', valueName: 'DIR', description: 'Encoder folder to write (new, empty, or an earlier output); load it with encoder: { kind: phonetic, pretrained: DIR }', required: true },
    epochs: { type: 'integer', valueName: 'N', description: 'Passes over the training clips (default 10)', min: 1 },
    'batch-size': { type: 'integer', valueName: 'N', description: 'Clips per step (default 16)', min: 1 },
    'learning-rate': { type: 'number', valueName: 'LR', description: 'Peak learning rate (default 0.002)', min: 0 },
    'held-out': { type: 'string', valueName: 'SPEAKERS', description: 'Held-out speakers, comma-separated engine:voice (default: 20% of each engine\'s speakers)', repeatable: true },
    'hidden-size': { type: 'integer', valueName: 'N', description: 'GRU size per direction (default 128)', min: 1 },
    layers: { type: 'integer', valueName: 'N', description: 'BiGRU layers (default 2)', min: 1, max: 8 },
    'conv-channels': { type: 'integer', valueName: 'N', description: 'Channels of the two conv blocks (default 128)', min: 1 },
    'no-augment': { type: 'boolean', description: 'Train on the clean clips (default: a random channel/room per clip and epoch)' },
    limit: { type: 'integer', valueName: 'N', description: 'Use only the first N manifest lines (a quick trial)', min: 1 },
    seed: { type: 'integer', valueName: 'N', description: 'Seed (default 0)', min: 0 },
    json: { type: 'boolean', description: 'Print one JSON object as the last line of stdout' },
  },
  epilog: 'Example: mmfuse synthesize --data train.jsonl --out speech && mmfuse pretrain-speech --data speech/manifest.jsonl --out speech-encoder --epochs 12',
};

export async function runPretrainSpeech(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'pretrain-speech');
  const o = args.options;
  const rate = o['learning-rate'] as number | undefined;
  if (rate !== undefined && !(rate > 0)) throw new UsageError(`--learning-rate must be positive, got ${rate}`, { command: 'pretrain-speech' });
  await startEngine(log);
  const speech = await import('@mmfuse/speech');
  const heldOut = ((o['held-out'] as string[] | undefined) ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  const conv = o['conv-channels'] as number | undefined;
  const encoder = {
    ...(o['hidden-size'] === undefined ? {} : { hiddenSize: o['hidden-size'] as number }),
    ...(o.layers === undefined ? {} : { layers: o.layers as number }),
    ...(conv === undefined ? {} : { convChannels: [conv, conv] }),
  };
  const result = await speech.pretrainSpeechEncoder({
    manifest: fromCwd(io, o.data as string),
    out: fromCwd(io, o.out as string),
    encoder,
    augment: o['no-augment'] !== true,
    ...(heldOut.length === 0 ? {} : { heldOutSpeakers: heldOut }),
    ...(o.epochs === undefined ? {} : { epochs: o.epochs as number }),
    ...(o['batch-size'] === undefined ? {} : { batchSize: o['batch-size'] as number }),
    ...(rate === undefined ? {} : { learningRate: rate }),
    ...(o.limit === undefined ? {} : { limit: o.limit as number }),
    ...(o.seed === undefined ? {} : { seed: o.seed as number }),
    log,
  });
  for (const s of result.skipped) log(`skipped ${s.file}:${s.line}${s.field !== undefined ? ` field "${s.field}"` : ''}: ${s.reason}`);
  const examples = result.examples.map((e) => `  ${e.voice}: heard "${e.heard}" for "${e.reference}"`).join('\n');
  const human = `held-out PER ${(100 * result.heldOutPer).toFixed(1)}% (epoch ${result.bestEpoch}; ${result.trainClips} training clips, ${result.heldOutClips} held-out clips of ${result.heldOutSpeakers.join(', ')}; ${result.parameters} parameters; ${result.seconds.toFixed(0)} s) -> ${result.out}\n${examples}`;
  return { json: { ...result }, human };
}
