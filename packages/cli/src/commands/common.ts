/** Helpers shared by the commands. */
import * as path from 'node:path';
import type { SkippedSample } from '@mmfuse/core';
import type { ProgressStream } from '@mmfuse/fusion';
import type { ParsedArgs } from '../internal/args.js';
import { isPathSpecifier } from '../internal/config-file.js';
import type { CliIo } from '../internal/io.js';

/**
 * A stderr logger with the command's prefix; each line is one write. On a terminal the line first erases
 * the row it starts on, so a line logged while a progress bar is drawn (e.g. "SIGINT: stopping") replaces the
 * bar instead of being appended to it; the next step draws the bar again.
 */
export function logger(io: CliIo, command: string): (line: string) => void {
  const erase = io.stderrIsTTY === true ? '\r\x1b[K' : '';
  return (line) => io.stderr(`${erase}mmfuse ${command}: ${line}\n`);
}

/** Training progress for fit's options: a live bar with ETA when stderr is a terminal, plain lines otherwise. */
export function progressOptions(io: CliIo): { progress: 'bar' | 'lines'; progressStream: ProgressStream } {
  const isTTY = io.stderrIsTTY === true;
  return { progress: isTTY ? 'bar' : 'lines', progressStream: { isTTY, write: (text: string) => { io.stderr(text); } } };
}

/** A command-line path, absolute (relative to the working folder). */
export function fromCwd(io: CliIo, p: string): string {
  return path.resolve(io.cwd, p);
}

/** A skipped sample as the JSON output lists it: line, sample, field, code, reason, and the manifest file. */
export function skippedJson(s: SkippedSample, manifest: string): Record<string, unknown> {
  // `line` is a line of the manifest; a data file named by the error (a missing image) is kept apart.
  const out: Record<string, unknown> = { file: manifest, line: s.line };
  if (s.file !== '(input)' && s.file !== manifest) out.dataFile = s.file;
  if (s.sample !== undefined) out.sample = s.sample;
  if (s.field !== undefined) out.field = s.field;
  out.code = s.code;
  out.reason = s.reason;
  return out;
}

/** One line per skipped sample for stderr. */
export function describeSkipped(s: SkippedSample, manifest: string): string {
  return `skipped ${path.basename(manifest)}:${s.line}${s.field !== undefined ? ` field "${s.field}"` : ''}: ${s.reason}`;
}

/** Numbers rounded for human output. */
export function round(v: number, digits = 4): number {
  return Number.isFinite(v) ? Number(v.toFixed(digits)) : v;
}

/** `--plugin` values: paths resolved against the working folder, package names as given. */
export function pluginArgs(args: ParsedArgs, io: CliIo): string[] {
  return ((args.options.plugin as string[] | undefined) ?? []).map((p) => (isPathSpecifier(p) ? fromCwd(io, p) : p));
}
