/** `mmfuse serve --model DIR [--host H] [--port N]`: runs until SIGTERM / SIGINT, then shuts down gracefully. */
import * as tf from '@tensorflow/tfjs';
import { MmfuseError, isMmfuseError } from '@mmfuse/core';
import type { MmfuseErrorCode } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import type { Outcome } from '../internal/batcher.js';
import { isBatchError, loadModel, loadPlugins, startEngine } from '../internal/model.js';
import type { FusionModelApi } from '../internal/model.js';
import type { CliIo, CommandResult } from '../main.js';
import { createPredictionServer } from '../server.js';
import type { PredictRequest, PredictResponse, Predictor } from '../server.js';
import { fromCwd, logger, pluginArgs } from './common.js';

/** The server's view of a trained model: one `predictBatch` per batch, a bad request refused alone. */
export function modelPredictor(model: FusionModelApi, info: Record<string, unknown> = {}): Predictor {
  const fields: Record<string, string> = {};
  for (const [name, input] of Object.entries(model.config.inputs)) fields[name] = input.type;
  return {
    fields,
    describe: () => ({ labels: model.labels, output: model.config.output, ...info }),
    async predictBatch(requests: PredictRequest[]): Promise<Outcome<PredictResponse>[]> {
      const preds = await model.predictBatch(requests.map((r) => r.fields), { contributions: true });
      return requests.map((r, i): Outcome<PredictResponse> => {
        const p = preds[i];
        if (p === undefined) return { ok: false, error: new Error(`the model returned no prediction for request ${i}`) };
        if (isBatchError(p)) {
          // The model names the sample by its batch index; name it by the request instead.
          const e = p.error;
          return { ok: false, error: new MmfuseError(e.code as MmfuseErrorCode, e.reason, { sample: r.id, ...(e.field !== undefined ? { field: e.field } : {}) }) };
        }
        return { ok: true, value: p as PredictResponse };
      });
    },
  };
}

export async function runServe(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'serve');
  const engine = await startEngine(log);
  const dir = fromCwd(io, args.options.model as string);
  await loadPlugins(pluginArgs(args, io), log);
  const model = await loadModel(dir);
  const host = (args.options.host as string | undefined) ?? '127.0.0.1';
  const port = (args.options.port as number | undefined) ?? 8080;
  const handle = createPredictionServer({
    predictor: modelPredictor(model, { engine: engine.engine, modelDir: dir }),
    numTensors: () => tf.memory().numTensors,
    log,
    ...(args.options['max-body-bytes'] !== undefined ? { maxBodyBytes: args.options['max-body-bytes'] as number } : {}),
    ...(args.options['max-batch-size'] !== undefined ? { maxBatchSize: args.options['max-batch-size'] as number } : {}),
    ...(args.options['max-wait-ms'] !== undefined ? { maxWaitMillis: args.options['max-wait-ms'] as number } : {}),
  });
  let address;
  try {
    address = await handle.listen(port, host);
  } catch (err) {
    model.dispose();
    const e = err as NodeJS.ErrnoException;
    if (isMmfuseError(err)) throw err;
    throw new MmfuseError('IO', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { cause: err });
  }
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log(`listening on http://${shown}:${address.port}`);
  const signal = await new Promise<string>((resolve) => {
    const on = (s: string) => () => resolve(s);
    process.once('SIGTERM', on('SIGTERM'));
    process.once('SIGINT', on('SIGINT'));
  });
  log(`${signal}: no new connections; finishing in-flight requests`);
  await handle.shutdown();
  model.dispose();
  log('stopped');
  return { json: { stopped: true, signal }, human: '' };
}
