/**
 * Run-time engine selection. mmfuse never requires a native engine: it tries, in order,
 * `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node`, `@tensorflow/tfjs-backend-wasm`, then the pure-JS
 * `cpu` backend, and reports which one it chose and why each earlier one was skipped.
 */
import * as tf from '@tensorflow/tfjs';
import { EngineError } from './errors.js';
import { registerWasmKernels } from './internal/wasm/register.js';

/** Engines in preference order. */
export const ENGINE_ORDER = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type EngineName = (typeof ENGINE_ORDER)[number];

/** The environment variable that forces an engine (`MMFUSE_ENGINE=wasm`). */
export const ENGINE_ENV_VAR = 'MMFUSE_ENGINE';

const ENGINE_MODULES: Record<EngineName, string | undefined> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: undefined,
};

const ENGINE_BACKENDS: Record<EngineName, string> = {
  'tfjs-node-gpu': 'tensorflow',
  'tfjs-node': 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu',
};

/** Why an engine was not used. */
export interface SkippedEngine {
  engine: EngineName;
  /** `not-installed`: the package is absent; `load-failed`: it is present but threw while loading or initializing. */
  reason: 'not-installed' | 'load-failed';
  message: string;
}

/** What `initEngine` chose. */
export interface EngineInfo {
  engine: EngineName;
  /** The TensorFlow.js backend name now active (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  /** Engines tried before the chosen one, with the reason each was skipped. */
  skipped: SkippedEngine[];
  /** Set when the engine was forced rather than picked automatically. */
  forcedBy?: 'option' | 'env';
  /** For a GPU engine, whether TensorFlow reports a GPU. */
  gpu?: boolean;
  /** One human-readable line, e.g. `engine: wasm (skipped tfjs-node-gpu: not installed; ...)`. */
  summary: string;
}

export interface InitEngineOptions {
  /** Force an engine (`auto` = pick). Default: `process.env.MMFUSE_ENGINE`, else `auto`. */
  engine?: EngineName | 'auto';
  /** Environment to read `MMFUSE_ENGINE` from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Module loader, replaceable so bundlers and tests can control which engine packages exist.
   * Default: dynamic `import()`.
   */
  importModule?: (specifier: string) => Promise<unknown>;
  /** Called with `summary` once an engine is chosen. Default: silent. */
  log?: (line: string) => void;
}

let current: EngineInfo | undefined;

/** The engine chosen by the last `initEngine`, or undefined before the first call. */
export function getEngineInfo(): EngineInfo | undefined {
  return current;
}

function isEngineName(value: string): value is EngineName {
  return (ENGINE_ORDER as readonly string[]).includes(value);
}

function isNotInstalled(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') {
    // A missing dependency *of* the engine package is a load failure, not "not installed".
    return typeof e.message === 'string' ? e.message.includes(specifier) : true;
  }
  // Bundlers and vite-node word it their own way ("Could not resolve", "Failed to load url").
  return typeof e?.message === 'string' && /Cannot find (package|module)|Could not resolve|Failed to load url/.test(e.message) && e.message.includes(specifier);
}

async function tryEngine(name: EngineName, importModule: (s: string) => Promise<unknown>): Promise<{ ok: true; gpu?: boolean } | { ok: false; skip: SkippedEngine }> {
  const specifier = ENGINE_MODULES[name];
  try {
    if (specifier !== undefined) await importModule(specifier);
    const backend = ENGINE_BACKENDS[name];
    if (tf.findBackendFactory(backend) === null) {
      return { ok: false, skip: { engine: name, reason: 'load-failed', message: `${specifier ?? name} loaded but registered no "${backend}" backend (is it linked to another copy of @tensorflow/tfjs?)` } };
    }
    const ready = await tf.setBackend(backend);
    if (!ready) {
      return { ok: false, skip: { engine: name, reason: 'load-failed', message: `backend "${backend}" failed to initialize` } };
    }
    await tf.ready();
    if (name === 'wasm') registerWasmKernels();
    if (name === 'tfjs-node-gpu') {
      // tfjs-node-gpu silently runs on the CPU when CUDA is missing; say so rather than claim a GPU.
      const gpu = detectGpu();
      return gpu === undefined ? { ok: true } : { ok: true, gpu };
    }
    return { ok: true };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] ?? String(err) : String(err);
    if (specifier !== undefined && isNotInstalled(err, specifier)) {
      return { ok: false, skip: { engine: name, reason: 'not-installed', message: `${specifier} is not installed` } };
    }
    return { ok: false, skip: { engine: name, reason: 'load-failed', message: `${specifier ?? name} failed to load: ${message}` } };
  }
}

