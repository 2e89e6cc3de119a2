/**
 * The declarative config file, read by `@mmfuse/fusion`'s one config reader (`readConfigFile`,
 * `loadConfigFile`), which library users call too. This module keeps the CLI's names for it.
 */
import { applyOverrides, isPathSpecifier, loadConfigFile, normalizeModelPart, parseConfigText, readConfigFile, splitConfig } from '@mmfuse/fusion';
import type { ConfigFile, ConfigOverrides, DataPaths, LoadedConfigFile } from '@mmfuse/fusion';

export { DATA_KEYS, MODEL_KEYS } from '@mmfuse/fusion';
export { applyOverrides, isPathSpecifier, normalizeModelPart, parseConfigText };
export type { DataPaths };

/** Top-level keys the CLI itself reads (`description` is free text for humans). */
export { FILE_KEYS as CLI_KEYS } from '@mmfuse/fusion';

/** A config file split into its model part and its CLI part. */
export type CliConfig = ConfigFile;
/** A config file read, checked and normalized: what `mmfuse train` runs. */
export type LoadedConfig = LoadedConfigFile;

/** Check the parts of a parsed config that are not the model's and split it (see `splitConfig`). */
export const splitCliConfig: (raw: unknown, file: string) => CliConfig = splitConfig;

/** Read and split a config file (see `readConfigFile`). */
export const readCliConfig: (file: string) => Promise<CliConfig> = readConfigFile;

/** Read, check, apply `--seed` / `--epochs` and fill in every default (see `loadConfigFile`). */
export function loadConfig(file: string, overrides: ConfigOverrides = {}): Promise<LoadedConfig> {
  return loadConfigFile(file, { overrides });
}
