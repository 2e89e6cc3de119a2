/**
 * Build the bot page into a folder that any static server can serve (see serve.ts):
 *   model.onnx + model.json   the exported graph and its metadata (`mmfuse export --format onnx` does the same)
 *   page.js                   page.ts and mmfuse's side-effect-free entries bundled by esbuild for the browser
 *   ort/                      onnxruntime-web's wasm binary and its loader (from npm, served locally: the page works offline)
 *   index.html, answers.json  the page and the bot's answers
 *   use/                      the Universal Sentence Encoder lite's files (model.json, weights, vocab.json; 27 MB), when an input is `text/use`
 *
 *   node --conditions=source --import tsx examples/browser-bot/build.ts --model examples/customer-service/model [--out DIR] [--quantize int8]
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import type { Plugin } from 'esbuild';
import { FusionModel, exportOnnx } from '@mmfuse/fusion';
import type { FusionState, OnnxModelMetadata } from '@mmfuse/fusion';
import { defaultUseModelPath } from '@mmfuse/text-rnn';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/**
 * Node built-ins reached only by parts of the entries the page never calls (file reading, manifests):
 * an empty CommonJS module in the browser bundle, so they cost nothing and fail loudly if ever used.
 */
const nodeBuiltinsShim: Plugin = {
  name: 'node-builtins-shim',
  setup(b) {
    const builtins = new RegExp(`^(node:.*|${builtinModules.map((m) => m.replace(/[/.]/g, (c) => `\\${c}`)).join('|')})$`);
    b.onResolve({ filter: builtins }, (args) => ({ path: args.path, namespace: 'node-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, (args) => ({ contents: `module.exports = new Proxy({}, { get(_, k) { if (k === '__esModule' || k === 'default') return undefined; throw new Error(${JSON.stringify(args.path)} + ' is not available in the browser'); } });`, loader: 'js' }));
  },
};

export interface BuildOptions {
  /** The trained model: a folder written by `mmfuse train`, or a state in memory. */
  model: string | FusionState;
  /** Output folder. */
  outDir: string;
  quantize?: 'int8' | null;
  /** Answers per intent ({ label: { en, zh } }). Default: the customer-service bot's answers.json. */
  answers?: string;
}

/** Write the page folder; returns the files written. */
export async function buildBrowserBot(options: BuildOptions): Promise<string[]> {
  mkdirSync(path.join(options.outDir, 'ort'), { recursive: true });
  let state: FusionState;
  let loaded: FusionModel | undefined;
  if (typeof options.model === 'string') {
    loaded = await FusionModel.load(options.model);
    state = loaded.state;
  } else {
    state = options.model;
  }
  const frozen: string[] = [];
  try {
    const { bytes, metadata } = exportOnnx(state, { quantize: options.quantize ?? null });
    writeFileSync(path.join(options.outDir, 'model.onnx'), bytes);
    writeFileSync(path.join(options.outDir, 'model.json'), `${JSON.stringify(metadata)}\n`);
    frozen.push(...copySentenceEncoder(metadata, options.outDir));
  } finally {
    loaded?.dispose();
  }
  await build({
    entryPoints: [path.join(here, 'page.ts')],
    outfile: path.join(options.outDir, 'page.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    conditions: ['source'],
    plugins: [nodeBuiltinsShim],
    // The subword tokenizer loads transformers.js on demand; the bot's tokenizers never do.
    external: ['@xenova/transformers', '@huggingface/transformers'],
    logLevel: 'error',
  });
  for (const file of ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs']) copyFileSync(require.resolve(`onnxruntime-web/${file}`), path.join(options.outDir, 'ort', file));
  copyFileSync(path.join(here, 'index.html'), path.join(options.outDir, 'index.html'));
  const answers = options.answers ?? path.join(here, '../customer-service/answers.json');
  if (existsSync(answers)) copyFileSync(answers, path.join(options.outDir, 'answers.json'));
  return ['model.onnx', 'model.json', 'page.js', 'ort/ort-wasm-simd-threaded.wasm', 'ort/ort-wasm-simd-threaded.mjs', 'index.html', 'answers.json', ...frozen];
}

/** The files of a `text/use` input's model (its `modelPath`, or the installed package's) copied to `use/`; none without such an input. */
function copySentenceEncoder(metadata: OnnxModelMetadata, outDir: string): string[] {
  const input = metadata.inputs.find((i) => i.kind === 'text/use');
  if (input === undefined) return [];
  const folder = typeof input.config.modelPath === 'string' ? input.config.modelPath : defaultUseModelPath();
  const manifest = JSON.parse(readFileSync(path.join(folder, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
  const files = ['model.json', 'vocab.json', ...manifest.weightsManifest.flatMap((g) => g.paths)];
  mkdirSync(path.join(outDir, 'use'), { recursive: true });
  for (const f of files) copyFileSync(path.join(folder, path.basename(f)), path.join(outDir, 'use', path.basename(f)));
  return files.map((f) => `use/${path.basename(f)}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { model: { type: 'string' }, out: { type: 'string' }, quantize: { type: 'string' } } });
  const { initEngine } = await import('@mmfuse/core');
  await import('@mmfuse/text-rnn');
  await import('@mmfuse/audio');
  await initEngine();
  const outDir = path.resolve(values.out ?? path.join(here, 'public'));
  await buildBrowserBot({ model: path.resolve(values.model ?? path.join(here, '../customer-service/model')), outDir, quantize: values.quantize === 'int8' ? 'int8' : null });
  console.log(`wrote ${outDir}; serve it with: node --import tsx examples/browser-bot/serve.ts --dir ${path.relative(process.cwd(), outDir)}`);
}
