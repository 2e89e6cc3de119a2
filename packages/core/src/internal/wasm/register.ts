/**
 * Kernels that the wasm backend lacks or runs slowly, registered when mmfuse starts the wasm engine.
 * Filled in by the engine work (conv filter gradients, embedding gradients, transposed matMul).
 */
let registered = false;

/** Register mmfuse's wasm kernels once per process. Returns whether this call registered them. */
export function registerWasmKernels(): boolean {
  if (registered) return false;
  registered = true;
  return true;
}
