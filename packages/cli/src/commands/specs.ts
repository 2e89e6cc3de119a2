/**
 * The declaration of every command: arguments, options with defaults, help text. Kept free of heavy
 * imports so `--help` and usage errors answer without starting TensorFlow.js.
 */
import type { CommandSpec } from '../internal/args.js';
import { pretrainSpeechSpec } from './pretrain-speech.js';
import { synthesizeSpec } from './synthesize.js';
import { schemaSpec } from './schema.js';
import { cacheOption, hyperoptSpec, prepareSpec, redisOption, workerSpec } from './distributed-specs.js';
import { runtimeOptions } from '../internal/runtime-options.js';
import { compressSpec, distillSpec } from './compress-specs.js';

const json = { type: 'boolean', description: 'Print one JSON object as the last line of stdout' } as const;
const plugin = { type: 'string', valueName: 'MODULE', description: 'Import a module that registers encoders (a third-party modality) first', repeatable: true } as const;

export const trainSpec: CommandSpec = {
  name: 'train',
  summary: 'Train a model from a config file; writes the model folder and an HTML report beside it (DIR.report.html).',
  positionals: [{ name: 'CONFIG', description: 'Config file (.json, .yaml or .yml); data paths are relative to it' }],
  options: {
    out: { type: 'string', valueName: 'DIR', description: 'Model folder to write', required: true },
    seed: { type: 'integer', valueName: 'N', description: 'Override training.seed (default: the config\'s, else 42)', min: 0 },
    epochs: { type: 'integer', valueName: 'N', description: 'Override training.epochs (default: the config\'s, else 10)', min: 1 },
    checkpoint: { type: 'string', valueName: 'DIR', description: 'Write a checkpoint here after every epoch and on interruption (DIR/last, replaced atomically)' },
    resume: { type: 'boolean', description: 'Continue from the checkpoint in --checkpoint DIR, if there is one (same config)' },
    cache: cacheOption,
    redis: { ...redisOption, description: 'Prepare the training and validation samples on mmfuse workers through this Redis first (needs --cache on shared storage); default: MMFUSE_REDIS_URL' },
    plugin,
    json,
  },
  epilog: 'Example: mmfuse train model.yaml --out models/bot --epochs 5\nAfter a crash or Ctrl-C: mmfuse train model.yaml --out models/bot --checkpoint ckpt --resume',
};

export const evalSpec: CommandSpec = {
  name: 'eval',
  summary: 'Evaluate a trained model on a manifest: accuracy, macro F1, per-class scores, confusion matrix; bad samples are skipped and listed.',
  positionals: [],
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model folder written by "mmfuse train"', required: true },
    data: { type: 'string', valueName: 'MANIFEST', description: 'JSONL or CSV manifest with the target field; paths relative to it', required: true },
    ...runtimeOptions,
    plugin,
    json,
  },
  epilog: 'JSON keys: accuracy, macroF1, n, perClass, confusion { labels, matrix }, skipped [{ line, sample, field, code, reason }].',
};

export const predictSpec: CommandSpec = {
  name: 'predict',
  summary: 'Predict one sample from the given modalities (any subset), or every sample of a manifest as JSONL.',
  positionals: [],
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model folder written by "mmfuse train"', required: true },
    text: { type: 'string', valueName: 'T', description: 'Text for the model\'s text input', modality: 'text' },
    audio: { type: 'string', valueName: 'FILE', description: 'WAV file for the model\'s audio input', modality: 'audio' },
    image: { type: 'string', valueName: 'FILE', description: 'Image file (PNG, JPEG, ...) for the model\'s image input', modality: 'image' },
    input: { type: 'string', valueName: 'FIELD=VALUE', description: 'Value for an input field by name, read as its encoder declares (a file path, text, JSON, or base64 bytes)', repeatable: true },
    data: { type: 'string', valueName: 'MANIFEST', description: 'Predict every sample of a manifest; one JSON line per sample' },
    'oos-threshold': { type: 'number', valueName: 'P', description: 'Out-of-scope threshold on the calibrated top probability, instead of the model\'s (chosen on validation data when it was trained)', min: 0, max: 1 },
    top: { type: 'integer', valueName: 'K', description: 'Print the K most probable labels (default 5); --json always has every probability', min: 1 },
    all: { type: 'boolean', description: 'Print the probability of every label' },
    redis: { ...redisOption, description: 'With --data: predict on mmfuse workers through this Redis (same output, in manifest order); default: MMFUSE_REDIS_URL' },
    ...runtimeOptions,
    plugin,
    json,
  },
  epilog: 'Output: label, the most probable labels, modality contributions (--json: every probability), and outOfScope (true: no label fits well enough; hand the request over) when the model has a threshold. With --data, bad samples give a line with "error" and the rest go on.',
};

