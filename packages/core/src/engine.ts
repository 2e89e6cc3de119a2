/**
 * Run-time engine selection. mmfuse never requires a native engine: it tries, in order,
 * `@tensorflow/tfjs-node-gpu`, WebGPU (`@tensorflow/tfjs-backend-webgpu` on npm `webgpu`, taken automatically
 * only on a hardware adapter), `@tensorflow/tfjs-node`, `@tensorflow/tfjs-backend-wasm` (a dependency of
 * `@mmfuse/core`, so always installed), then the pure-JS `cpu` backend, and reports which one it chose, why
 * each earlier one was skipped, the WebGPU adapter, and on how many threads the wasm engine runs.
 *
 * The choice is process-wide state kept under `Symbol.for('mmfuse.engine')` on `globalThis`, so the ESM and
 * the CJS build of `@mmfuse/core` (or two installed copies) loaded into one process agree on it.
 */
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { EngineError } from './errors.js';
import { registerWasmKernels } from './internal/wasm/register.js';
import { registerWebGpuKernels } from './internal/webgpu/register.js';
import { MAX_WASM_THREADS, startThreadedWasm, type WasmPackage } from './internal/wasm/threads.js';
import { prepareWebGpu, WebGpuUnavailable } from './internal/webgpu/start.js';

/** Engines in preference order. */
export const ENGINE_ORDER = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type EngineName = (typeof ENGINE_ORDER)[number];

/** The environment variable that forces an engine (`MMFUSE_ENGINE=wasm`). */
export const ENGINE_ENV_VAR = 'MMFUSE_ENGINE';

/** The environment variable that sets the wasm engine's thread count (`MMFUSE_THREADS=2`; default: every core). */
export const THREADS_ENV_VAR = 'MMFUSE_THREADS';

/** The npm package that provides the wasm engine (what to install when mmfuse ends up on `cpu`). */
export const WASM_PACKAGE = '@tensorflow/tfjs-backend-wasm';

const ENGINE_MODULES: Record<EngineName, string | undefined> = {
  'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  'tfjs-node': '@tensorflow/tfjs-node',
  wasm: WASM_PACKAGE,
  cpu: undefined,
};

const ENGINE_BACKENDS: Record<EngineName, string> = {
  'tfjs-node-gpu': 'tensorflow',
  webgpu: 'webgpu',
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
  /** For the WebGPU engine: the adapter, e.g. `NVIDIA H100 80GB HBM3` or `llvmpipe ... (software)`. */
  adapter?: string;
  /** For the wasm engine: the threads its matrix products and convolutions run on (the main thread included). */
  threads?: number;
  /** For the wasm engine, when it runs on fewer threads than asked: why. */
  threadsNote?: string;
  /** One human-readable line, e.g. `engine: wasm (2 threads); skipped tfjs-node-gpu: not installed; ...`. */
  summary: string;
}

export interface InitEngineOptions {
  /** Force an engine (`auto` = pick). Default: `process.env.MMFUSE_ENGINE`, else `auto`. */
  engine?: EngineName | 'auto';
  /**
   * Threads for the wasm engine (1 = the single-threaded build). Default: `MMFUSE_THREADS`, else every core
   * (`os.availableParallelism()`), at most 9. Fixed once the wasm engine has started in this process.
   */
  threads?: number;
  /** Environment to read `MMFUSE_ENGINE` and `MMFUSE_THREADS` from. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /**
   * Module loader, replaceable so bundlers and tests can control which engine packages exist.
   * Default: dynamic `import()`.
   */
  importModule?: (specifier: string) => Promise<unknown>;
  /** Called with `summary` once an engine is chosen. Default: silent. */
  log?: (line: string) => void;
  /**
   * Called once per process when automatic selection ends up on the slow `cpu` engine, with the package to
   * install. Default: `console.warn`.
   */
  warn?: (line: string) => void;
}

/** Process-wide engine state, shared by every copy of @mmfuse/core through a registered symbol. */
interface EngineState {
  current: EngineInfo | undefined;
  /** How the wasm backend was (or will be) started: fixed at its first start. */
  wasm: { requested: number; threads?: number; note?: string } | undefined;
  cpuWarned: boolean;
}

const STATE_KEY = Symbol.for('mmfuse.engine');

