/**
 * One measured run of a text recipe on Banking77 against the classic peers, in the same process session
 * (issue 20): closed-set test accuracy, calibration (ECE with and without the temperature), and the
 * Banking77-OOS protocol (a seeded quarter of the 77 intents held out as out of scope: the models learn the
 * rest; every test.csv query is scored, the held-out intents' queries should be flagged out of scope).
 * Validation (early stopping, temperature, threshold) is a seeded 15% of train.csv; test.csv is only scored.
 * The peers (`bench/peers/text_tfidf_svm.py`: TF-IDF + LinearSVC, naive Bayes) learn the same 85%.
 * Appends one JSON line with the load average to `bench/selection/text-runs.jsonl`.
 *
 *   BANKING77_DIR=... node --conditions=source --import tsx bench/text-oos.ts [--variants FILE.json --only NAME] [--skip-oos] [--skip-closed] [--save-oos DIR]
 */
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { initEngine } from '@mmfuse/core';
import '@mmfuse/text-rnn';
import { FusionModel, percentileOf } from '@mmfuse/fusion';
import { chooseLabels, holdOut, readBanking77, samplesOf } from './text-data.js';
import type { Row } from './text-data.js';
import { candidateScores, logitsAndFeatures } from './oos-scores.js';
import { configOf } from './text-select.js';
import type { Variant } from './text-select.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Area under the ROC curve of `score` (higher: more likely positive), ties counted half. */
export function auroc(score: readonly number[], positive: readonly boolean[]): number {
  const order = score.map((s, i) => [s, i] as const).sort((a, b) => a[0] - b[0]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j < order.length && order[j]![0] === order[i]![0]) j++;
    const rank = (i + j + 1) / 2; // 1-based mean rank of the tie group
    for (let k = i; k < j; k++) if (positive[order[k]![1]]) { rankSumPos += rank; nPos++; }
    i = j;
  }
  const nNeg = order.length - nPos;
  return nPos === 0 || nNeg === 0 ? Number.NaN : (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

async function preparedValues(model: FusionModel, rows: readonly Row[]): Promise<unknown[][]> {
  const outcomes = await model.prepareInputs(rows.map((r) => ({ text: r.text })));
  return outcomes.map((o) => { if (!o.ok) throw o.error; return o.value.values; });
}

/**
 * The candidate out-of-scope scores (bench/oos-scores.ts) of the Banking77-OOS model: AUROC on validation
 * (in-scope intents' validation queries vs the held-out intents' validation queries, which no model saw) and
 * on test; `chosen` is the best on validation. Rank combinations average each score's percentile among the
 * in-scope validation queries, a mapping a deployed model can store.
 */
export async function compareScores(model: FusionModel, trainRows: Row[], validation: Row[], test: Row[], inScope: (r: Row) => boolean) {
  const fields = model.state.fields;
  const temperature = model.calibration?.temperature ?? 1;
  const labelIndex = new Map(model.labels.map((l, i) => [l, i]));
  const trainSet = { ...(await logitsAndFeatures(model, await preparedValues(model, trainRows))), labels: trainRows.map((r) => labelIndex.get(r.label) as number) };
  const val = candidateScores((await logitsAndFeatures(model, await preparedValues(model, validation))), trainSet, fields, temperature);
  const tst = candidateScores((await logitsAndFeatures(model, await preparedValues(model, test))), trainSet, fields, temperature);
  const valOos = validation.map((r) => !inScope(r));
  const testOos = test.map((r) => !inScope(r));
  const reference = (name: string): number[] => (val[name] as number[]).filter((_, i) => !valOos[i]).sort((a, b) => a - b);
  const singles = Object.keys(val);
  for (const a of singles.filter((n) => n === "msp@calibrated" || n === "msp@1" || n === "energy")) {
    for (const b of singles.filter((n) => n.startsWith("knn"))) {
      const ra = reference(a);
      const rb = reference(b);
      const mix = (set: Record<string, number[]>) => (set[a] as number[]).map((x, i) => (percentileOf(ra, x) + percentileOf(rb, (set[b] as number[])[i] as number)) / 2);
      const name = `${a}+${b}`;
      const v = mix(val);
      const t = mix(tst);
      val[name] = v;
      tst[name] = t;
    }
  }
  const table = Object.keys(val).map((name) => ({ name, validation: auroc((val[name] as number[]).map((x) => -x), valOos), test: auroc((tst[name] as number[]).map((x) => -x), testOos) }));
  const chosen = table.reduce((a, b) => (b.validation > a.validation ? b : a));
  console.log(`[oos-scores] ${JSON.stringify(table)}; chosen on validation: ${chosen.name}`);
  return { validationInScope: valOos.filter((x) => !x).length, validationOutOfScope: valOos.filter(Boolean).length, table, chosen: chosen.name };
}

/**
 * The out-of-scope score the Banking77-OOS model uses: `energy+nearest`, the best of the candidates on
 * validation (bench/oos-scores.ts; each run records the whole table, validation and test, in `scores`).
 */
export const OOS_SCORE = 'energy+nearest' as const;

async function trainRecipe(v: Variant, train: Row[], validation: Row[], log: string, score?: typeof OOS_SCORE) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const config = configOf(v);
  if (score !== undefined) config.output = { ...config.output, outOfScope: { ...(config.output.outOfScope ?? {}), score } };
  const model = FusionModel.create(config);
  const history = await model.fit(samplesOf(train), { validation: samplesOf(validation), progress: 'lines', log: (l) => console.log(`[${log}] ${l}`) });
  const cpu = process.cpuUsage(c0);
  return { model, history, trainSeconds: (performance.now() - t0) / 1000, trainCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** What one run records (a line of bench/selection/text-runs.jsonl). */
export type TextRecipeRecord = Record<string, unknown> & {
  closed: null | { accuracy: number; macroF1: number; ece: number | null; eceUncalibrated: number | null; trainSeconds: number; trainCpuSeconds: number; epochs: number; parameters: number; members?: number; ensemble?: { members: { seed: number; valAccuracy?: number }[]; validation?: { loss: number; accuracy?: number } } | null };
  outOfScope: null | { score: string; aurocProbability: number; scores: { validationInScope: number; validationOutOfScope: number; table: { name: string; validation: number; test: number }[]; chosen: string }; auroc: number; inScopeAccuracy: number; inScopeAccuracyAfterThreshold: number; outOfScopeRecall: number; inScopeFlagged: number; testInScope: number; testOutOfScope: number; trainSeconds: number; oosIntents: string[] };
  peers: Record<string, Record<string, { trainSeconds: number; tests: Record<string, { accuracy: number; macroF1: number }>; outOfScope?: { auroc: number; inScopeAccuracy: number } }>>;
  peerNames: Record<string, string>;
  loadAverage: number[];
};

/** One run of `variant` and the peers (closed set, then Banking77-OOS unless `skipOos`); see the module doc. */
export async function runTextRecipe(variant: Variant, options: { skipOos?: boolean; skipClosed?: boolean; saveOos?: string } = {}): Promise<TextRecipeRecord> {
  const opts = { 'skip-oos': options.skipOos === true, 'skip-closed': options.skipClosed === true };
  await initEngine();
  const load0 = loadavg()[0] as number;
  const all = readBanking77('train');
  const test = readBanking77('test');
  const { train, heldOut: validation } = holdOut(all, 0.15, 2020);
  const oosLabels = new Set(chooseLabels(all, 0.25, 2020));
  const inScope = (r: Row): boolean => !oosLabels.has(r.label);

  // The peers, on the same rows (one Python process, before ours, so the two never share the CPU).
  const dir = mkdtempSync(path.join(tmpdir(), 'mmfuse-text-oos-'));
  const job = path.join(dir, 'job.json');
  const pair = (rows: Row[]) => rows.map((r) => [r.text, r.label]);
  writeFileSync(job, JSON.stringify({ tasks: [
    { name: 'closed', train: pair(train), tests: { test: pair(test) } },
    ...(opts['skip-oos'] ? [] : [{ name: 'oos', train: pair(train.filter(inScope)), tests: {}, outOfScope: { test: pair(test), inScopeLabels: [...new Set(train.filter(inScope).map((r) => r.label))] } }]),
  ] }));
  const p0 = performance.now();
  const { stdout } = await promisify(execFile)('/usr/bin/python3', [path.join(here, 'peers', 'text_tfidf_svm.py'), job], { maxBuffer: 1 << 24 });
  const peers = JSON.parse(stdout) as { names: Record<string, string>; tasks: Record<string, unknown> };
  const peerSeconds = (performance.now() - p0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  console.log(`[peers] ${JSON.stringify(peers.tasks)}`);

  let closedResult: Record<string, unknown> | null = null;
  if (!opts['skip-closed']) {
    const closed = await trainRecipe(variant, train, validation, 'closed');
    const report = await closed.model.evaluate(samplesOf(test), { ablation: false });
    closedResult = {
      accuracy: report.accuracy, macroF1: report.macroF1, ece: report.ece ?? null, eceUncalibrated: report.eceUncalibrated ?? null,
      calibration: closed.model.calibration ?? null, epochs: closed.history.epochs.length, bestEpoch: closed.history.bestEpoch ?? null,
      trainSeconds: closed.trainSeconds, trainCpuSeconds: closed.trainCpuSeconds, parameters: closed.model.summary().parameters,
      members: closed.model.summary().ensemble ?? 1, ensemble: closed.history.ensemble ?? null,
    };
    closed.model.dispose();
    console.log(`[closed] test accuracy ${(100 * report.accuracy).toFixed(2)}%, ECE ${report.ece?.toFixed(3)} (uncalibrated ${report.eceUncalibrated?.toFixed(3)}), ${closed.trainSeconds.toFixed(0)} s`);
  }

  let oosResult: Record<string, unknown> | null = null;
  if (!opts['skip-oos']) {
    const run = await trainRecipe(variant, train.filter(inScope), validation.filter(inScope), 'oos', OOS_SCORE);
    if (options.saveOos !== undefined) await run.model.save(options.saveOos);
    const outcomes = await run.model.predictBatch(test.map((r) => ({ text: r.text })), { contributions: false });
    const isOos = test.map((r) => !inScope(r));
    const top: number[] = [];
    const scope: number[] = [];
    const flagged: boolean[] = [];
    let inCorrect = 0;
    let inTotal = 0;
    outcomes.forEach((o, i) => {
      if (!o.ok) throw o.error;
      const p = o.value;
      top.push(p.probabilities?.[String(p.label)] as number);
      if (p.scopeScore === undefined) throw new Error(`the out-of-scope model gave no scopeScore (its score is ${OOS_SCORE})`);
      scope.push(p.scopeScore);
      flagged.push(p.outOfScope === true);
      if (!isOos[i]) { inTotal++; if (p.label === test[i]!.label) inCorrect++; }
    });
    const nOos = isOos.filter(Boolean).length;
    const scoreChoice = compareScores(run.model, train.filter(inScope), validation, test, inScope);
    oosResult = {
      oosIntents: [...oosLabels], testInScope: inTotal, testOutOfScope: nOos,
      score: OOS_SCORE,
      auroc: auroc(scope.map((t) => -t), isOos),
      // The same model ranked by its calibrated top probability (the default score), for comparison.
      aurocProbability: auroc(top.map((t) => -t), isOos),
      inScopeAccuracy: inCorrect / inTotal,
      // In-scope accuracy counting a flagged in-scope query as wrong (what a user of the threshold sees).
      inScopeAccuracyAfterThreshold: test.filter((r, i) => !isOos[i] && !flagged[i] && outcomes[i]!.ok && (outcomes[i] as { value: { label: unknown } }).value.label === r.label).length / inTotal,
      outOfScopeRecall: flagged.filter((f, i) => f && isOos[i]).length / nOos,
      inScopeFlagged: flagged.filter((f, i) => f && !isOos[i]).length / inTotal,
      calibration: run.model.calibration ?? null, trainSeconds: run.trainSeconds, trainCpuSeconds: run.trainCpuSeconds,
      scores: await scoreChoice,
    };
    run.model.dispose();
    console.log(`[oos] ${JSON.stringify(oosResult)}`);
  }
  let commit = 'unknown';
  try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(); } catch { /* not a checkout */ }
  const record = {
    date: new Date().toISOString(), commit, variant: variant.name, config: configOf(variant), train: train.length, validation: validation.length, test: test.length,
    closed: closedResult, outOfScope: oosResult, peers: peers.tasks, peerNames: peers.names, peerSeconds,
    loadAverage: [load0, loadavg()[0] as number], cpus: (await import('node:os')).cpus().length,
  };
  return record as unknown as TextRecipeRecord;
}

async function main(): Promise<void> {
  const { values: opts } = parseArgs({ options: { variants: { type: 'string' }, only: { type: 'string' }, 'skip-oos': { type: 'boolean', default: false }, 'skip-closed': { type: 'boolean', default: false }, 'save-oos': { type: 'string' }, out: { type: 'string', default: path.join(here, 'selection', 'text-runs.jsonl') } } });
  let variant: Variant = { name: 'ngram-base' };
  if (opts.variants !== undefined) {
    const all = JSON.parse(readFileSync(opts.variants, 'utf8')) as Variant[];
    const found = all.find((v) => v.name === (opts.only ?? all[0]?.name));
    if (found === undefined) throw new Error(`no variant ${opts.only}`);
    variant = found;
  }
  const record = await runTextRecipe(variant, { skipOos: opts['skip-oos'], skipClosed: opts['skip-closed'], ...(opts['save-oos'] === undefined ? {} : { saveOos: opts['save-oos'] }) });
  mkdirSync(path.dirname(opts.out as string), { recursive: true });
  appendFileSync(opts.out as string, `${JSON.stringify(record)}\n`);
  console.log(`[done] appended to ${opts.out}`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => { console.error(err); process.exit(1); });
}
