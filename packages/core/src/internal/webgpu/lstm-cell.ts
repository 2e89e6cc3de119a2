/**
 * mmfuse's fused LSTM step (`lstmCell`, see ../wasm/lstm_cell.ts) as WebGPU compute shaders. The backend has
 * every stock kernel, but composed from them one step is ~10 dispatches forward and ~25 backward, and a
 * BiLSTM over 32 steps issues thousands per training step; fused it is two each way (WebGPU programs of
 * tfjs-backend-webgpu write one output each). Gates z = [z_i | z_f | z_g | z_o] [B, 4H], c [B, H]:
 *   c′ = σ(z_f) c + σ(z_i) tanh(z_g),  h′ = σ(z_o) tanh(c′)
 */
import type * as tf from '@tensorflow/tfjs';
import { LSTM_CELL, LSTM_CELL_GRAD } from '../wasm/lstm_cell.js';

/** The members of tfjs-backend-webgpu's backend and program contract that these kernels use. */
interface WebGpuBackend { runWebGPUProgram(program: unknown, inputs: tf.TensorInfo[], dtype: tf.DataType): tf.TensorInfo }

/** WGSL helpers: a logistic sigmoid and a tanh that stays finite for large |x|. */
const HELPERS = `
  fn sigm(x : f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
  fn tanhSafe(x : f32) -> f32 { let e = exp(-2.0 * abs(x)); return sign(x) * (1.0 - e) / (1.0 + e); }
`;

/** A flat elementwise program over `size` outputs, with H baked into the shader (one shader per width). */
class LstmProgram {
  readonly variableNames: string[];
  readonly outputShape: number[];
  readonly shaderKey: string;
  readonly dispatchLayout: { x: number[] };
  readonly dispatch: [number, number, number];
  readonly workgroupSize: [number, number, number] = [64, 1, 1];
  readonly size = true;

  constructor(variableNames: string[], outputShape: number[], private readonly body: string, key: string, private readonly hidden: number) {
    this.variableNames = variableNames;
    this.outputShape = outputShape;
    this.shaderKey = `mmfuse_lstm_${key}_${hidden}`;
    this.dispatchLayout = { x: outputShape.map((_, i) => i) };
    const size = outputShape.reduce((a, b) => a * b, 1);
    this.dispatch = [Math.ceil(size / this.workgroupSize[0]), 1, 1];
  }

  getUserCode(): string {
    return `${HELPERS}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let H = ${this.hidden};
          ${this.body}
        }
      }`;
  }
}

/** Gate values of row r, unit j: i, f, g, o. */
const GATES = `
  let gb = r * 4 * H;
  let ig = sigm(G[gb + j]);
  let fg = sigm(G[gb + H + j]);
  let gg = tanhSafe(G[gb + 2 * H + j]);
  let og = sigm(G[gb + 3 * H + j]);`;

function shapes(gates: tf.TensorInfo, c: tf.TensorInfo): { b: number; h: number } {
  const [b, g4] = gates.shape as [number, number];
  const h = g4 / 4;
  if (gates.shape.length !== 2 || !Number.isInteger(h) || c.shape.length !== 2 || c.shape[0] !== b || c.shape[1] !== h) {
    throw new Error(`lstmCell: gates must be [B, 4H] and c [B, H], got [${gates.shape.join(', ')}] and [${c.shape.join(', ')}]`);
  }
  return { b, h };
}

function lstmCellKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: unknown }): tf.TensorInfo[] {
  const gates = args.inputs['gates']!;
  const c = args.inputs['c']!;
  const backend = args.backend as WebGpuBackend;
  const { b, h } = shapes(gates, c);
  const cNew = `let r = index / H; let j = index - r * H;${GATES}
          let cn = fg * C[index] + ig * gg;`;
  const hOut = backend.runWebGPUProgram(new LstmProgram(['G', 'C'], [b, h], `${cNew}\n          result[index] = og * tanhSafe(cn);`, 'h', h), [gates, c], 'float32');
  const cOut = backend.runWebGPUProgram(new LstmProgram(['G', 'C'], [b, h], `${cNew}\n          result[index] = cn;`, 'c', h), [gates, c], 'float32');
  return [hOut, cOut];
}

/** Inputs {gates, c, cNew, dh, dc} → [dGates [B, 4H], dC [B, H]] (the formulas of the wasm kernel). */
function lstmCellGradKernel(args: { inputs: Record<string, tf.TensorInfo>; backend: unknown }): tf.TensorInfo[] {
  const { gates, c, cNew, dh, dc } = args.inputs as Record<'gates' | 'c' | 'cNew' | 'dh' | 'dc', tf.TensorInfo>;
  const backend = args.backend as WebGpuBackend;
  const { b, h } = shapes(gates, c);
  const total = (k: string): string => `
          let tc = tanhSafe(N[${k}]);
          let dcTotal = DC[${k}] + DH[${k}] * og * (1.0 - tc * tc);`;
  const dGates = backend.runWebGPUProgram(new LstmProgram(['G', 'C', 'N', 'DH', 'DC'], [b, 4 * h], `
          let r = index / (4 * H); let q = index - r * 4 * H; let part = q / H; let j = q - part * H;
          let k = r * H + j;${GATES}${total('k')}
          var v = 0.0;
          if (part == 0) { v = dcTotal * gg * ig * (1.0 - ig); }
          else if (part == 1) { v = dcTotal * C[k] * fg * (1.0 - fg); }
          else if (part == 2) { v = dcTotal * ig * (1.0 - gg * gg); }
          else { v = DH[k] * tc * og * (1.0 - og); }
          result[index] = v;`, 'dgates', h), [gates, c, cNew, dh, dc], 'float32');
  // (No C here: a buffer the shader never reads is dropped from its bind group layout.)
  const dC = backend.runWebGPUProgram(new LstmProgram(['G', 'N', 'DH', 'DC'], [b, h], `
          let r = index / H; let j = index - r * H;${GATES}${total('index')}
          result[index] = dcTotal * fg;`, 'dc', h), [gates, cNew, dh, dc], 'float32');
  return [dGates, dC];
}

export const lstmCellWebGpuConfigs: tf.KernelConfig[] = [
  { kernelName: LSTM_CELL, backendName: 'webgpu', kernelFunc: lstmCellKernel as unknown as tf.KernelFunc },
  { kernelName: LSTM_CELL_GRAD, backendName: 'webgpu', kernelFunc: lstmCellGradKernel as unknown as tf.KernelFunc },
];