function state(): EngineState {
  const g = globalThis as unknown as Record<symbol, EngineState | undefined>;
  let s = g[STATE_KEY];
  if (s === undefined) {
    s = { current: undefined, wasm: undefined, cpuWarned: false };
    g[STATE_KEY] = s;
  }
  return s;
}

/** The engine chosen by the last `initEngine` (in any copy of @mmfuse/core), or undefined before the first call. */
export function getEngineInfo(): EngineInfo | undefined {
  return state().current;
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

/** The wasm thread count asked for: the option, else `MMFUSE_THREADS`, else every core (at most 9). */
export function requestedThreads(options: Pick<InitEngineOptions, 'threads' | 'env'> = {}): number {
  const cap = (n: number): number => Math.min(n, MAX_WASM_THREADS);
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new EngineError(`initEngine: threads must be a positive integer, got ${JSON.stringify(options.threads)}`);
    }
    return cap(options.threads);
  }
  const raw = (options.env ?? process.env)[THREADS_ENV_VAR]?.trim();
  if (raw !== undefined && raw !== '' && raw !== 'auto') {
    const n = Number(raw);
    if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n < 1) {
      throw new EngineError(`${THREADS_ENV_VAR}=${JSON.stringify(raw)} is not a thread count; use a positive integer (1 = single-threaded) or auto`);
    }
    return cap(n);
  }
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return cap(Math.max(1, cores));
}

/**
 * Before the wasm backend first starts: with more than one thread, swap the package's backend factory for
 * one that starts the threaded-SIMD build (falling back to the stock factory, with the reason, if it fails).
 */
function prepareWasm(pkg: unknown, threads: number): void {
  const st = state();
  const started = (tf.engine() as unknown as { registry: Record<string, unknown> }).registry['wasm'] !== undefined;
  if (started) return; // Thread count is fixed for the life of the backend.
  const stock = tf.findBackendFactory('wasm');
  if (stock === null) return;
  st.wasm = { requested: threads };
  if (threads <= 1) return;
  const wasmPkg = pkg as WasmPackage;
  tf.removeBackend('wasm');
  tf.registerBackend('wasm', async () => {
    try {
      const started = await startThreadedWasm(wasmPkg, threads);
      st.wasm = { requested: threads, threads: started.threads };
      return started.backend as tf.KernelBackend;
    } catch (err) {
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      st.wasm = { requested: threads, threads: 1, note: `the threaded wasm build could not start (${message}); running the single-threaded build` };
      return stock();
    }
  }, 2);
}

