// A third-party encoder whose decoder takes the whole process down on one kind of file, as a native decoder
// that segfaults on a corrupt input would: `signal/crashy` is examples/signal-plugin.ts's `signal/frames`,
// except that preparing a trace file that starts with the bytes "CRSH" kills the process (SIGKILL).
// Used by tests/distributed/poison.test.ts as the poison job of `mmfuse prepare --redis`.
import { readFile } from 'node:fs/promises';
import { registerEncoderOnce } from '@mmfuse/core';
import type { PrepareContext } from '@mmfuse/core';
import { SignalFramesEncoder } from '../../examples/signal-plugin.js';
import type { SignalEncoderConfig } from '../../examples/signal-plugin.js';

export const CRASH_MAGIC = 'CRSH';

registerEncoderOnce('signal/crashy', 'signal', (config) => {
  const encoder = new SignalFramesEncoder(config as SignalEncoderConfig);
  const prepare = encoder.prepare.bind(encoder);
  return Object.assign(encoder, {
    kind: 'signal/crashy',
    prepare: async (raw: string | Uint8Array, ctx: PrepareContext): Promise<Float32Array> => {
      const bytes = typeof raw === 'string' ? await readFile(raw) : Buffer.from(raw);
      if (bytes.subarray(0, 4).toString('latin1') === CRASH_MAGIC) process.kill(process.pid, 'SIGKILL');
      return prepare(raw, ctx);
    },
  });
}, 'signal/frames that kills its process on a trace file starting with "CRSH" (a crashing decoder, for tests)');
