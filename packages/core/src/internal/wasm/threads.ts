/**
 * mmfuse's loader for the threaded-SIMD build of `@tensorflow/tfjs-backend-wasm` in Node.
 *
 * tfjs-backend-wasm 4.22 ships a build whose matrix products and convolutions run on an XNNPACK thread pool,
 * but never uses it in Node (`WASM_HAS_MULTITHREAD_SUPPORT` is false there, tfjs#3830): its pthread workers
 * are created from `blob:` URLs, which `worker_threads` rejects, and its C++ side caps the pool at half the
 * logical cores (one thread on two cores). This loader starts that build itself, without touching the
 * installed package:
 * - each pthread worker runs `worker/pthread-worker.cjs`, a file-path wrapper around tfjs's own worker script;
 * - the glue's `emscripten_num_logical_cores` import answers twice the requested count, so the C++ cap
 *   (cores / 2) is exactly the requested count;
 * - the count is capped at the glue's pre-started workers + 1 (8 + 1): XNNPACK's pool waits for its threads
 *   to start while holding the main thread, so a worker that still had to load would never start;
 * - the pool's workers are unreferenced (a script ends when its work ends) and the pre-started workers the
 *   pool does not use are terminated.
 * The result is a `BackendWasm` of the installed package, so every stock and mmfuse kernel runs on it as is.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setEnvironmentData } from 'node:worker_threads';

/** The members of the `@tensorflow/tfjs-backend-wasm` module the loader needs. */
export interface WasmPackage {
  BackendWasm: new (module: unknown) => unknown;
  setThreadsCount(count: number): void;
  getThreadsCount(): number;
}

// The TypeScript lib here has no WebAssembly declarations: the little that is used, typed locally.
type WasmInstance = object;
type WasmCompiled = object;
interface WasmApi { instantiate(bytes: Uint8Array, imports: object): Promise<{ instance: WasmInstance; module: WasmCompiled }> }
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** What the emscripten glue's module object offers (only what the loader touches). */
interface EmscriptenModule {
  cwrap(name: string, returnType: string | null, argTypes: string[]): (...args: number[]) => number;
  wasmMemory: { buffer: ArrayBufferLike };
  HEAPU8: Uint8Array;
  PThread: { unusedWorkers: NodeWorker[]; runningWorkers: NodeWorker[] };
  tfjs?: Record<string, unknown>;
}

interface NodeWorker { unref(): void; terminate(): unknown }

type Factory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/** The environment key through which the loader names tfjs's worker script to the worker wrapper. */
export const WORKER_SCRIPT_KEY = 'mmfuse.wasm.workerScript';

const GLUE = 'tfjs-backend-wasm-threaded-simd';

/** This module's folder, in the ESM and the CJS build alike (and in source form under tests). */
function moduleDir(): string {
  // `__dirname` exists in the CJS build (and under vite-node); the ESM build has `import.meta.url`.
  if (typeof __dirname === 'string') return __dirname;
  return path.dirname(fileURLToPath(import.meta.url));
}

/** The worker wrapper: beside the bundle in `dist/`, or in `worker/` beside this file in `src/`. */
export function workerWrapperPath(): string {
  const here = moduleDir();
  const candidates = [path.join(here, 'pthread-worker.cjs'), path.join(here, 'worker', 'pthread-worker.cjs'), path.join(here, 'internal', 'wasm', 'worker', 'pthread-worker.cjs')];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) throw new Error(`mmfuse's pthread worker script is missing (looked for ${candidates.join(', ')}); reinstall @mmfuse/core`);
  return found;
}

/** Files of the threaded build inside the installed tfjs-backend-wasm. */
function threadedBuildFiles(): { glue: string; wasm: string; workerScript: string } {
  const require = createRequire(path.join(moduleDir(), 'noop.js'));
  const pkgDir = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const files = {
    glue: path.join(pkgDir, 'wasm-out', `${GLUE}.js`),
    wasm: path.join(pkgDir, 'wasm-out', `${GLUE}.wasm`),
    workerScript: path.join(pkgDir, 'wasm-out', `${GLUE}.worker.js`),
  };
  for (const f of Object.values(files)) {
    if (!existsSync(f)) throw new Error(`the installed @tensorflow/tfjs-backend-wasm has no ${path.relative(pkgDir, f)} (threaded build)`);
  }
  return files;
}

/**
 * With the threaded build, memory is a growable SharedArrayBuffer and a pool thread may grow it; the glue
 * refreshes `Module.HEAPU8` only when the main thread notices. tfjs's backend (and mmfuse's kernels) read
 * `HEAPU8.buffer`, so keep that view current on every read.
 */
function keepHeapViewCurrent(module: EmscriptenModule): void {
  let view = module.HEAPU8;
  Object.defineProperty(module, 'HEAPU8', {
    configurable: true,
    enumerable: true,
    get: () => {
      const buffer = module.wasmMemory.buffer;
      if (view.buffer !== buffer) view = new Uint8Array(buffer);
      return view;
    },
    set: (v: Uint8Array) => { view = v; },
  });
}