/** Threads the running wasm backend uses, from the package itself. */
function wasmThreads(pkg: unknown): number | undefined {
  try {
    const n = (pkg as Partial<WasmPackage>).getThreadsCount?.();
    return typeof n === 'number' && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

type TryResult = { ok: true; gpu?: boolean; threads?: number; threadsNote?: string; adapter?: string } | { ok: false; skip: SkippedEngine };

type ProcessEvent = 'uncaughtException' | 'unhandledRejection';
const PROCESS_EVENTS: readonly ProcessEvent[] = ['uncaughtException', 'unhandledRejection'];

/**
 * The process-wide error listeners an engine installs while it starts. The wasm builds' Emscripten glue adds
 * an `uncaughtException` and an `unhandledRejection` listener that rethrow: with them in place no handler
 * of the application (e.g. `mmfuse serve`, which logs and keeps serving) can keep the process alive. Taken
 * back after the engine starts, which leaves Node's own default (crash on an unhandled error) to apps that
 * install no handler.
 */
function withoutEngineErrorListeners<T>(start: () => Promise<T>): Promise<T> {
  const before = new Map(PROCESS_EVENTS.map((e) => [e, new Set(process.listeners(e as 'uncaughtException'))] as const));
  const restore = (): void => {
    for (const e of PROCESS_EVENTS) {
      for (const l of process.listeners(e as 'uncaughtException')) if (!before.get(e)?.has(l)) process.off(e, l);
    }
  };
  return start().finally(restore);
}

interface SyncReader {
  readSync(dataId: object): unknown;
  uploadToGPU?(dataId: object): void;
  tensorMap?: { get(dataId: object): { values?: unknown } | undefined };
  [key: symbol]: unknown;
}
const EXPLAINED = Symbol.for('mmfuse.webgpu.syncReads');

/** Values kept on the CPU when a tensor this small (or smaller) is uploaded to the GPU. */
const WEBGPU_SHADOW_MAX_VALUES = 1024;

/**
 * tfjs-backend-webgpu reads GPU data synchronously through an OffscreenCanvas, which Node does not have
 * (`dataSync()` fails with "OffscreenCanvas is not defined"). Values still on the CPU read synchronously,
 * and so do small tensors that were uploaded from the CPU: the backend drops a tensor's CPU values once it
 * uploads them, so this keeps a copy of those of at most WEBGPU_SHADOW_MAX_VALUES values (shapes, lengths,
 * a graph model's constant parameters, which tfjs-converter reads with `dataSync`). Anything else — data
 * computed on the GPU — gets an EngineError that says what to do instead.
 */
function explainSyncReads(backend: SyncReader): void {
  if (backend[EXPLAINED] === true || typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const stock = backend.readSync.bind(backend);
  // Keyed by the tensor's data id: dropped with it (a disposed id is never reused).
  const shadows = new WeakMap<object, unknown>();
  const upload = backend.uploadToGPU?.bind(backend);
  if (upload !== undefined) {
    backend.uploadToGPU = (dataId: object) => {
      const data = backend.tensorMap?.get(dataId);
      const values = data?.values as ArrayLike<number> | null | undefined;
      if (values != null && values.length <= WEBGPU_SHADOW_MAX_VALUES) shadows.set(dataId, values);
      upload(dataId);
    };
  }
  backend.readSync = (dataId: object) => {
    if (backend.tensorMap?.get(dataId)?.values != null) return stock(dataId);
    const shadow = shadows.get(dataId);
    if (shadow !== undefined) return shadow;
    throw new EngineError('a synchronous read (dataSync/arraySync) of GPU data is not possible on the WebGPU engine in Node: use `await tensor.data()` (or run on the wasm engine: MMFUSE_ENGINE=wasm)');
  };
  backend[EXPLAINED] = true;
}

async function tryWebGpu(importModule: (s: string) => Promise<unknown>, forced: boolean): Promise<TryResult> {
  try {
    const adapter = await prepareWebGpu(importModule, forced);
    const ready = await tf.setBackend('webgpu');
    if (!ready) return { ok: false, skip: { engine: 'webgpu', reason: 'load-failed', message: `backend "webgpu" failed to initialize on ${adapter.label}` } };
    await tf.ready();
    explainSyncReads(tf.backend() as unknown as SyncReader);
    registerWebGpuKernels();
    return { ok: true, adapter: adapter.label };
  } catch (err) {
    if (err instanceof WebGpuUnavailable) return { ok: false, skip: { engine: 'webgpu', reason: err.reason, message: err.message } };
    const message = err instanceof Error ? err.message.split('\n')[0] ?? String(err) : String(err);
    return { ok: false, skip: { engine: 'webgpu', reason: 'load-failed', message: `the WebGPU engine failed to start: ${message}` } };
  }
}

async function tryEngine(name: EngineName, importModule: (s: string) => Promise<unknown>, threads: number, forced: boolean): Promise<TryResult> {
  return withoutEngineErrorListeners(() => startEngine(name, importModule, threads, forced));
}

async function startEngine(name: EngineName, importModule: (s: string) => Promise<unknown>, threads: number, forced: boolean): Promise<TryResult> {
  if (name === 'webgpu') return tryWebGpu(importModule, forced);
  const specifier = ENGINE_MODULES[name];
  try {
    const pkg = specifier !== undefined ? await importModule(specifier) : undefined;
    const backend = ENGINE_BACKENDS[name];
    if (tf.findBackendFactory(backend) === null) {
      return { ok: false, skip: { engine: name, reason: 'load-failed', message: `${specifier ?? name} loaded but registered no "${backend}" backend (is it linked to another copy of @tensorflow/tfjs?)` } };
    }
    if (name === 'wasm') prepareWasm(pkg, threads);
    const ready = await tf.setBackend(backend);
    if (!ready) {
      return { ok: false, skip: { engine: name, reason: 'load-failed', message: `backend "${backend}" failed to initialize` } };
    }
    await tf.ready();
    if (name === 'wasm') {
      registerWasmKernels();
      const st = state().wasm;
      const result: TryResult = { ok: true, threads: wasmThreads(pkg) ?? st?.threads ?? 1 };
      const note = st?.note ?? (st !== undefined && result.threads! < Math.min(st.requested, MAX_WASM_THREADS) ? `asked for ${st.requested}` : undefined);
      if (note !== undefined) result.threadsNote = note;
      return result;
    }
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

/**
 * tfjs's cpu backend prints an "install our node backend" banner on its first use in Node. mmfuse picks the
 * engine and says itself what to install (the banner names a package that cannot install where npm is the
 * only source), so the banner is switched off.
 */
function silenceCpuBanner(): void {
  // Starting the cpu backend is cheap (pure JS, no allocation until used), and later uses (e.g. comparing
  // against cpu) then stay quiet too.
  const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (cpu !== null && typeof cpu === 'object' && 'firstUse' in cpu) cpu.firstUse = false;
}

function summarize(info: Omit<EngineInfo, 'summary'>): string {
  const parts = info.skipped.map((s) => `${s.engine}: ${s.reason === 'not-installed' ? 'not installed' : s.message}`);
  const forced = info.forcedBy === 'env' ? ` (forced by ${ENGINE_ENV_VAR})` : info.forcedBy === 'option' ? ' (forced by option)' : '';
  const gpu = info.adapter !== undefined ? ` on ${info.adapter}` : info.gpu === undefined ? '' : info.gpu ? ' on GPU' : ' on CPU (no CUDA device found)';
  const threads = info.threads === undefined ? '' : ` (${info.threads} thread${info.threads === 1 ? '' : 's'}${info.threadsNote !== undefined ? `: ${info.threadsNote}` : ''})`;
  return `engine: ${info.engine}${threads}${gpu}${forced}${parts.length > 0 ? `; skipped ${parts.join('; ')}` : ''}`;
}

/**
 * Pick and start the TensorFlow.js engine. Safe to call more than once: a later call with the same
 * request returns the engine already chosen.
 *
 * Throws `EngineError` when a forced engine cannot start (never silently falls back from a forced choice).
 */
export async function initEngine(options: InitEngineOptions = {}): Promise<EngineInfo> {
  const st = state();
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
  const threads = requestedThreads({ threads: options.threads, env });
  const current = st.current;
  if (current !== undefined && (requested === 'auto' ? current.forcedBy === undefined : current.engine === requested) && tf.getBackend() === current.backend) {
    silenceCpuBanner();
    return current;
  }

  const importModule = options.importModule ?? ((s: string) => import(s));
  const candidates: readonly EngineName[] = requested === 'auto' ? ENGINE_ORDER : [requested];
  const skipped: SkippedEngine[] = [];
  for (const name of candidates) {
    const result = await tryEngine(name, importModule, threads, forcedBy !== undefined);
    if (result.ok) {
      const base: Omit<EngineInfo, 'summary'> = { engine: name, backend: tf.getBackend(), skipped };
      if (forcedBy !== undefined) base.forcedBy = forcedBy;
      if (result.gpu !== undefined) base.gpu = result.gpu;
      if (result.threads !== undefined) base.threads = result.threads;
      if (result.threadsNote !== undefined) base.threadsNote = result.threadsNote;
      if (result.adapter !== undefined) base.adapter = result.adapter;
      const info: EngineInfo = { ...base, summary: summarize(base) };
      st.current = info;
      silenceCpuBanner();
      if (name === 'cpu' && forcedBy === undefined && !st.cpuWarned) {
        st.cpuWarned = true;
        const why = skipped.map((s) => `${s.engine}: ${s.message}`).join('; ');
        (options.warn ?? ((line: string) => console.warn(line)))(
          `mmfuse: training and inference run on the slow "cpu" engine (pure JavaScript, tens of times slower than wasm) because no faster engine started (${why}). ` +
          `Install the wasm engine: npm install ${WASM_PACKAGE}@${tf.version_core}`,
        );
      }
      options.log?.(info.summary);
      return info;
    }
    skipped.push(result.skip);
  }
  const why = skipped.map((s) => `${s.engine}: ${s.message}`).join('; ');
  if (forcedBy !== undefined) {
    throw new EngineError(`the forced engine "${requested}" could not start (${why}). Install it (see the README, "Engines") or unset ${ENGINE_ENV_VAR}`);
  }
  throw new EngineError(`no TensorFlow.js engine could start: ${why}`);
}
