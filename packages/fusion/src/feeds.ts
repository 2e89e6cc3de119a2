/**
 * `@mmfuse/fusion/feeds`: what a runtime of an exported ONNX graph needs besides the runtime itself, with no
 * side effects, no TensorFlow.js and no Node API (the bot's browser page bundles it): the metadata types,
 * graph feeds from collated batches, and the decoding of category head outputs with contributions.
 */
export { buildFeeds } from './onnx/feeds.js';
export type { CollatedField, FeedFieldSpec, FeedTensor } from './onnx/feeds.js';
export type { OnnxInputMetadata, OnnxModelMetadata } from './onnx/export.js';
export type { GraphInputSpec } from './onnx/graph-builder.js';
export { softmaxRow } from './outputs/softmax.js';
export { scopeScore } from './outputs/scope.js';
export type { ScopeReference } from './outputs/scope.js';
