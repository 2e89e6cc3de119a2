/**
 * @mmfuse/fusion: alignment of modality tokens, a shared Transformer (or late / cross-attention fusion),
 * heads, training, evaluation, save/load and prediction.
 */
export { Module } from './layers/module.js';
export type { ApplyOptions, Init } from './layers/module.js';
export { Linear } from './layers/linear.js';
export type { LinearArgs } from './layers/linear.js';
export { LayerNorm } from './layers/layer-norm.js';
export type { LayerNormArgs } from './layers/layer-norm.js';
export { MultiHeadAttention, MASKED_SCORE } from './layers/multi-head-attention.js';
export type { MultiHeadAttentionArgs } from './layers/multi-head-attention.js';
export { FeedForward } from './layers/feed-forward.js';
export type { FeedForwardArgs } from './layers/feed-forward.js';
export { TransformerBlock } from './layers/transformer-block.js';
export type { TransformerBlockArgs } from './layers/transformer-block.js';
export { gelu } from './layers/activations.js';
export { dropout } from './layers/dropout.js';
export { sinusoidalTable } from './layers/positional-encoding.js';