function detectGpu(): boolean | undefined {
  try {
    const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
    return typeof backend.isUsingGpuDevice === 'boolean' ? backend.isUsingGpuDevice : undefined;
  } catch {
    return undefined;
  }
}

function summarize(info: Omit<EngineInfo, 'summary'>): string {
  const parts = info.skipped.map((s) => `${s.engine}: ${s.reason === 'not-installed' ? 'not installed' : s.message}`);
  const forced = info.forcedBy === 'env' ? ` (forced by ${ENGINE_ENV_VAR})` : info.forcedBy === 'option' ? ' (forced by option)' : '';
  const gpu = info.gpu === undefined ? '' : info.gpu ? ' on GPU' : ' on CPU (no CUDA device found)';
  return `engine: ${info.engine}${gpu}${forced}${parts.length > 0 ? `; skipped ${parts.join('; ')}` : ''}`;
}

/**
 * Pick and start the TensorFlow.js engine. Safe to call more than once: a later call with the same
 * request returns the engine already chosen.
 *
 * Throws `EngineError` when a forced engine cannot start (never silently falls back from a forced choice).
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  const env = options.env ?? process.env;
  const fromEnv = env[ENGINE_ENV_VAR]?.trim();
  let requested: EngineName | 'auto' = 'auto';
  let forcedBy: 'option' | 'env' | undefined;
  if (options.engine !== undefined && options.engine !== 'auto') {
    requested = options.engine;
    forcedBy = 'option';
  } else if (options.engine === undefined && fromEnv !== undefined && fromEnv !== '' && fromEnv !== 'auto') {
    if (!isEngineName(fromEnv)) {
      throw new EngineError(`${ENGINE_ENV_VAR}=${JSON.stringify(fromEnv)} is not an engine; use one of ${ENGINE_ORDER.join(', ')} or auto`);
    }
    requested = fromEnv;
    forcedBy = 'env';
  }
  if (requested !== 'auto' && !isEngineName(requested)) {
    throw new EngineError(`engine ${JSON.stringify(requested)} is not one of ${ENGINE_ORDER.join(', ')}, auto`);
  }
  if (current !== undefined && (requested === 'auto' ? current.forcedBy === undefined : current.engine === requested) && tf.getBackend() === current.backend) {
    return current;
  }

  const importModule = options.importModule ?? ((s: string) => import(s));
  const candidates: readonly EngineName[] = requested === 'auto' ? ENGINE_ORDER : [requested];
  const skipped: SkippedEngine[] = [];
  for (const name of candidates) {
    const result = await tryEngine(name, importModule);
    if (result.ok) {
      const base: Omit<EngineInfo, 'summary'> = { engine: name, backend: tf.getBackend(), skipped };
      if (forcedBy !== undefined) base.forcedBy = forcedBy;
      if (result.gpu !== undefined) base.gpu = result.gpu;
      current = { ...base, summary: summarize(base) };
      options.log?.(current.summary);
      return current;
    }
    skipped.push(result.skip);
  }
  const why = skipped.map((s) => `${s.engine}: ${s.message}`).join('; ');
  if (forcedBy !== undefined) {
    throw new EngineError(`the forced engine "${requested}" could not start (${why}). Install it (see the README, "Engines") or unset ${ENGINE_ENV_VAR}`);
  }
  throw new EngineError(`no TensorFlow.js engine could start: ${why}`);
}
