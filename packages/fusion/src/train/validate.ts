/**
 * Validation: the head loss (the output kind's tensor loss, with no label smoothing and no class weights)
 * in inference mode, averaged over the samples, and for category outputs accuracy and macro-F1.
 */
import * as tf from '@tensorflow/tfjs';
import { INFERENCE_BATCH } from '../infer.js';
import { toBatchInput } from '../network.js';
import type { FusionState } from '../state.js';
import type { TrainingSample } from './loss-terms.js';

export interface ValidationResult { loss: number; accuracy?: number; macroF1?: number }

export async function validate(state: FusionState, samples: readonly TrainingSample[]): Promise<ValidationResult> {
  const net = state.requireNetwork();
  const output = state.requireOutput();
  const k = output.outDim;
  let lossSum = 0;
  const values: number[][] = [];
  for (let start = 0; start < samples.length; start += INFERENCE_BATCH) {
    const chunk = samples.slice(start, start + INFERENCE_BATCH);
    const [logits, loss] = tf.tidy(() => {
      const out = net.forward(toBatchInput(chunk.map((s) => s.values), state.fields.length), { training: false });
      return [out, output.loss(out, output.encode(chunk.map((s) => s.target)))];
    });
    // Every kind's loss is a mean over the chunk's rows (and labels), so chunk means weight by rows.
    let data: Float32Array;
    try {
      lossSum += ((await loss.data())[0] as number) * chunk.length;
      data = await logits.data() as Float32Array;
    } finally {
      tf.dispose([logits, loss]);
    }
    if (output.validationScores !== undefined) for (let r = 0; r < chunk.length; r++) values.push(output.values(data.subarray(r * k, (r + 1) * k)));
  }
  const result: ValidationResult = { loss: lossSum / Math.max(1, samples.length) };
  if (output.validationScores !== undefined) Object.assign(result, output.validationScores(values, samples.map((s) => s.target)));
  return result;
}
