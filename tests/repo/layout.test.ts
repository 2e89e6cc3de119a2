// The layout rules of CONTRIBUTING.md, checked: kebab-case file names, no import cycles inside a package,
// tests import packages by their public names, and the side-effect-free entries stay side-effect free.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
// The wasm kernels are named after the TensorFlow.js kernels they implement (e.g. `batch_matmul.ts`), and
// tests/engine covers them white-box; the engine's own layout rules apply there.
const EXEMPT = [path.join('packages', 'core', 'src', 'internal', 'wasm')];

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(p).isDirectory()) walk(p, out);
    else if (/\.(c|m)?ts$/.test(name)) out.push(p);
  }
  return out;
}

const sources = readdirSync(path.join(root, 'packages')).flatMap((pkg) => walk(path.join(root, 'packages', pkg, 'src')));
const exempt = (file: string) => EXEMPT.some((e) => path.relative(root, file).startsWith(e));

/** Relative imports of a file (static `import`/`export ... from`, type-only included), resolved to files. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\sfrom\s+'(\.{1,2}\/[^']+)'/gm)) {
    out.push(path.resolve(path.dirname(file), (m[1] as string).replace(/\.js$/, '.ts')));
  }
  return out;
}

describe('repository layout', () => {
  it('names source files in kebab-case', () => {
    const bad = sources.filter((f) => !exempt(f) && !/^[a-z0-9]+(?:-[a-z0-9]+)*(?:\.d)?\.(c|m)?ts$/.test(path.basename(f)));
    expect(bad.map((f) => path.relative(root, f))).toEqual([]);
  });

  it('has no import cycles inside a package (type-only imports included)', () => {
    const checked = ['core', 'audio', 'text-rnn', 'vision-cnn', 'fusion', 'speech', 'cli'].map((p) => path.join(root, 'packages', p, 'src') + path.sep);
    const graph = new Map(sources.filter((f) => !exempt(f) && checked.some((c) => f.startsWith(c))).map((f) => [f, relativeImports(f)]));
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const g of graph.get(f) ?? []) {
        if (!graph.has(g)) continue;
        if (state.get(g) === 'open') cycles.push(stack.slice(stack.indexOf(g)).concat(g).map((x) => path.relative(root, x)).join(' -> '));
        else if (state.get(g) === undefined) visit(g);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (state.get(f) === undefined) visit(f);
    expect(cycles).toEqual([]);
  });

  it('tests import packages by their public names, not their internals (tests/engine aside: white-box kernel tests)', () => {
    const tests = walk(path.join(root, 'tests')).filter((f) => !f.includes(`${path.sep}engine${path.sep}`));
    const bad = tests.filter((f) => /from '[^']*packages\/[^']*\/src\//.test(readFileSync(f, 'utf8')));
    expect(bad.map((f) => path.relative(root, f))).toEqual([]);
  });

  it('loads the side-effect-free entries without TensorFlow.js and without registering encoders', () => {
    const tsx = pathToFileURL(path.join(root, 'node_modules/tsx/dist/loader.mjs')).href;
    const script = [
      "const entries = ['@mmfuse/core/base', '@mmfuse/audio/dsp', '@mmfuse/text-rnn/tokenizers', '@mmfuse/vision-cnn/preprocess', '@mmfuse/fusion/feeds'];",
      'for (const e of entries) await import(e);',
      // tfjs-core keeps its engine on the global object once loaded.
      "const before = { tf: '_tfengine' in globalThis, kinds: (await import('@mmfuse/core/base')).encoders.kinds() };",
      // The sentence encoder's forward pass (shared with the browser page) loads TensorFlow.js, registers nothing.
      "await import('@mmfuse/text-rnn/use-model');",
      "const mid = { kinds: (await import('@mmfuse/core/base')).encoders.kinds() };",
      "await import('@mmfuse/audio');",
      "const after = { tf: '_tfengine' in globalThis, kinds: (await import('@mmfuse/core/base')).encoders.kinds() };",
      'process.stdout.write(JSON.stringify({ before, mid, after }));',
    ].join('\n');
    const out = JSON.parse(execFileSync(process.execPath, ['--conditions=source', '--import', tsx, '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' })) as Record<string, { tf?: boolean; kinds: string[] }>;
    expect(out.before).toEqual({ tf: false, kinds: [] });
    expect(out.mid).toEqual({ kinds: [] });
    expect(out.after).toEqual({ tf: true, kinds: ['audio/cnn', 'audio/phonetic'] });
  });
});
