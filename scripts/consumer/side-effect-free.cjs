// The side-effect-free entries load without TensorFlow.js and register nothing.
const assert = require('node:assert/strict');
const entries = ['@mmfuse/core/base', '@mmfuse/audio/dsp', '@mmfuse/text-rnn/tokenizers', '@mmfuse/vision-cnn/preprocess'];
for (const e of entries) require(e);
const loaded = Object.keys(require.cache).filter((k) => k.includes(`${require('node:path').sep}@tensorflow${require('node:path').sep}`));
assert.deepEqual(loaded, [], `side-effect-free entries loaded TensorFlow.js: ${loaded.slice(0, 3).join(', ')}`);
assert.deepEqual(require('@mmfuse/core/base').encoders.kinds(), [], 'side-effect-free entries registered encoders');
const { fbank } = require('@mmfuse/audio/dsp');
const { WordTokenizer } = require('@mmfuse/text-rnn/tokenizers');
assert.equal(fbank(new Float32Array(1600), { sampleRateHz: 16000 }).bins, 23);
assert.deepEqual(new WordTokenizer().tokenize('Hello there').tokens, ['hello', 'there']);
console.log(`side-effect-free entries: ${entries.join(', ')}: no TensorFlow.js, no registrations`);
