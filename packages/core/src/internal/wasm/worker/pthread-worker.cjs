'use strict';
/*
 * The script each pthread worker of the threaded tfjs-backend-wasm build runs in Node (a `worker_threads`
 * Worker needs a file path; tfjs itself hands the browser a `blob:` URL, which Node rejects). It evaluates
 * tfjs's own worker script (shipped with the package as a string, so it always matches the emscripten glue of
 * the installed version) in this worker's global scope, which is what a browser worker would do. That script
 * then `importScripts` the glue by the file path mmfuse's loader passes as `mainScriptUrlOrBlob`.
 */
const { getEnvironmentData } = require('node:worker_threads');

// The loader names the worker script of the very copy of tfjs-backend-wasm it loaded (an application may
// hold several copies); the plain lookup is for a worker started some other way.
const script = getEnvironmentData('mmfuse.wasm.workerScript')
  ?? require.resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js');
const { wasmWorkerContents } = require(script);

// The worker script reads `require` and `__filename` as globals (a browser worker has neither; emscripten's
// Node branch expects a CommonJS scope).
globalThis.require = require;
globalThis.__filename = __filename;
// tfjs stores the script in a template literal, so its "\n" escapes are real newlines inside string literals:
// escape them again, as tfjs does before making its blob.
(0, eval)(wasmWorkerContents.replace(/\n/g, '\\n'));