/**
 * Run `start` (the glue's factory) with the global `Worker` it installs made to create only the first `real`
 * workers for real: the glue pre-allocates 8 pthread workers (a V8 isolate each, tens of milliseconds of
 * startup apiece) whatever the thread count, and the loader keeps only `threads − 1` of them. The others are
 * placeholders that the loader discards before the glue sends them anything. Afterwards the global `Worker`
 * is the real one, as the glue leaves it.
 */
function withPoolSizedWorkers<T>(real: number, start: () => T): T {
  const before = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  let Real: (new (path: string) => NodeWorker) | undefined;
  let made = 0;
  const placeholder = (): NodeWorker => ({ unref: () => undefined, terminate: () => undefined });
  const Pooled = function (this: unknown, path: string): NodeWorker {
    if (Real === undefined) throw new Error('the wasm glue created a worker before installing Worker');
    return made++ < real ? new Real(path) : placeholder();
  } as unknown as new (path: string) => NodeWorker;
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => (Real === undefined ? before?.value : Pooled),
    set: (v: new (path: string) => NodeWorker) => { Real = v; },
  });
  try {
    return start();
  } finally {
    if (Real !== undefined) Object.defineProperty(globalThis, 'Worker', { configurable: true, writable: true, value: Real });
    else if (before !== undefined) Object.defineProperty(globalThis, 'Worker', before);
    else delete (globalThis as { Worker?: unknown }).Worker;
  }
}

/** The largest useful count: the glue pre-starts this many workers plus the main thread. */
export const MAX_WASM_THREADS = 9;

export interface ThreadedWasm {
  /** A `BackendWasm` running the threaded-SIMD build. */
  backend: unknown;
  /** Threads XNNPACK runs on (the main thread included). */
  threads: number;
}

/**
 * Start the threaded-SIMD build with `threads` threads (2..9) and wrap it in the installed package's
 * `BackendWasm`. Throws (with the reason) when the build cannot start; the caller falls back to the stock
 * single-threaded build.
 */
export async function startThreadedWasm(pkg: WasmPackage, threads: number): Promise<ThreadedWasm> {
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new RangeError(`startThreadedWasm: threads must be an integer in 2..${MAX_WASM_THREADS}, got ${threads}`);
  }
  if (typeof SharedArrayBuffer !== 'function') throw new Error('this JavaScript runtime has no SharedArrayBuffer');
  if (typeof pkg.BackendWasm !== 'function' || typeof pkg.setThreadsCount !== 'function') {
    throw new Error('the installed @tensorflow/tfjs-backend-wasm does not export BackendWasm and setThreadsCount');
  }
  const files = threadedBuildFiles();
  const wrapper = workerWrapperPath();
  setEnvironmentData(WORKER_SCRIPT_KEY, files.workerScript);
  const require = createRequire(files.glue);
  const factory = require(files.glue) as Factory;
  const { readFile } = await import('node:fs/promises');
  const binary = await readFile(files.wasm);
  let failInstantiation: (err: unknown) => void = () => undefined;
  const instantiationFailed = new Promise<never>((_, reject) => { failInstantiation = reject; });
  const config: Record<string, unknown> = {
    locateFile: (file: string, prefix: string) => (file.endsWith('.worker.js') ? wrapper : file.endsWith('.wasm') ? files.wasm : prefix + file),
    // Each worker `importScripts` this: the glue itself, by path.
    mainScriptUrlOrBlob: files.glue,
    instantiateWasm: (imports: { env: Record<string, unknown> }, receive: (instance: WasmInstance, module: WasmCompiled) => void) => {
      // The C++ side runs min(requested, cores / 2) threads.
      imports.env['emscripten_num_logical_cores'] = () => 2 * threads;
      WebAssemblyApi.instantiate(binary, imports).then(
        (result) => {
          // The glue (which made `config` its Module) has 8 pre-allocated workers by now, only the first
          // threads − 1 of them real (withPoolSizedWorkers); load only those.
          const pool = (config as unknown as EmscriptenModule).PThread.unusedWorkers;
          for (const worker of pool.splice(Math.max(0, threads - 1))) void worker.terminate();
          receive(result.instance, result.module);
        },
        (err: unknown) => failInstantiation(err),
      );
      return {};
    },
  };
  const module = await Promise.race([instantiationFailed, withPoolSizedWorkers(threads - 1, () => factory(config))]);
  const voidType = null;
  module.tfjs = {
    init: module.cwrap('init', voidType, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', voidType, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', voidType, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', voidType, ['number']),
    dispose: module.cwrap('dispose', voidType, []),
  };
  keepHeapViewCurrent(module);
  const available = module.PThread.unusedWorkers.length + 1;
  const count = Math.min(threads, available);
  pkg.setThreadsCount(count);
  const backend = new pkg.BackendWasm(module);
  const actual = (module.tfjs['getThreadsCount'] as () => number)();
  // The pool's threads wait for work for the life of the process; they must not keep it alive.
  for (const worker of module.PThread.runningWorkers) worker.unref();
  for (const worker of module.PThread.unusedWorkers.splice(0)) void worker.terminate();
  return { backend, threads: actual };
}
