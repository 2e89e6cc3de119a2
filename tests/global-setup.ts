// One temporary folder per test run: TMPDIR points into it for the test processes and every process they
// start (os.tmpdir()), and the whole folder is removed when the run ends — the test files make temporary
// folders freely (mkdtemp) and a test that fails half-way, or a killed child process, leaves nothing behind
// in the system's /tmp. The folder is this run's own (made here), so removing it deletes nothing else.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-test-run-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      console.warn(`could not remove the test run's temporary folder ${dir}: ${(err as Error).message}`);
    }
  };
}
