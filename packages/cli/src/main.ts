/**
 * The `mmfuse` command line. Exit codes: 0 success, 1 failure (bad data, bad config, I/O), 2 usage error.
 * With `--json` the last line of stdout is one JSON object (on failure: `{ "error": { code, message, ... } }`).
 * Logs and progress go to stderr.
 */
import { InternalError, UsageError, isMmfuseError } from '@mmfuse/core';
import { closest, helpText, parseArgs, usageLine } from './internal/args.js';
import type { CommandSpec, ParsedArgs } from './internal/args.js';
import type { CliIo, CommandResult, CommandRunner } from './internal/io.js';
import { COMMANDS } from './commands/specs.js';

export type { CliIo, CommandResult, CommandRunner } from './internal/io.js';

const VERSION = '0.1.0';

/** Load a command's implementation only when it runs, so `--help` stays fast. */
async function loadRunner(name: string): Promise<CommandRunner> {
  switch (name) {
    case 'train': return (await import('./commands/train.js')).runTrain;
    case 'eval': return (await import('./commands/eval.js')).runEval;
    case 'predict': return (await import('./commands/predict.js')).runPredict;
    case 'serve': return (await import('./commands/serve.js')).runServe;
    case 'export': return (await import('./commands/export.js')).runExport;
    case 'inspect': return (await import('./commands/inspect.js')).runInspect;
    case 'report': return (await import('./commands/report.js')).runReport;
    case 'schema': return (await import('./commands/schema.js')).runSchema;
    case 'synthesize': return (await import('./commands/synthesize.js')).runSynthesize;
    case 'pretrain-speech': return (await import('./commands/pretrain-speech.js')).runPretrainSpeech;
    case 'prepare': return (await import('./commands/prepare.js')).runPrepare;
    case 'worker': return (await import('./commands/worker.js')).runWorker;
    case 'hyperopt': return (await import('./commands/hyperopt.js')).runHyperopt;
    case 'compress': return (await import('./commands/compress.js')).runCompress;
    case 'distill': return (await import('./commands/distill.js')).runDistill;
    default: throw new UsageError(`unknown command "${name}"`, { command: name });
  }
}

function generalHelp(): string {
  const lines = ['Usage: mmfuse <command> [options]', '', 'Train, evaluate and serve multimodal (text, audio, image) models.', '', 'Commands:'];
  for (const c of COMMANDS) lines.push(`  ${c.name.padEnd(17)}${c.summary}`);
  lines.push('', 'Run "mmfuse <command> --help" for the options of a command.', 'Options: -h, --help; --version', '',
    'Exit codes: 0 success, 1 failure, 2 usage error. With --json the last line of stdout is one JSON object.');
  return lines.join('\n') + '\n';
}

/** A usage mistake (exit code 2), also from another copy of @mmfuse/core. */
function isUsageError(err: unknown): err is UsageError {
  return isMmfuseError(err) && err.code === 'USAGE';
}

/** The `--json` error object: the error's own `toJSON()` (a bug is wrapped as an InternalError first). */
function errorJson(err: unknown): Record<string, unknown> {
  const e = isMmfuseError(err) ? err : new InternalError(err instanceof Error ? err.message : String(err), { cause: err });
  const out = e.toJSON();
  return out;
}

/** Run the CLI on `argv` (without `node` and the script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    io.stderr(generalHelp());
    return 2;
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    const topic = command === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    io.stdout(topic ? helpText(topic) : generalHelp());
    return 0;
  }
  if (command === '--version' || command === '-v') {
    io.stdout(`${VERSION}\n`);
    return 0;
  }
  const spec: CommandSpec | undefined = COMMANDS.find((c) => c.name === command);
  if (spec === undefined) {
    const hint = closest(command, COMMANDS.map((c) => c.name));
    io.stderr(`mmfuse: unknown command ${JSON.stringify(command)}${hint !== undefined ? ` (did you mean "${hint}"?)` : ''}; commands are ${COMMANDS.map((c) => c.name).join(', ')}. Run "mmfuse --help".\n`);
    return 2;
  }
  let args: ParsedArgs;
  try {
    args = parseArgs(spec, rest);
  } catch (err) {
    if (!isUsageError(err)) throw err;
    io.stderr(`mmfuse ${spec.name}: ${err.message}\nUsage: ${usageLine(spec)}\nRun "mmfuse ${spec.name} --help" for details.\n`);
    return 2;
  }
  if (args.help) {
    io.stdout(helpText(spec));
    return 0;
  }
  const wantJson = args.options.json === true;
  try {
    const run = await loadRunner(spec.name);
    const result = await run(args, io);
    if (wantJson) io.stdout(`${JSON.stringify(result.json)}\n`);
    else if (result.human !== '') io.stdout(result.human.endsWith('\n') ? result.human : `${result.human}\n`);
    return result.exitCode ?? 0;
  } catch (err) {
    if (isUsageError(err)) {
      io.stderr(`mmfuse ${spec.name}: ${err.message}\nUsage: ${usageLine(spec)}\n`);
      return 2;
    }
    if (isMmfuseError(err)) io.stderr(`mmfuse ${spec.name}: error [${err.code}]: ${err.message}\n`);
    else io.stderr(`mmfuse ${spec.name}: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    if (wantJson) io.stdout(`${JSON.stringify({ error: errorJson(err) })}\n`);
    return 1;
  }
}

function defaultIo(): CliIo {
  return {
    stdout: (t) => { process.stdout.write(t); },
    stderr: (t) => { process.stderr.write(t); },
    cwd: process.cwd(),
    stderrIsTTY: process.stderr.isTTY === true,
  };
}

/** True when this module is the process's entry point (not imported by tests or by bin/mmfuse.js). */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  return /[\\/]cli[\\/](src[\\/]main\.ts|dist[\\/]main\.c?js)$/.test(entry);
}

if (isEntryPoint()) {
  // No top-level await: this file is also built as CommonJS.
  void main(process.argv.slice(2)).then((code) => {
    // Let stdout drain before exiting; `serve` has already closed its server when it returns.
    process.exitCode = code;
    if (process.stdout.writableLength === 0) process.exit(code);
    else process.stdout.once('drain', () => process.exit(code));
  });
}
