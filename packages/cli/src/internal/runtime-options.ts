/** The `--runtime` and `--threads` options of serve, predict and eval (no heavy imports: specs load it for `--help`). */
export type RuntimeName = 'tfjs' | 'onnx';
export const RUNTIMES: readonly RuntimeName[] = ['tfjs', 'onnx'];

export const runtimeOptions = {
  runtime: { type: 'string', valueName: 'NAME', description: 'Inference runtime: tfjs (default) or onnx (onnxruntime-node, an optional package; --model may then be a .onnx file from "mmfuse export", which selects onnx by itself)' },
  threads: { type: 'integer', valueName: 'N', description: 'Threads of the onnx runtime (default: onnxruntime\'s, one per physical core)', min: 1, max: 256 },
} as const;