export const serveSpec: CommandSpec = {
  name: 'serve',
  summary: 'Serve a model over HTTP: POST /v1/predict (JSON with base64 files, or multipart), GET /healthz, GET /metrics.',
  positionals: [],
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model folder written by "mmfuse train"', required: true },
    host: { type: 'string', valueName: 'H', description: 'Address to bind (default 127.0.0.1)' },
    port: { type: 'integer', valueName: 'N', description: 'Port (default 8080; 0 picks a free one)', min: 0, max: 65535 },
    'max-body-bytes': { type: 'integer', valueName: 'N', description: 'Largest request body; larger answers 413 (default 10485760)', min: 1 },
    'max-batch-size': { type: 'integer', valueName: 'N', description: 'Most requests per model call (default 16)', min: 1 },
    'max-wait-ms': { type: 'number', valueName: 'MS', description: 'How long a request waits to be batched with others (default 5)', min: 0, max: 10000 },
    'oos-threshold': { type: 'number', valueName: 'P', description: 'Out-of-scope threshold on the calibrated top probability, instead of the model\'s (chosen on validation data when it was trained)', min: 0, max: 1 },
    cors: { type: 'string', valueName: 'ORIGIN', description: 'Let browser pages from ORIGIN (e.g. https://app.example.com, or *) call the server (CORS)', repeatable: true },
    ...runtimeOptions,
    plugin,
  },
  epilog: 'Prints "listening on http://HOST:PORT" on stderr once ready. SIGTERM or SIGINT: stop accepting, finish in-flight requests, exit 0.',
};

export const inspectSpec: CommandSpec = {
  name: 'inspect',
  summary: 'Describe a model folder: config, labels, metrics, engine, size.',
  positionals: [{ name: 'DIR', description: 'Model folder written by "mmfuse train"' }],
  options: { plugin, json },
};

export const exportSpec: CommandSpec = {
  name: 'export',
  summary: 'Export a trained model folder as one ONNX graph (every encoder, fusion and head) for onnxruntime, in Node or a browser.',
  positionals: [],
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model folder written by "mmfuse train"', required: true },
    format: { type: 'string', valueName: 'FORMAT', description: 'Output format: onnx (the only one)', required: true },
    out: { type: 'string', valueName: 'FILE', description: 'The .onnx file to write (an existing file is replaced only when mmfuse wrote it)', required: true },
    quantize: { type: 'string', valueName: 'MODE', description: 'int8: integer kernels for dense products (per-output-channel int8 weights, dynamic activation quantization) and int8 embedding rows' },
    plugin,
    json,
  },
  epilog: 'Graph inputs per input field F: F.<tensor> (its encoder\'s collate tensors) and F.present [batch]; output: logits [batch, outDim].\nRun it: mmfuse serve --model FILE.onnx (or predict / eval), or in a browser with onnxruntime-web.',
};

export const reportSpec: CommandSpec = {
  name: 'report',
  summary: 'Compare trained runs side by side in one HTML page: curves, held-out metrics, per-class F1.',
  positionals: [{ name: 'MODEL_DIR', description: 'Model folder written by "mmfuse train" (its run.json); give several to compare them', variadic: true }],
  options: {
    out: { type: 'string', valueName: 'FILE', description: 'Where to write the page (default mmfuse-compare.html in the working folder)' },
    json,
  },
};

export const COMMANDS: readonly CommandSpec[] = [trainSpec, evalSpec, predictSpec, serveSpec, exportSpec, inspectSpec, reportSpec, schemaSpec, synthesizeSpec, pretrainSpeechSpec, compressSpec, distillSpec, prepareSpec, workerSpec, hyperoptSpec];
