/**
 * The WebGPU engine: `@tensorflow/tfjs-backend-webgpu` on Dawn's Node bindings (npm `webgpu`, which ships
 * `dawn.node` inside the package: nothing to build or download). Dawn talks to the machine's Vulkan driver
 * (Metal on macOS, D3D12 on Windows).
 *
 * Automatic selection takes it only when the adapter is real hardware: a software adapter (Mesa's
 * llvmpipe/lavapipe, SwiftShader) runs every shader on the CPU and is far slower than the wasm engine. A
 * forced `MMFUSE_ENGINE=webgpu` accepts a software adapter too (that is how CI checks correctness).
 */
import { existsSync, readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';

/** The npm packages the WebGPU engine needs (named in every "not installed" message). */
export const WEBGPU_PACKAGES = ['webgpu', '@tensorflow/tfjs-backend-webgpu'] as const;

/** What the adapter says about itself (GPUAdapterInfo), as far as mmfuse uses it. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation of WebGPU/Vulkan (llvmpipe, lavapipe, SwiftShader, WARP) or a fallback adapter. */
  software: boolean;
  /** One line for the engine summary, e.g. `llvmpipe: Mesa 25.0.7 (software)`. */
  label: string;
}

interface GpuAdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
}
interface GpuLike { requestAdapter(options?: Record<string, unknown>): Promise<GpuAdapterLike | null> }
interface DawnModule { create(options: string[]): GpuLike; globals: Record<string, unknown> }

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software|microsoft basic render|warp/i;

export function describeAdapter(adapter: GpuAdapterLike): AdapterDescription {
  const info = adapter.info ?? {};
  const text = (k: string): string => (typeof info[k] === 'string' ? (info[k] as string) : '');
  const vendor = text('vendor');
  const architecture = text('architecture');
  const device = text('device');
  const description = text('description');
  const software = adapter.isFallbackAdapter === true || (info['isFallbackAdapter'] as boolean | undefined) === true
    || SOFTWARE.test(`${architecture} ${device} ${description}`);
  const name = description || [vendor, architecture, device].filter((s) => s !== '').join(' ') || 'unknown adapter';
  return { vendor, architecture, device, description, software, label: `${name}${software ? ' (software)' : ''}` };
}

/** Why the engine was not started, with the kind of reason `initEngine` reports. */
export class WebGpuUnavailable extends Error {
  constructor(readonly reason: 'not-installed' | 'load-failed', message: string) {
    super(message);
  }
}

/** The Dawn instance and its adapter, one per loaded `webgpu` module (Dawn starts once per process). */
const STATE_KEY = Symbol.for('mmfuse.webgpu');
interface Started { gpu: GpuLike; adapter?: AdapterDescription | null }
function started(): WeakMap<object, Started> {
  const g = globalThis as unknown as Record<symbol, WeakMap<object, Started> | undefined>;
  return (g[STATE_KEY] ??= new WeakMap());
}

