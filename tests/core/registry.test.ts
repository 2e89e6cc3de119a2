import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, EncoderRegistry, InvalidInputError, createRng, encoders } from '@mmfuse/core';
// A plugin defined outside packages/: importing it registers `tabular/linear` with one call.
import { TabularEncoder } from '../../examples/tabular-plugin.js';

describe('encoder registry', () => {
  it('registers a third-party plugin that runs through prepare, fit, collate and encode', async () => {
    expect(encoders.has('tabular/linear')).toBe(true);
    const enc = encoders.create('tabular/linear', { columns: 3, dim: 4 });
    expect(enc).toBeInstanceOf(TabularEncoder);
    expect(enc.modality).toBe('tabular');
    const raw = [[1, 2, 3], [4, 5, 6], [7, 8, 10]];
    const prepared = await Promise.all(raw.map((r, i) => enc.prepare(r, { sample: i, field: 'stats' })));
    await enc.fit?.(prepared);
    enc.build(createRng(0));
    const before = tf.memory().numTensors;
    const batch = enc.collate(prepared);
    // encode runs inside the caller's tidy scope, as the fusion model calls it.
    const out = tf.tidy(() => enc.encode(batch, { training: false }));
    expect(out.features.shape).toEqual([3, 3, 4]);
    expect(out.mask.shape).toEqual([3, 3]);
    expect(Array.from(out.mask.dataSync())).toEqual(new Array(9).fill(1));
    // Standardized inputs: column 0 is [-1.22, 0, 1.22], so sample 1's first token is the shift (zeros).
    const f = out.features.arraySync();
    expect(f[1]?.[0]?.every((v) => Math.abs(v) < 1e-6)).toBe(true);
    tf.dispose([out.features, out.mask, ...Object.values(batch)]);
    expect(tf.memory().numTensors).toBe(before);
    // Gradients reach both weights.
    const grads = tf.variableGrads(() => {
      const b = enc.collate(prepared);
      const o = enc.encode(b, { training: true });
      return o.features.square().sum() as tf.Scalar;
    }, enc.trainableWeights as tf.Variable[]);
    for (const w of enc.trainableWeights) expect(grads.grads[w.name]?.abs().sum().dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([grads.value, ...Object.values(grads.grads)]);
    // Fitted state round-trips through JSON.
    const copy = encoders.create('tabular/linear', enc.getConfig());
    copy.setState(JSON.parse(JSON.stringify(enc.getState())));
    expect(copy.getState()).toEqual(enc.getState());
    enc.dispose();
  });

  it('refuses bad input with a typed error naming the sample and field', async () => {
    const enc = encoders.create('tabular/linear', { columns: 2 });
    await expect(enc.prepare([1, Number.NaN], { sample: 'row-9', field: 'stats' })).rejects.toThrow(InvalidInputError);
    await expect(enc.prepare([1], { sample: 'row-9', field: 'stats' })).rejects.toThrow(/sample "row-9", field "stats": expected an array of 2 numbers/);
  });

  it('refuses duplicate and malformed names, and names the known kinds for an unknown one', () => {
    const reg = new EncoderRegistry();
    const factory = () => new TabularEncoder({ columns: 1 });
    reg.register({ kind: 'tabular/linear', modality: 'tabular', factory });
    expect(() => reg.register({ kind: 'tabular/linear', modality: 'tabular', factory })).toThrow(/already registered/);
    expect(() => reg.register({ kind: 'Tabular', modality: 'tabular', factory })).toThrow(ConfigError);
    expect(() => reg.create('image/cnn')).toThrow(/unknown encoder kind "image\/cnn"; registered: tabular\/linear/);
    expect(() => encoders.register({ kind: 'tabular/linear', modality: 'tabular', factory })).toThrow(/already registered/);
  });

  it('keys entries by the static name, not the class name', () => {
    const reg = new EncoderRegistry();
    // A minifier renaming the class must not matter.
    const Renamed = class extends TabularEncoder {};
    Object.defineProperty(Renamed, 'name', { value: 'a' });
    reg.register({ kind: TabularEncoder.kind, modality: 'tabular', factory: () => new Renamed({ columns: 1 }) });
    expect(reg.create('tabular/linear').kind).toBe('tabular/linear');
    expect(reg.kinds()).toEqual(['tabular/linear']);
  });
});
