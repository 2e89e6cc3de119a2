/**
 * mmfuse: the command line (`mmfuse train | eval | predict | serve | inspect`), the declarative config
 * reader and the prediction HTTP server, usable from code too.
 */
export { applyOverrides, loadConfig, normalizeModelPart, parseConfigText, readCliConfig, splitCliConfig, CLI_KEYS, DATA_KEYS, MODEL_KEYS } from './internal/config-file.js';
export type { CliConfig, DataPaths, LoadedConfig } from './internal/config-file.js';
export { createPredictionServer } from './server.js';
export type { PredictionServer, PredictRequest, PredictResponse, Predictor, PredictorField, ServerOptions } from './server.js';
export { RequestTooLargeError, UnsupportedMediaTypeError, errorResponse, httpStatusOf } from './server/errors.js';
export type { Outcome } from '@mmfuse/core';
export { parseMultipart, multipartBoundary } from './internal/multipart.js';
export type { MultipartLimits, MultipartPart } from './internal/multipart.js';
export { renderReport, renderComparison, lineChartSvg, confusionTableHtml, perClassTableHtml, inputsTableHtml, topConfusions, escapeHtml } from './report.js';
export type { ClassScores, ComparedRun, EpochRecord, ReportEvaluation, ReportInput } from './report.js';
export { UsageError, closest, parseArgs, helpText, usageLine } from './internal/args.js';
export type { CommandSpec, OptionSpec, ParsedArgs, PositionalSpec } from './internal/args.js';
export { main } from './main.js';
export { AUGMENT_WORD_DROP, augmentTexts } from './internal/augment-text.js';
export type { CliIo, CommandResult } from './internal/io.js';
