/**
 * The one reader of config files (JSON or YAML), for library users and the CLI alike: parse the file
 * (syntax errors with their line), check the top-level keys (model sections plus `data`, `plugins`,
 * `description`, with "did you mean"), resolve data and plugin paths against the file's folder, and
 * normalize the model part with `normalizeConfig`. Errors are `ConfigError`s naming the file and key path.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, IoError, checkObject, describeValue, encoders as globalRegistry, isMmfuseError, unknownKeyReason } from '@mmfuse/core';
import type { EncoderRegistry, JsonObject } from '@mmfuse/core';
import { DATA_KEYS, FILE_KEYS, MODEL_KEYS, normalizeConfig } from './config.js';
import type { FusionModelConfig, ResolvedConfig } from './config.js';

/** Largest config file read (configs are a few kilobytes). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/** Manifest paths of a config, absolute (resolved against the config file's folder). */
export interface DataPaths {
  /** Training manifest. Required by `mmfuse train`. */
  train?: string;
  /** Validation manifest. Default: none, so `training.validationSplit` of the training data is held out. */
  validation?: string;
  /** Test manifest, evaluated after training. Default: none. */
  test?: string;
}

/** A config file split into its model part and the rest. */
export interface ConfigFile {
  /** Absolute path of the config file. */
  file: string;
  /** Folder of the config file; data paths resolve against it. */
  baseDir: string;
  /** The model config as written (not yet normalized): `inputs`, `output`, and optional `fusion`, `training`. */
  model: JsonObject;
  data: DataPaths;
  /**
   * Modules that register encoders (third-party modalities), to import before the model is built. Paths
   * (`./x.js`, `../x.ts`, absolute) are resolved against the config file; bare names are packages. Default none.
   */
  plugins: string[];
  description?: string;
}

/** A config file read, checked and normalized. */
export interface LoadedConfigFile extends ConfigFile {
  /** The model config with every default filled in. */
  config: ResolvedConfig;
}

/** Command-line style overrides of `training` applied before normalization. */
export interface ConfigOverrides {
  seed?: number;
  epochs?: number;
}

/** The 1-based line and column of character `offset` in `text`. */
function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) { line++; last = i; }
  }
  return { line, col: offset - last };
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const m = /position (\d+)/.exec(msg);
    const where = m ? lineCol(text, Number(m[1])) : undefined;
    throw new ConfigError(`config is not valid JSON: ${msg}${where ? ` (line ${where.line}, column ${where.col})` : ''}`, where ? { file, line: where.line } : { file });
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const where = pos ? ` (line ${pos.line}, column ${pos.col})` : '';
    throw new ConfigError(`config is not valid YAML: ${first.message.split('\n')[0]}${where}`, pos ? { file, line: pos.line } : { file });
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // An alias bomb ("billion laughs": aliases of aliases) is refused by the YAML library; say so as a config error.
    throw new ConfigError(`config is not usable YAML: ${(err as Error).message}`, { file, cause: err });
  }
}

