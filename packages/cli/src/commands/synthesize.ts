/**
 * `mmfuse synthesize --data MANIFEST --field text --out DIR [--voices ...] [--per-text N] [--engine ...]`
 * Speaks every text of a manifest in several voices (@mmfuse/speech) and writes WAV clips plus a manifest
 * with phoneme transcripts. The spec is here with the runner; @mmfuse/speech loads only when it runs.
 */
import type { CommandSpec, ParsedArgs } from '../internal/args.js';
import { UsageError } from '@mmfuse/core';
import type { CliIo, CommandResult } from '../internal/io.js';
import { fromCwd, logger } from './common.js';

export const synthesizeSpec: CommandSpec = {
  name: 'synthesize',
  summary: 'Speak every text of a manifest in several voices (Flite built in, espeak-ng if installed): WAV clips + a manifest with phoneme transcripts.',
  positionals: [],
  options: {
    data: { type: 'string', valueName: 'MANIFEST', description: 'JSONL or CSV manifest with the texts', required: true },
    field: { type: 'string', valueName: 'NAME', description: 'Field holding the text (default text)' },
    out: { type: 'string', valueName: 'DIR', description: 'Output folder: new, empty, or an earlier synthesize output (resumes; never deletes)', required: true },
    voices: { type: 'string', valueName: 'IDS', description: 'Voice ids, comma-separated, e.g. flite:slt,espeak-ng:en-gb+f3 (default: every voice of the engines x --rates x --pitches)', repeatable: true },
    engine: { type: 'string', valueName: 'NAME', description: 'flite (built in) or espeak-ng (needs the espeak-ng program); default both, espeak-ng only when installed', repeatable: true },
    'per-text': { type: 'integer', valueName: 'N', description: 'Voices per text (default 3)', min: 1 },
    rates: { type: 'string', valueName: 'LIST', description: 'Rate factors without --voices (default 0.85,1,1.15)' },
    pitches: { type: 'string', valueName: 'LIST', description: 'Pitch factors without --voices (default 0.9,1,1.1)' },
    'sample-rate': { type: 'integer', valueName: 'HZ', description: 'Rate of the clips (default 16000)', min: 4000, max: 96000 },
    phonemizer: { type: 'string', valueName: 'NAME', description: 'flite (default, built in) or espeak-ng' },
    'phonemes-field': { type: 'string', valueName: 'NAME', description: 'Name of the phoneme field written (default phonemes)' },
    jobs: { type: 'integer', valueName: 'N', description: 'Clips synthesized at once (default 2)', min: 1, max: 64 },
    seed: { type: 'integer', valueName: 'N', description: 'Seed of the voice choice per text (default 0)', min: 0 },
    json: { type: 'boolean', description: 'Print one JSON object as the last line of stdout' },
  },
  epilog: 'Example: mmfuse synthesize --data train.jsonl --out speech --per-text 4 --engine flite --engine espeak-ng\nWrites DIR/manifest.jsonl (original fields + id, sourceId, audio, phonemes, voice) and DIR/clips/*.wav.',
};

function numberList(raw: unknown, name: string): number[] | undefined {
  if (raw === undefined) return undefined;
  const values = String(raw).split(',').map((s) => Number(s.trim()));
  if (values.length === 0 || values.some((v) => !Number.isFinite(v))) throw new UsageError(`--${name} expects comma-separated numbers, got ${JSON.stringify(raw)}`, { command: 'synthesize' });
  return values;
}

export async function runSynthesize(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'synthesize');
  const speech = await import('@mmfuse/speech');
  const o = args.options;
  const engineArgs = (o.engine as string[] | undefined) ?? [];
  for (const e of engineArgs) if (e !== 'flite' && e !== 'espeak-ng') throw new UsageError(`--engine must be flite or espeak-ng, got ${JSON.stringify(e)}`, { command: 'synthesize' });
  const phonemizer = o.phonemizer as string | undefined;
  if (phonemizer !== undefined && phonemizer !== 'flite' && phonemizer !== 'espeak-ng') throw new UsageError(`--phonemizer must be flite or espeak-ng, got ${JSON.stringify(phonemizer)}`, { command: 'synthesize' });
  let engines = engineArgs as ('flite' | 'espeak-ng')[];
  if (engines.length === 0) {
    engines = ['flite'];
    try {
      await speech.getEngine('espeak-ng').checkAvailable();
      engines.push('espeak-ng');
    } catch {
      log('espeak-ng is not installed (apt-get install espeak-ng): using the built-in Flite voices only');
    }
  }
  const voiceIds = ((o.voices as string[] | undefined) ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter((v) => v !== '');
  const rates = numberList(o.rates, 'rates');
  const pitches = numberList(o.pitches, 'pitches');
  const voices = voiceIds.length > 0
    ? voiceIds
    : speech.voiceGrid({ engines, ...(rates === undefined ? {} : { rates }), ...(pitches === undefined ? {} : { pitches }) });
  const out = fromCwd(io, o.out as string);
  let lastLogged = 0;
  const result = await speech.synthesizeCorpus({
    manifest: fromCwd(io, o.data as string),
    out,
    voices,
    ...(o.field === undefined ? {} : { field: o.field as string }),
    ...(o['per-text'] === undefined ? {} : { perText: o['per-text'] as number }),
    ...(o['sample-rate'] === undefined ? {} : { sampleRateHz: o['sample-rate'] as number }),
    ...(phonemizer === undefined ? {} : { phonemizer: phonemizer as 'flite' | 'espeak-ng' }),
    ...(o['phonemes-field'] === undefined ? {} : { phonemesField: o['phonemes-field'] as string }),
    ...(o.jobs === undefined ? {} : { concurrency: o.jobs as number }),
    ...(o.seed === undefined ? {} : { seed: o.seed as number }),
    onProgress: (done, total) => {
      if (done === total || done - lastLogged >= 200) {
        lastLogged = done;
        log(`${done}/${total} clips`);
      }
    },
  });
  for (const f of result.failed) log(`failed ${f.file}:${f.line}${f.voice !== undefined ? ` voice ${f.voice}` : ''}: ${f.reason}`);
  const human = `${result.clips} clips (${result.written} new, ${result.reused} reused) for ${result.samples} samples in ${result.voices.length} voices -> ${result.manifest}${result.failed.length > 0 ? `; ${result.failed.length} failed (listed above)` : ''}`;
  return { json: { ...result }, human, exitCode: result.clips === 0 ? 1 : 0 };
}
