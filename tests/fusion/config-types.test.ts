// Type-level checks of the config types (tsc checks them: `npx tsc --noEmit` fails if an expected error
// disappears) plus the runtime twin of each: the same config refused by normalizeConfig.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import '@mmfuse/audio';
import { defineConfig, normalizeConfig } from '@mmfuse/fusion';
import type { FusionModelConfig, ModelConfigInputCheck, TypedModelConfig } from './config-types-helper.js';

// The CLI README's minimal config, as TypeScript: output.type and every other section are optional.
const minimal: FusionModelConfig = { inputs: { text: { type: 'text', encoder: { kind: 'rnn' } } }, output: { field: 'label' } };
const typed: TypedModelConfig = { inputs: { text: { type: 'text', encoder: { kind: 'rnn' } } }, output: { field: 'label' } };
// A typed config is accepted wherever a config is.
const _accepts: FusionModelConfig = typed;
const _check: ModelConfigInputCheck = true;

describe('config types', () => {
  it('type-check a config as written and refuse a misspelt encoder option at compile time and at run time', () => {
    defineConfig({
      inputs: {
        text: { type: 'text', encoder: { kind: 'rnn', hiddenSize: 16, tokenizer: { type: 'cjk', cjkSplit: 'word' } } },
        voice: { type: 'audio', encoder: { kind: 'audio/cnn', nMels: 40, channels: [8] }, maxTokens: 32 },
      },
      output: { field: 'label', type: 'category' },
      training: { epochs: 2 },
    });
    const typo = () => defineConfig({
      // @ts-expect-error hiddenSise is not an option of text/rnn
      inputs: { text: { type: 'text', encoder: { kind: 'rnn', hiddenSise: 16 } } },
      output: { field: 'label' },
    });
    const wrongType = () => defineConfig({
      // @ts-expect-error nMels must be a number
      inputs: { voice: { type: 'audio', encoder: { kind: 'cnn', nMels: '40' } } },
      output: { field: 'label' },
    });
    for (const config of [typo(), wrongType()]) expect(() => normalizeConfig(config)).toThrow(ConfigError);
    expect(() => normalizeConfig(typo())).toThrow(/^inputs\.text\.encoder\.hiddenSise: unknown key; did you mean "hiddenSize"\?$/);
    expect(normalizeConfig(minimal).output).toEqual({ field: 'label', type: 'category' });
  });
});
