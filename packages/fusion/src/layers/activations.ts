/**
 * Exact GELU, 0.5 x (1 + erf(x / √2)), as PyTorch's default `gelu` (@mmfuse/core's op: tf ops, or fused
 * kernels on wasm with the MMFUSE_FUSED_GELU flag).
 */
export { gelu } from '@mmfuse/core';
