/** The declarations of `mmfuse compress` and `mmfuse distill` (no heavy imports: `--help` stays fast). */
import type { CommandSpec } from '../internal/args.js';

const json = { type: 'boolean', description: 'Print one JSON object as the last line of stdout' } as const;
const plugin = { type: 'string', valueName: 'MODULE', description: 'Import a module that registers encoders (a third-party modality) first', repeatable: true } as const;

export const compressSpec: CommandSpec = {
  name: 'compress',
  summary: 'Make a trained model smaller or faster: int8 / float16 weights, structured pruning with fine-tuning, or magnitude pruning.',
  positionals: [],
  options: {
    model: { type: 'string', valueName: 'DIR', description: 'Model folder written by "mmfuse train"', required: true },
    out: { type: 'string', valueName: 'DIR', description: 'Model folder to write (new, empty, or an earlier model folder, which is replaced)', required: true },
    quantize: { type: 'string', valueName: 'int8|float16', description: 'Store kernels and embedding tables as int8 (per-output-channel scales, about 4x smaller) or float16 (2x); biases, norms and small tensors stay float32' },
    calibrate: { type: 'string', valueName: 'MANIFEST', description: 'With --quantize: keep the weights whose quantization moves these samples\' answers most in float32, until within --tolerance of float32 (labels used when present)' },
    tolerance: { type: 'number', valueName: 'X', description: 'Accuracy (or answer agreement, without labels) --calibrate may lose (default 0.005)', min: 0, max: 0.99 },
    'keep-float32': { type: 'string', valueName: 'NAME', description: 'Keep this weight in float32 (a name as the --json report lists it)', repeatable: true },
    'min-size': { type: 'integer', valueName: 'N', description: 'Weights with fewer values stay float32 (default 1024)', min: 1 },
    prune: { type: 'number', valueName: 'RATIO', description: 'Share of units (structured) or values (magnitude) to remove, between 0 and 1', min: 0, max: 1 },
    'prune-method': { type: 'string', valueName: 'structured|magnitude', description: 'structured (default): remove attention heads, feed-forward neurons, conv channels and recurrent units, a smaller and faster model; magnitude: zero the smallest values, size-only (smaller only when compressed)' },
    importance: { type: 'string', valueName: 'taylor|norm', description: 'How structured pruning ranks units: taylor (first-order loss change, needs --data; the default with --data) or norm (weight norm)' },
    data: { type: 'string', valueName: 'MANIFEST', description: 'Training data: importance scores and the fine-tune after structured pruning' },
    validation: { type: 'string', valueName: 'MANIFEST', description: 'Validation data for the fine-tune (early stopping, best epoch kept); default: the model\'s validationSplit of --data' },
    'finetune-epochs': { type: 'integer', valueName: 'N', description: 'Fine-tune the pruned model on --data for N epochs (default 0)', min: 0 },
    'finetune-learning-rate': { type: 'number', valueName: 'LR', description: 'Peak learning rate of the fine-tune (default half the model\'s training.learningRate)', min: 0 },
    test: { type: 'string', valueName: 'MANIFEST', description: 'Score the model before and after on this labeled manifest (accuracy, agreement)' },
    plugin,
    json,
  },
  epilog: [
    'Steps run in order: pruning (then the fine-tune), then quantization. The folder holds compress.json (what was done, sizes, scores).',
    'Examples:',
    '  mmfuse compress --model models/bot --quantize int8 --out models/bot-int8',
    '  mmfuse compress --model models/bot --prune 0.5 --data train.jsonl --finetune-epochs 5 --out models/bot-pruned',
  ].join('\n'),
};

export const distillSpec: CommandSpec = {
  name: 'distill',
  summary: 'Train a smaller student model (its own config; any subset of the teacher\'s inputs) on a trained teacher\'s softened outputs and the labels.',
  positionals: [],
  options: {
    teacher: { type: 'string', valueName: 'DIR', description: 'Trained teacher model folder; repeat it for an ensemble (the soft targets are the mean of the teachers\')', required: true, repeatable: true },
    config: { type: 'string', valueName: 'FILE', description: 'The student\'s config file (inputs, fusion, training, data.train; data.validation / data.test optional)', required: true },
    out: { type: 'string', valueName: 'DIR', description: 'Student model folder to write (new, empty, or an earlier model folder, which is replaced)', required: true },
    unlabeled: { type: 'string', valueName: 'MANIFEST', description: 'Samples without labels: the teacher labels them and they join the training data', repeatable: true },
    temperature: { type: 'number', valueName: 'T', description: 'Softmax temperature of the soft targets (default 2)', min: 0.01, max: 100 },
    alpha: { type: 'number', valueName: 'A', description: 'Weight of the teacher\'s soft targets; the labels get 1 - A (default 0.5)', min: 0, max: 1 },
    'augment-text': { type: 'integer', valueName: 'N', description: 'Add N corrupted copies (dropped words, typos, emoji...) of every training text, labeled by the teacher (default 0)', min: 0, max: 100 },
    hint: { type: 'string', valueName: 'INPUT=TEACHER_INPUT', description: 'Relational hint: the student\'s encoding of INPUT learns which samples the teacher\'s frozen embedding input TEACHER_INPUT (e.g. text/use) puts close together, e.g. text=sentence for a student without the sentence encoder' },
    'hint-weight': { type: 'number', valueName: 'W', description: 'Weight of the --hint term (default 1)', min: 0, max: 1000 },
    epochs: { type: 'integer', valueName: 'N', description: 'Override the student\'s training.epochs', min: 1 },
    seed: { type: 'integer', valueName: 'N', description: 'Override the student\'s training.seed', min: 0 },
    plugin,
    json,
  },
  epilog: 'Example: mmfuse distill --teacher models/bot --config student.yaml --out models/bot-student --unlabeled more-calls.jsonl',
};
