// Run in a fresh process by faults.test.ts (which SIGKILLs it): train a tiny model from a manifest with a
// checkpoint after every epoch, optionally resuming, and print one `epoch N` line per finished epoch.
// argv: CONFIG_JSON TRAIN_MANIFEST CHECKPOINT_DIR ('-': none) OUT_DIR RESUME(0|1) [CACHE_DIR]
// With PAUSE_IN_CHECKPOINT_WRITE=1 the first checkpoint write stops for good just before its trainer.json
// (the temp folder holds the model files) and says `writing-checkpoint`: the test kills it there, at a
// moment it chose, instead of racing a write that lasts a few milliseconds.
import { readFileSync } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { initEngine } from '@mmfuse/core';
import { trainFromManifest } from '@mmfuse/fusion';
import type { FitOptions, FusionModelConfig } from '@mmfuse/fusion';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import '@mmfuse/vision-cnn';

const [configFile, train, checkpointDir, out, resume, cacheDir] = process.argv.slice(2) as [string, string, string, string, string, string | undefined];
if (process.env.PAUSE_IN_CHECKPOINT_WRITE === '1') {
  const fsp = createRequire(import.meta.url)('node:fs/promises') as { writeFile: (...args: unknown[]) => Promise<void> };
  const writeFile = fsp.writeFile;
  fsp.writeFile = (...args: unknown[]): Promise<void> => {
    if (/[\\/]\.last\.tmp-[^\\/]+[\\/]trainer\.json$/.test(String(args[0]))) {
      process.stdout.write('writing-checkpoint\n');
      return new Promise<void>(() => undefined);
    }
    return writeFile(...args);
  };
  syncBuiltinESMExports();
}
await initEngine();
const config = JSON.parse(readFileSync(configFile, 'utf8')) as FusionModelConfig;
const options: Omit<FitOptions, 'validation' | 'baseDir' | 'validationBaseDir'> = {
  progress: 'lines',
  log: (line) => process.stderr.write(`${line}\n`),
  onEpoch: (m) => process.stdout.write(`epoch ${m.epoch}\n`),
};
if (checkpointDir !== '-') { options.checkpointDir = checkpointDir; options.resume = resume === '1'; }
if (cacheDir !== undefined) options.cacheDir = cacheDir;
const { model, history } = await trainFromManifest({ config, train, out, ...options });
process.stdout.write(`done ${JSON.stringify({ epochs: history.epochs.length, history: history.epochs.map((e) => e.epoch) })}\n`);
model.dispose();
