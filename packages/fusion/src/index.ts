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
export { dropout, dropoutMask } from './layers/dropout.js';
export { sinusoidalTable } from './layers/positional-encoding.js';
export { normalizeConfig, encoderKind, encoderConfig } from './config.js';
export type { FusionModelConfig, FusionConfig, InputConfig, OutputConfig, OutputType, TrainingConfig, FusionStrategyName, ResolvedConfig } from './config.js';
export { FusionModel } from './model.js';
export type { CreateOptions, PredictOptions, PredictionError, PreparedInput, ModelSummary } from './model.js';
export type { FitOptions, EpochMetrics, TrainingHistory } from './train/loop.js';
export type { Prediction } from './outputs.js';
export type { EvaluationReport } from './evaluate.js';
export type { Sample, SampleSource } from './pipeline/prepare.js';
export { PrepareCache } from './pipeline/cache.js';
export { Alignment, maskedPool } from './alignment.js';
export type { ModalityTokens } from './alignment.js';
export { FusionNetwork, toBatchInput } from './network.js';
export type { BatchInput } from './network.js';
export { TransformerFusion } from './strategies/transformer.js';
export { LateFusion } from './strategies/late.js';
export { CrossAttentionFusion } from './strategies/cross-attention.js';
export { FusionStrategy } from './strategies/strategy.js';
export { Head, headLoss } from './heads.js';
export { AdamW, clipByGlobalNorm } from './optim/adamw.js';
export type { AdamWArgs, AdamWState } from './optim/adamw.js';
export { learningRateAt } from './schedule.js';
export { accuracy, confusionMatrix, macroF1, perClassMetrics } from './metrics.js';
export type { ClassMetrics } from './metrics.js';
export { FORMAT_NAME, FORMAT_VERSION } from './io/format.js';
export { trainFromManifest } from './train/from-manifest.js';
export type { TrainFromManifestOptions } from './train/from-manifest.js';
export { compareStrategies } from './compare.js';
export type { StrategyResult } from './compare.js';
export { Progress } from './train/progress.js';
export type { ProgressMode } from './train/progress.js';
