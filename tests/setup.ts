// Every test file starts the engine the way an application does: automatic selection, which on a machine
// without the native engines falls through to wasm.
import { initEngine } from '@mmfuse/core';

await initEngine();
