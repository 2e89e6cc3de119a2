/**
 * The declarative config file: JSON or YAML. The model part (`inputs`, `fusion`, `output`, `training`) is
 * validated by `@mmfuse/fusion`'s `normalizeConfig`; this module reads the file, checks the keys only the
 * CLI knows (`data`, unknown top-level keys) and resolves data paths against the config file's folder.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError, MmfuseError, describeValue, isMmfuseError } from '@mmfuse/core';
import type { JsonObject } from '@mmfuse/core';
import { normalizeConfig } from '@mmfuse/fusion';
import type { ResolvedConfig } from '@mmfuse/fusion';

/** Top-level keys handed to the fusion model config. */
export const MODEL_KEYS = ['inputs', 'fusion', 'output', 'training'] as const;
/** Top-level keys the CLI itself reads. `description` is free text for humans. */
export const CLI_KEYS = ['data', 'plugins', 'description'] as const;
/** Keys of `data`. */
export const DATA_KEYS = ['train', 'validation', 'test'] as const;

/** Manifest paths of a config, absolute (resolved against the config file's folder). */
export interface DataPaths {
  /** Training manifest. Required by `mmfuse train`. */
  train?: string;
  /** Validation manifest. Default: none, so `training.validationSplit` of the training data is held out. */
  validation?: string;
  /** Test manifest, evaluated after training and shown in the report. Default: none. */
  test?: string;
}

/** A config file split into its model part and its CLI part. */
export interface CliConfig {
  /** Absolute path of the config file. */
  file: string;
  /** Folder of the config file; data paths resolve against it. */
  baseDir: string;
  /** The model config as written (not yet normalized): `inputs`, `output`, and optional `fusion`, `training`. */
  model: JsonObject;
  data: DataPaths;
  /**
   * Modules that register encoders (third-party modalities), imported before the model is built.
   * Paths (`./x.js`, `../x.ts`, absolute) are resolved against the config file; bare names are packages.
   * Default none.
   */
  plugins: string[];
  description?: string;
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
  return doc.toJS({ maxAliasCount: 100 });
}

