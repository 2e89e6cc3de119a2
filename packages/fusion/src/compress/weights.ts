/**
 * What every weight of a trained state is, for compression: its saved name, shape, and the axis of its
 * output channels (or null: stays float32). An ensemble's members are described one after another.
 *
 * - Fusion weights (`fusion.*`): the `[in, out]` kernels of `Linear` layers and the packed attention
 *   projection `inKernel [d, 3·inner]` have their output channels on the last axis; biases, LayerNorm
 *   parameters, the [CLS] / null tokens and the modality embeddings stay float32.
 * - Encoder weights: as the encoder's `describeWeights()` says (text/rnn: embedding rows, recurrent gate
 *   rows; audio/cnn and image/cnn: filters' output channels; audio/phonetic: conv channels, GRU gate rows,
 *   CTC symbols); an encoder without it: the last axis of every weight of rank >= 2 (TensorFlow.js layout).
 */
import { StateError } from '@mmfuse/core';
import type { ModalityEncoder, WeightDescription } from '@mmfuse/core';
import { memberWeightName } from '../state.js';
import type { FusionState } from '../state.js';

export interface WeightInfo {
  /** Saved name (`encoders.<field>.<i>` or `fusion.<path>`). */
  name: string;
  /** Readable name: the encoder's own (`encoders.text:rnn.weight_ih_l0`) or the fusion path. */
  label: string;
  shape: number[];
  size: number;
  /** Axis of the output channels; null = always float32. */
  outputAxis: number | null;
  /** The input field of an encoder weight. */
  field?: string;
}

const FUSION_KERNEL = /(^|\.)(kernel|inKernel)$/;

function encoderDescriptions(enc: ModalityEncoder, field: string): WeightDescription[] {
  const weights = enc.weights;
  const described = enc.describeWeights?.();
  if (described === undefined) {
    return weights.map((w, i) => ({ name: String(i), outputAxis: w.rank >= 2 ? w.rank - 1 : null }));
  }
  if (described.length !== weights.length) {
    throw new StateError(`encoder ${enc.kind} of input "${field}" describes ${described.length} weights but has ${weights.length}`);
  }
  described.forEach((d, i) => {
    const rank = (weights[i] as { rank: number }).rank;
    if (d.outputAxis !== null && (!Number.isInteger(d.outputAxis) || d.outputAxis < 0 || d.outputAxis >= rank)) {
      throw new StateError(`encoder ${enc.kind} of input "${field}": weight ${d.name} has rank ${rank}, so output axis ${d.outputAxis} does not exist`);
    }
  });
  return described;
}

/**
 * Every weight of a built state, in save order: an ensemble's members 1..N-1 follow member 0, their names
 * and labels prefixed `members.<k>.` as `namedWeights()` saves them.
 */
export function describeStateWeights(state: FusionState): WeightInfo[] {
  const out = describeOneModel(state);
  state.otherMembers.forEach((member, j) => {
    for (const info of describeOneModel(member)) out.push({ ...info, name: memberWeightName(j + 1, info.name), label: memberWeightName(j + 1, info.label) });
  });
  return out;
}

/** The weights of one network (member 0 of an ensemble), in save order. */
function describeOneModel(state: FusionState): WeightInfo[] {
  const net = state.requireNetwork();
  const out: WeightInfo[] = [];
  state.encoders.forEach((enc, m) => {
    const field = state.fields[m] as string;
    const desc = encoderDescriptions(enc, field);
    enc.weights.forEach((w, i) => {
      const d = desc[i] as WeightDescription;
      out.push({ name: `encoders.${field}.${i}`, label: `encoders.${field}:${d.name}`, shape: [...w.shape], size: w.size, outputAxis: d.outputAxis, field });
    });
  });
  for (const [name, w] of net.namedWeights('fusion.')) {
    out.push({ name, label: name, shape: [...w.shape], size: w.size, outputAxis: w.rank >= 2 && FUSION_KERNEL.test(name) ? w.rank - 1 : null });
  }
  return out;
}
