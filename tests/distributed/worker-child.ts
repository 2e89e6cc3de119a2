// A worker process for the package tests of @mmfuse/distributed (run with tsx): handlers that double a
// number, wait, or kill their own process on a poison value (a decoder that crashes the process).
// Usage: worker-child.ts REDIS_URL LOCK_MILLIS [slow]   (only a slow worker honours `waitMillis`)
import { StateError } from '@mmfuse/core';
import { startWorker } from '@mmfuse/distributed';

const [url, lock, slow] = process.argv.slice(2) as [string, string, string | undefined];
const worker = await startWorker({
  url,
  lockMillis: Number(lock),
  maxStalls: 1,
  healthIntervalMillis: 0,
  log: (line) => process.stderr.write(`[child ${process.pid}] ${line}\n`),
  handlers: {
    double: async (data: { n: number; crash?: boolean; waitMillis?: number }) => {
      if (data.crash === true) process.kill(process.pid, 'SIGKILL');
      if (data.waitMillis !== undefined && slow === 'slow') await new Promise((r) => setTimeout(r, data.waitMillis));
      return { n: data.n * 2, pid: process.pid };
    },
    fail: async () => { throw new StateError('never'); },
  },
});
process.on('SIGTERM', () => { void worker.close('finish').then(() => process.exit(0)); });
