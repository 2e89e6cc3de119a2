/**
 * The system programs (Debian packages) some tests drive for real, and the test files that need them.
 * `.ci/run` installs every one (`.ci/apt-packages.txt`) and sets MMFUSE_TEST_SYSTEM=require: in CI a missing
 * program fails the run. Elsewhere, a user's `npm test` on a machine without one leaves out the tests that
 * need it and says, at the start of the run, which package to install to run them; the rest of the suite runs.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface SystemProgram {
  /** What the tests run. */
  readonly what: string;
  /** The Debian package that provides it. */
  readonly debian: string;
  readonly present: () => boolean;
}

const runs = (program: string, args: string[]) => (): boolean => {
  const r = spawnSync(program, args, { stdio: 'ignore', timeout: 30_000 });
  return r.error === undefined && r.status === 0;
};

export const SYSTEM = {
  ffmpeg: { what: 'ffmpeg', debian: 'ffmpeg', present: runs('ffmpeg', ['-version']) },
  sox: { what: 'sox', debian: 'sox', present: runs('sox', ['--version']) },
  opusenc: { what: 'opusenc', debian: 'opus-tools', present: runs('opusenc', ['--version']) },
  espeakNg: { what: 'espeak-ng', debian: 'espeak-ng', present: runs('espeak-ng', ['--version']) },
  redis: { what: 'redis-server', debian: 'redis-server', present: runs('redis-server', ['--version']) },
  chromium: { what: '/usr/bin/chromium', debian: 'chromium', present: () => existsSync('/usr/bin/chromium') },
  onnx: { what: 'the ONNX checker (python3 -c "import onnx")', debian: 'python3-onnx', present: runs('/usr/bin/python3', ['-c', 'import onnx']) },
} as const satisfies Record<string, SystemProgram>;

/** Test files that cannot run without a program (left out of the run when one is missing, outside CI). */
export const FILES_NEEDING: Readonly<Record<string, readonly SystemProgram[]>> = {
  'tests/audio/formats.test.ts': [SYSTEM.ffmpeg, SYSTEM.sox, SYSTEM.opusenc],
  'tests/audio/formats-bad-input.test.ts': [SYSTEM.ffmpeg],
  'tests/audio/formats-e2e.test.ts': [SYSTEM.ffmpeg],
  'tests/audio/formats-memory.test.ts': [SYSTEM.ffmpeg],
  'tests/audio/webm-lacing.test.ts': [SYSTEM.ffmpeg],
  'tests/distributed/executor.test.ts': [SYSTEM.redis],
  'tests/distributed/hyperopt.test.ts': [SYSTEM.redis],
  'tests/distributed/poison.test.ts': [SYSTEM.redis],
  'tests/distributed/predict.test.ts': [SYSTEM.redis],
  'tests/distributed/prepare.test.ts': [SYSTEM.redis],
  'tests/speech/fusion-voice.test.ts': [SYSTEM.espeakNg],
  'tests/speech/pretrain.test.ts': [SYSTEM.espeakNg],
  'tests/speech/synthesis.test.ts': [SYSTEM.espeakNg],
  'tests/examples/browser-bot.test.ts': [SYSTEM.chromium],
  'tests/cli/report-browser.test.ts': [SYSTEM.chromium],
};

/** Whether CI asked for every program (a missing one then fails instead of skipping). */
export const systemRequired = (): boolean => process.env['MMFUSE_TEST_SYSTEM'] === 'require';

const known = new Map<SystemProgram, boolean>();
const skipSaid = new Set<string>();

/** Whether `p` is installed (probed once per process). */
export function hasSystem(p: SystemProgram): boolean {
  let ok = known.get(p);
  if (ok === undefined) {
    ok = p.present();
    known.set(p, ok);
  }
  return ok;
}

/**
 * For a test (or an assertion) that needs `p`: true when it can run. Under MMFUSE_TEST_SYSTEM=require a missing
 * program throws, naming its package; otherwise it prints once why the test is skipped.
 */
export function canRunWith(p: SystemProgram, test: string): boolean {
  if (hasSystem(p)) return true;
  const why = `${p.what} is not installed (Debian: apt-get install ${p.debian})`;
  if (systemRequired()) throw new Error(`${test}: ${why}; MMFUSE_TEST_SYSTEM=require (set by .ci/run, which installs it) makes that an error`);
  const line = `Skipping ${test}: ${why}.`;
  if (!skipSaid.has(line)) console.log(line);
  skipSaid.add(line);
  return false;
}

/** The test files to leave out because a program they need is missing (empty under MMFUSE_TEST_SYSTEM=require). */
export function filesToLeaveOut(): { file: string; missing: SystemProgram[] }[] {
  if (systemRequired()) return [];
  const out: { file: string; missing: SystemProgram[] }[] = [];
  for (const [file, needs] of Object.entries(FILES_NEEDING)) {
    const missing = needs.filter((p) => !hasSystem(p));
    if (missing.length > 0) out.push({ file, missing });
  }
  return out;
}