/** Parse config text; `.yaml`/`.yml` as YAML, `.json` as JSON, anything else as JSON if it looks like it, else YAML. */
export function parseConfigText(text: string, file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  const body = text.replace(/^\uFEFF/, '');
  if (ext === '.yaml' || ext === '.yml') return parseYaml(body, file);
  if (ext === '.json' || /^\s*[{[]/.test(body)) return parseJson(body, file);
  return parseYaml(body, file);
}

/** True for `./x`, `../x` and absolute paths (as opposed to package names). */
export function isPathSpecifier(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || path.isAbsolute(spec);
}

/**
 * Check the top-level keys of a parsed config and split it into the model part and the rest, resolving
 * paths against the folder of `file`. Throws `ConfigError` whose `path` is the key path (`data.train`, `trainig`).
 */
export function splitConfig(raw: unknown, file: string): ConfigFile {
  const abs = path.resolve(file);
  const baseDir = path.dirname(abs);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`the config must be an object with "inputs" and "output", got ${Array.isArray(raw) ? 'an array' : describeValue(raw)}`, { file: abs });
  }
  const root = raw as Record<string, unknown>;
  const known = [...MODEL_KEYS, ...FILE_KEYS];
  for (const key of Object.keys(root)) {
    if (!(known as readonly string[]).includes(key)) throw new ConfigError(unknownKeyReason(key, known, 'top-level keys'), { file: abs, path: key });
  }
  const model: JsonObject = {};
  for (const key of MODEL_KEYS) if (root[key] !== undefined) model[key] = root[key] as JsonObject;

  const data: DataPaths = {};
  if (root.data !== undefined && root.data !== null) {
    if (typeof root.data !== 'object' || Array.isArray(root.data)) throw new ConfigError(`must be an object like { "train": "train.jsonl" }, got ${describeValue(root.data)}`, { file: abs, path: 'data' });
    for (const [key, value] of Object.entries(checkObject(root.data, 'data'))) {
      if (!(DATA_KEYS as readonly string[]).includes(key)) throw new ConfigError(unknownKeyReason(key, DATA_KEYS), { file: abs, path: `data.${key}` });
      if (value === null || value === undefined) continue;
      if (typeof value !== 'string' || value.trim() === '') {
        throw new ConfigError(`must be a manifest path (a non-empty string relative to the config file), got ${describeValue(value)}`, { file: abs, path: `data.${key}` });
      }
      data[key as keyof DataPaths] = path.resolve(baseDir, value);
    }
  }
  const plugins: string[] = [];
  if (root.plugins !== undefined && root.plugins !== null) {
    if (!Array.isArray(root.plugins)) throw new ConfigError(`must be a list of modules, e.g. ["./my-plugin.js"], got ${describeValue(root.plugins)}`, { file: abs, path: 'plugins' });
    root.plugins.forEach((p, i) => {
      if (typeof p !== 'string' || p.trim() === '') throw new ConfigError(`must be a module path or package name, got ${describeValue(p)}`, { file: abs, path: `plugins[${i}]` });
      plugins.push(isPathSpecifier(p) ? path.resolve(baseDir, p) : p);
    });
  }
  const out: ConfigFile = { file: abs, baseDir, model, data, plugins };
  if (root.description !== undefined) {
    if (typeof root.description !== 'string') throw new ConfigError(`must be a string, got ${describeValue(root.description)}`, { file: abs, path: 'description' });
    out.description = root.description;
  }
  return out;
}

/** Read and split a config file (not yet normalized). Missing or unreadable files are `ConfigError`s / `IoError`s naming the file. */
export async function readConfigFile(file: string): Promise<ConfigFile> {
  const abs = path.resolve(file);
  let text: string;
  try {
    // Checked before reading: a config is a small regular file (not /dev/zero, a FIFO or a folder).
    const st = await stat(abs);
    if (st.isDirectory()) throw new ConfigError('config path is a folder; pass the config file', { file: abs });
    if (!st.isFile()) throw new ConfigError('config path is not a regular file', { file: abs });
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(`config file is ${st.size} bytes, over the ${MAX_CONFIG_BYTES} bytes a config may have`, { file: abs });
    text = await readFile(abs, 'utf8');
  } catch (err) {
    if (isMmfuseError(err)) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new ConfigError('config file does not exist', { file: abs, cause: err });
    if (e.code === 'EISDIR') throw new ConfigError('config path is a folder; pass the config file', { file: abs, cause: err });
    throw new IoError(`cannot read config: ${e.message}`, { file: abs, cause: err, details: { errno: e.code } });
  }
  return splitConfig(parseConfigText(text, abs), abs);
}

/** Apply `seed` / `epochs` overrides to the raw model config's `training`, before normalization (the input is not modified). */
export function applyOverrides(model: JsonObject, overrides: ConfigOverrides): JsonObject {
  if (overrides.seed === undefined && overrides.epochs === undefined) return model;
  if (model.training !== undefined && (typeof model.training !== 'object' || model.training === null || Array.isArray(model.training))) return model; // normalizeConfig names the bad type
  const training: JsonObject = { ...((model.training as JsonObject | undefined) ?? {}) };
  if (overrides.seed !== undefined) training.seed = overrides.seed;
  if (overrides.epochs !== undefined) training.epochs = overrides.epochs;
  return { ...model, training };
}

/** Normalize the model part of a config file; errors keep their key path and gain the file. */
export function normalizeModelPart(model: JsonObject | FusionModelConfig, file: string, registry: EncoderRegistry = globalRegistry): ResolvedConfig {
  try {
    return normalizeConfig(model, { registry, file });
  } catch (err) {
    if (isMmfuseError(err)) throw err.locate({ file });
    throw err;
  }
}

/**
 * Read a config file (JSON or YAML), check it, apply overrides and fill in every default. Encoder options
 * of registered encoders are checked against their declared schemas (import the plugin packages, and the
 * file's `plugins`, first). Throws `ConfigError` naming the file and the key path.
 */
export async function loadConfigFile(file: string, options: { overrides?: ConfigOverrides; registry?: EncoderRegistry } = {}): Promise<LoadedConfigFile> {
  const cf = await readConfigFile(file);
  return { ...cf, config: normalizeModelPart(applyOverrides(cf.model, options.overrides ?? {}), cf.file, options.registry) };
}