function isMissing(err: unknown, specifier: string): boolean {
  const e = err as { code?: string; message?: string };
  const message = typeof e?.message === 'string' ? e.message : '';
  return ((e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') && (message === '' || message.includes(specifier)))
    || (/Cannot find (package|module)|Could not resolve|Failed to load url/.test(message) && message.includes(specifier));
}

/**
 * Whether this machine has a GPU device a hardware Vulkan driver could drive. On Linux a hardware adapter needs a
 * device node: a DRM render node or card (`/dev/dri/renderD*`, `/dev/dri/card*`: Mesa's AMD/Intel/... drivers), the
 * NVIDIA driver's `/dev/nvidia0`, or WSL's `/dev/dxg`. Without one only a software adapter (lavapipe, SwiftShader)
 * can exist, so automatic selection need not start Dawn at all (its adapter enumeration costs start-up time and, on
 * a software driver, prints warnings). Other platforms: true (Dawn is asked).
 */
export function hasGpuDevice(platform: string = process.platform, fs: { exists(p: string): boolean; list(p: string): string[] } = { exists: existsSync, list: (p) => readdirSync(p) }): boolean {
  if (platform !== 'linux') return true;
  if (fs.exists('/dev/nvidia0') || fs.exists('/dev/dxg')) return true;
  try {
    return fs.list('/dev/dri').some((n) => n.startsWith('renderD') || n.startsWith('card'));
  } catch {
    return false;
  }
}

/**
 * Start the WebGPU engine's backend factory. `allowSoftware`: accept a software adapter (forced engine).
 * Throws `WebGpuUnavailable` with the reason when it cannot or should not run; on success the "webgpu"
 * backend is registered (not yet active) and the adapter described.
 */
export async function prepareWebGpu(importModule: (s: string) => Promise<unknown>, allowSoftware: boolean, gpuDevice: () => boolean = hasGpuDevice): Promise<AdapterDescription> {
  if (!allowSoftware && !gpuDevice()) {
    throw new WebGpuUnavailable('load-failed', 'no GPU device on this machine (no /dev/dri render node, /dev/nvidia0 or /dev/dxg), so only a software adapter could run it, slower than the wasm engine; force it with MMFUSE_ENGINE=webgpu');
  }
  const install = `npm install ${WEBGPU_PACKAGES.map((p) => `${p}@${p === 'webgpu' ? '0.6.2' : tf.version_core}`).join(' ')}`;
  let dawn: DawnModule;
  try {
    dawn = await importModule('webgpu') as DawnModule;
  } catch (err) {
    if (isMissing(err, 'webgpu')) throw new WebGpuUnavailable('not-installed', `the npm package "webgpu" (Dawn's Node bindings) is not installed: ${install}`);
    throw new WebGpuUnavailable('load-failed', `the npm package "webgpu" failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (typeof dawn?.create !== 'function') throw new WebGpuUnavailable('load-failed', 'the npm package "webgpu" has no create() (an unsupported version?)');
  let st = started().get(dawn);
  if (st === undefined) {
    // tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode, ... as globals, as in a browser.
    for (const [k, v] of Object.entries(dawn.globals ?? {})) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
    st = { gpu: dawn.create([]) };
    started().set(dawn, st);
  }
  const gpu = st.gpu;
  if (st.adapter === undefined) {
    const found = await gpu.requestAdapter({ powerPreference: 'high-performance' });
    st.adapter = found === null ? null : describeAdapter(found);
  }
  const adapter = st.adapter;
  if (adapter === null) {
    const noAdapter = 'no WebGPU adapter: Dawn found no Vulkan driver (on Linux install the GPU\'s Vulkan driver and libvulkan1; Debian\'s software driver is mesa-vulkan-drivers from bookworm-backports)';
    // Name a missing backend package too, so that installing the driver is not followed by a second error.
    // (Importing it without navigator.gpu registers nothing; with no adapter this Dawn instance never runs.)
    const backendMissing = await importModule('@tensorflow/tfjs-backend-webgpu').then(() => false, (err: unknown) => isMissing(err, '@tensorflow/tfjs-backend-webgpu'));
    if (backendMissing) throw new WebGpuUnavailable('not-installed', `the npm package "@tensorflow/tfjs-backend-webgpu" is not installed: ${install}; and ${noAdapter}`);
    throw new WebGpuUnavailable('load-failed', noAdapter);
  }
  if (adapter.software && !allowSoftware) {
    throw new WebGpuUnavailable('load-failed', `only a software adapter (${adapter.label}), slower than the wasm engine; force it with MMFUSE_ENGINE=webgpu`);
  }
  // tfjs-backend-webgpu looks for navigator.gpu (and registers its backend on import only if it is there).
  const g = globalThis as unknown as { navigator?: Record<string, unknown> };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else if (g.navigator['gpu'] === undefined) {
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  }
  try {
    await importModule('@tensorflow/tfjs-backend-webgpu');
  } catch (err) {
    if (isMissing(err, '@tensorflow/tfjs-backend-webgpu')) throw new WebGpuUnavailable('not-installed', `the npm package "@tensorflow/tfjs-backend-webgpu" is not installed: ${install}`);
    throw new WebGpuUnavailable('load-failed', `@tensorflow/tfjs-backend-webgpu failed to load: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
  }
  if (tf.findBackendFactory('webgpu') === null) {
    throw new WebGpuUnavailable('load-failed', '@tensorflow/tfjs-backend-webgpu loaded but registered no "webgpu" backend (was it imported before navigator.gpu existed, or linked to another copy of @tensorflow/tfjs?)');
  }
  return adapter;
}
