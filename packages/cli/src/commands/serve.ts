/** `mmfuse serve --model DIR [--host H] [--port N]`: runs until SIGTERM / SIGINT, then shuts down gracefully. */
import * as tf from '@tensorflow/tfjs';
import { IoError, createRecord, isMmfuseError } from '@mmfuse/core';
import type { Outcome } from '@mmfuse/core';
import type { ParsedArgs } from '../internal/args.js';
import { loadPlugins, startEngine } from '../internal/model.js';
import { loadModelFor, runtimeOf } from '../internal/runtime.js';
import type { FusionModelApi } from '../internal/model.js';
import type { CliIo, CommandResult } from '../internal/io.js';
import { createPredictionServer } from '../server.js';
import type { PredictRequest, PredictResponse, Predictor, PredictorField } from '../server.js';
import { fromCwd, logger, pluginArgs } from './common.js';

/** The server's view of a trained model: one `predictBatch` per batch, a bad request refused alone. */
export function modelPredictor(model: FusionModelApi, info: Record<string, unknown> = {}, options: { outOfScopeThreshold?: number } = {}): Predictor {
  const fields = createRecord<PredictorField>();
  for (const input of model.inputs) fields[input.field] = { modality: input.modality, input: input.input };
  return {
    fields,
    describe: () => ({ labels: model.labels, output: model.config.output, outOfScopeThreshold: options.outOfScopeThreshold ?? model.calibration?.outOfScopeThreshold ?? null, outOfScopeLabels: model.calibration?.outOfScopeLabels ?? [], ...info }),
    async predictBatch(requests: PredictRequest[]): Promise<Outcome<PredictResponse>[]> {
      // Errors name each sample by its request id; they reach the client as they were raised.
      return model.predictBatch(requests.map((r) => r.fields), { contributions: true, sampleIds: requests.map((r) => r.id), ...options });
    },
  };
}

export async function runServe(args: ParsedArgs, io: CliIo): Promise<CommandResult> {
  const log = logger(io, 'serve');
  const engine = await startEngine(log, { serving: true });
  const dir = fromCwd(io, args.options.model as string);
  await loadPlugins(pluginArgs(args, io), log);
  const model = await loadModelFor(args, io, 'serve', log);
  const host = (args.options.host as string | undefined) ?? '127.0.0.1';
  const port = (args.options.port as number | undefined) ?? 8080;
  const handle = createPredictionServer({
    predictor: modelPredictor(model, { engine: engine.engine, runtime: runtimeOf(model), modelDir: dir }, args.options['oos-threshold'] === undefined ? {} : { outOfScopeThreshold: args.options['oos-threshold'] as number }),
    numTensors: () => tf.memory().numTensors,
    log,
    ...(args.options['max-body-bytes'] !== undefined ? { maxBodyBytes: args.options['max-body-bytes'] as number } : {}),
    ...(args.options['max-batch-size'] !== undefined ? { maxBatchSize: args.options['max-batch-size'] as number } : {}),
    ...(args.options['max-wait-ms'] !== undefined ? { maxWaitMillis: args.options['max-wait-ms'] as number } : {}),
    ...(args.options.cors !== undefined ? { corsOrigins: args.options.cors as string[] } : {}),
  });
  // A throw or rejection nobody awaited (in a plugin's timer, say) is logged; it must not end the process
  // while requests are in flight. The handlers live as long as the server.
  const onUncaught = (what: string) => (err: unknown): void => {
    log(`${what} (the server keeps running): ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
  };
  const guards = { uncaughtException: onUncaught('uncaught exception'), unhandledRejection: onUncaught('unhandled rejection') };
  for (const [event, handler] of Object.entries(guards)) process.on(event, handler);
  let address;
  try {
    address = await handle.listen(port, host);
  } catch (err) {
    for (const [event, handler] of Object.entries(guards)) process.off(event, handler);
    model.dispose();
    const e = err as NodeJS.ErrnoException;
    if (isMmfuseError(err)) throw err;
    throw new IoError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`, { cause: err, ...(e.code === undefined ? {} : { details: { errno: e.code } }) });
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
  for (const [event, handler] of Object.entries(guards)) process.off(event, handler);
  model.dispose();
  log('stopped');
  return { json: { stopped: true, signal }, human: '' };
}
