import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, EncoderRegistry, InvalidInputError, LimitExceededError, createRng, encoders, z } from '@mmfuse/core';
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

  it('checks configs against the declared options schema: unknown keys with "did you mean", defaults filled in', () => {
    expect(() => encoders.create('tabular/linear', { columns: 2, dimm: 4 })).toThrow(/dimm: unknown key; did you mean "dim"\?/);
    expect(() => encoders.create('tabular/linear', { columns: 0 })).toThrow(/columns: must be an integer >= 1, got 0/);
    expect(() => encoders.create('tabular/linear', {})).toThrow(/columns: is required/);
    const reg = new EncoderRegistry();
    const seen: unknown[] = [];
    reg.register({
      kind: 'tabular/probe', modality: 'tabular',
      options: z.strictObject({ columns: z.int().min(1), dim: z.int().min(1).default(16) }),
      input: { kind: 'json', maxBytes: 1024 },
      factory: (options) => { seen.push(options); return new TabularEncoder({ columns: options.columns, dim: options.dim }); },
    });
    expect(() => reg.create('tabular/probe', { columns: 2 })).toThrow(/factory for "tabular\/probe" built a plugin whose kind is "tabular\/linear"/);
    expect(seen).toEqual([{ columns: 2, dim: 16 }]);
    expect(reg.rawInput('tabular/probe')).toEqual({ kind: 'json', maxBytes: 1024 });
    expect(reg.parseConfig('tabular/probe', { columns: 3 }, { path: 'inputs.t.encoder' })).toEqual({ columns: 3, dim: 16 });
    expect(() => reg.parseConfig('tabular/probe', { colums: 3 }, { path: 'inputs.t.encoder' })).toThrow(/^inputs\.t\.encoder\.colums: unknown key; did you mean "columns"\?$/);
  });

  it('refuses malformed declarations and applies the declared raw input (maxBytes) in prepare', async () => {
    const reg = new EncoderRegistry();
    const factory = () => new TabularEncoder({ columns: 1 });
    expect(() => reg.register({ kind: 'a/b', modality: 'a', factory, input: { kind: 'blob' as 'file', maxBytes: 1 } })).toThrow(/input\.kind must be one of file, bytes, text, json/);
    expect(() => reg.register({ kind: 'a/b', modality: 'a', factory, input: { kind: 'file', maxBytes: 0 } })).toThrow(/input\.maxBytes must be a positive integer/);
    expect(() => reg.register({ kind: 'a/b', modality: 'A', factory })).toThrow(/modality must be a lowercase name/);
    expect(() => reg.register({ kind: 'a/b', modality: 'a', factory, options: {} as never })).toThrow(/options must be a zod schema/);
    const enc = encoders.create('tabular/linear', { columns: 2, maxBytes: 8 });
    expect(enc.input).toEqual({ kind: 'json', maxBytes: 8 });
    await expect(enc.prepare([1, 2.123456], { sample: 'r', field: 'stats' })).rejects.toThrow(LimitExceededError);
    await expect(enc.prepare([1, 2], { sample: 'r', field: 'stats' })).resolves.toBeInstanceOf(Float32Array);
  });

  it('keeps one registry, one env queue and one error hierarchy for the ESM and CJS copies in a process', () => {
    const root = path.resolve(__dirname, '../..');
    const tsx = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const stdout = execFileSync(process.execPath, ['--conditions=source', '--import', tsx, path.join(__dirname, 'shared-state.child.mts')], { cwd: root, encoding: 'utf8' });
    const out = JSON.parse(stdout) as Record<string, unknown>;
    expect(out.twoCopies).toBe(true);
    expect(out.esmSees).toEqual(['probe/cjs', 'probe/esm']);
    expect(out.cjsSees).toEqual(['probe/cjs', 'probe/esm']);
    expect(out.instanceOf).toBe(true);
    expect(out.notOtherClass).toBe(false);
    expect(out.queue).toEqual(['cjs start', 'cjs end', 'esm']);
  });
});