/** Parse config text; `.yaml`/`.yml` as YAML, `.json` as JSON, anything else as JSON if it looks like it, else YAML. */
export function parseConfigText(text: string, file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  const body = text.replace(/^\uFEFF/, '');
  if (ext === '.yaml' || ext === '.yml') return parseYaml(body, file);
  if (ext === '.json' || /^\s*[{[]/.test(body)) return parseJson(body, file);
  return parseYaml(body, file);
}

/** Closest known key within edit distance 2, for "did you mean" hints. */
function suggest(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const prefix = known.find((k) => lower.length >= 3 && (k.toLowerCase().startsWith(lower) || lower.startsWith(k.toLowerCase())));
  if (prefix !== undefined) return prefix;
  let best: string | undefined;
  let bestD = 3;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase());
    if (d < bestD) { bestD = d; best = k; }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Check the parts of a parsed config that the CLI owns and split it. Throws `ConfigError` whose `path` is
 * the key path (`data.train`, `trainig`).
 */
export function splitCliConfig(raw: unknown, file: string): CliConfig {
  const abs = path.resolve(file);
  const baseDir = path.dirname(abs);
  if (!isObject(raw)) {
    throw new ConfigError(`the config must be an object with "inputs" and "output", got ${Array.isArray(raw) ? 'an array' : describeValue(raw)}`, { file: abs });
  }
  const known = [...MODEL_KEYS, ...CLI_KEYS];
  for (const key of Object.keys(raw)) {
    if (!(known as readonly string[]).includes(key)) {
      const hint = suggest(key, known);
      throw new ConfigError(`unknown key${hint ? `; did you mean "${hint}"?` : `; allowed top-level keys are ${known.join(', ')}`}`, { file: abs, path: key });
    }
  }
  const model: JsonObject = {};
  for (const key of MODEL_KEYS) if (raw[key] !== undefined) model[key] = raw[key] as JsonObject;

  const data: DataPaths = {};
  if (raw.data !== undefined && raw.data !== null) {
    if (!isObject(raw.data)) throw new ConfigError(`must be an object like { "train": "train.jsonl" }, got ${describeValue(raw.data)}`, { file: abs, path: 'data' });
    for (const [key, value] of Object.entries(raw.data)) {
      if (!(DATA_KEYS as readonly string[]).includes(key)) {
        const hint = suggest(key, DATA_KEYS);
        throw new ConfigError(`unknown key${hint ? `; did you mean "${hint}"?` : `; allowed keys are ${DATA_KEYS.join(', ')}`}`, { file: abs, path: `data.${key}` });
      }
      if (value === null || value === undefined) continue;
      if (typeof value !== 'string' || value.trim() === '') {
        throw new ConfigError(`must be a manifest path (a non-empty string relative to the config file), got ${describeValue(value)}`, { file: abs, path: `data.${key}` });
      }
      data[key as keyof DataPaths] = path.resolve(baseDir, value);
    }
  }
  const plugins: string[] = [];
  if (raw.plugins !== undefined && raw.plugins !== null) {
    if (!Array.isArray(raw.plugins)) throw new ConfigError(`must be a list of modules, e.g. ["./my-plugin.js"], got ${describeValue(raw.plugins)}`, { file: abs, path: 'plugins' });
    raw.plugins.forEach((p, i) => {
      if (typeof p !== 'string' || p.trim() === '') throw new ConfigError(`must be a module path or package name, got ${describeValue(p)}`, { file: abs, path: `plugins[${i}]` });
      plugins.push(isPathSpecifier(p) ? path.resolve(baseDir, p) : p);
    });
  }
  const out: CliConfig = { file: abs, baseDir, model, data, plugins };
  if (raw.description !== undefined) {
    if (typeof raw.description !== 'string') throw new ConfigError(`must be a string, got ${describeValue(raw.description)}`, { file: abs, path: 'description' });
    out.description = raw.description;
  }
  return out;
}

/** True for `./x`, `../x` and absolute paths (as opposed to package names). */
export function isPathSpecifier(spec: string): boolean {
  return spec.startsWith('./') || spec.startsWith('../') || spec === '.' || spec === '..' || path.isAbsolute(spec);
}

/** Read and split a config file. Missing or unreadable files are `ConfigError`s naming the file. */
export async function readCliConfig(file: string): Promise<CliConfig> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') throw new ConfigError('config file does not exist', { file: abs, cause: err });
    if (e.code === 'EISDIR') throw new ConfigError('config path is a folder; pass the config file', { file: abs, cause: err });
    throw new MmfuseError('IO', `cannot read config: ${e.message}`, { file: abs, cause: err });
  }
  return splitCliConfig(parseConfigText(text, abs), abs);
}

/** Apply command-line overrides (`--seed`, `--epochs`) to the raw model config, before normalization. */
export function applyOverrides(model: JsonObject, overrides: { seed?: number; epochs?: number }): JsonObject {
  if (overrides.seed === undefined && overrides.epochs === undefined) return model;
  const training: JsonObject = isObject(model.training) ? { ...(model.training as JsonObject) } : {};
  if (model.training !== undefined && !isObject(model.training)) return model; // let normalizeConfig name the bad type
  if (overrides.seed !== undefined) training.seed = overrides.seed;
  if (overrides.epochs !== undefined) training.epochs = overrides.epochs;
  return { ...model, training };
}

/** Normalize the model part with `@mmfuse/fusion`'s rules (defaults filled in); errors keep their key path and gain the file. */
export function normalizeModelPart(model: JsonObject, file: string): ResolvedConfig {
  try {
    return normalizeConfig(model);
  } catch (err) {
    if (isMmfuseError(err)) throw err.locate({ file });
    throw err;
  }
}

/** A config file read, checked and normalized: what `mmfuse train` runs. */
export interface LoadedConfig extends CliConfig {
  /** The model config with every default filled in. */
  config: ResolvedConfig;
}

/**
 * Read a config file (JSON or YAML), check it, apply `--seed` / `--epochs` overrides and fill in every
 * default. Throws `ConfigError` naming the file and the key path.
 */
export async function loadConfig(file: string, overrides: { seed?: number; epochs?: number } = {}): Promise<LoadedConfig> {
  const cli = await readCliConfig(file);
  return { ...cli, config: normalizeModelPart(applyOverrides(cli.model, overrides), cli.file) };
}
