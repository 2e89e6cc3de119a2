/** What every command takes and returns (owned here, so commands and `main` do not import each other). */
import type { ParsedArgs } from './args.js';

/** Where a command writes. Replaceable so the CLI can run in process. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Folder that relative command-line paths resolve against. */
  cwd: string;
  /**
   * stderr is a terminal: training draws a live bar with ETA there. Default false: one plain line per
   * event, each written whole (logs redirected to a file or a pipe never get half lines or bar redraws).
   */
  stderrIsTTY?: boolean;
}

/** What a command returns: the JSON object for `--json`, and the text printed otherwise. */
export interface CommandResult {
  json: Record<string, unknown>;
  human: string;
  exitCode?: number;
}

export type CommandRunner = (args: ParsedArgs, io: CliIo) => Promise<CommandResult>;
