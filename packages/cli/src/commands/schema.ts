/**
 * `mmfuse schema [--plugin MODULE]...`: print the JSON Schema of config files (JSON or YAML), built from
 * the registered encoders' declared options, for editor autocomplete and checks:
 * `mmfuse schema > mmfuse.schema.json`, then `# yaml-language-server: $schema=./mmfuse.schema.json` at the
 * top of a YAML config, or `"$schema": "./mmfuse.schema.json"` in a JSON one.
 */
import type { CommandSpec, ParsedArgs } from '../internal/args.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { logger, pluginArgs } from './common.js';

export const schemaSpec: CommandSpec = {
  name: 'schema',
  summary: 'Print the JSON Schema of config files (every registered encoder\'s options) for editor autocomplete.',
  positionals: [],
  options: {
    plugin: { type: 'string', valueName: 'MODULE', description: 'Import a module that registers encoders (a third-party modality) first', repeatable: true },
  },
  epilog: 'Example: mmfuse schema > mmfuse.schema.json, then in a YAML config: # yaml-language-server: $schema=./mmfuse.schema.json',
};

export async function runSchema(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  // Loaded here, not at the top, so the command table stays light for --help. Importing internal/model.js
  // registers the built-in encoders; --plugin adds third-party ones.
  const { loadPlugins } = await import('../internal/model.js');
  const { configJsonSchema } = await import('@mmfuse/fusion');
  await loadPlugins(pluginArgs(args, io), logger(io, 'schema'));
  const schema = configJsonSchema();
  // The schema itself is the output (also for --json-style use): one JSON document on stdout.
  return { json: schema, human: JSON.stringify(schema, null, 2) };
}
