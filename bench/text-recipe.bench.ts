/**
 * The recommended text recipe on Banking77 (issue 20): `text/ngram` (hashed word + character n-grams) beside
 * `text/use` (a frozen English sentence embedding) on the same field, late fusion against TF-IDF + LinearSVC and multinomial naive Bayes learning the same rows in the same run
 * (`bench/text-oos.ts`): closed-set test accuracy and training time, expected calibration error before and
 * after the temperature fitted on validation, and the Banking77-OOS protocol (a seeded quarter of the
 * intents held out as out of scope; AUROC of the top probability, in-scope accuracy, out-of-scope recall at
 * the threshold chosen on validation). Validation is a seeded 15% of train.csv; test.csv is only scored.
 * The recipe is the first variant of bench/selection/banking77-measure.json. Each run is also appended to
 * bench/selection/text-runs.jsonl. Data read in place from ../shared/datasets/banking77 (CC BY 4.0).
 */
import { appendFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchFigure, Benchmark } from './types.js';
import { runTextRecipe } from './text-oos.js';
import type { Variant } from './text-select.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

export const benchmark: Benchmark = {
  id: 'text-recipe',
  title: 'Text recipe: Banking77 with the recommended text inputs, calibration and out-of-scope detection vs TF-IDF + SVM and naive Bayes',
  async run() {
    const variant = (JSON.parse(readFileSync(path.join(here, 'selection', 'banking77-measure.json'), 'utf8')) as Variant[])[0] as Variant;
    const r = await runTextRecipe(variant);
    appendFileSync(path.join(here, 'selection', 'text-runs.jsonl'), `${JSON.stringify(r)}\n`);
    const svm = r.peers.closed?.svm as NonNullable<TextRecipeClosedPeer>;
    const nb = r.peers.closed?.nb as NonNullable<TextRecipeClosedPeer>;
    const svmOos = r.peers.oos?.svm?.outOfScope;
    const nbOos = r.peers.oos?.nb?.outOfScope;
    const c = r.closed;
    if (c === null) throw new Error("the text-recipe run skipped the closed-set model");
    const o = r.outOfScope;
    const svmName = r.peerNames.svm ?? 'TF-IDF + LinearSVC';
    const nbName = r.peerNames.nb ?? 'naive Bayes';
    const figures: BenchFigure[] = [
      { name: 'text.recipe.banking77.accuracy', value: c.accuracy, unit: 'accuracy', peer: svmName, peerValue: svm.tests.test?.accuracy ?? null },
      { name: 'text.recipe.banking77.accuracy_vs_nb', value: c.accuracy, unit: 'accuracy', peer: nbName, peerValue: nb.tests.test?.accuracy ?? null },
      { name: 'text.recipe.banking77.train_s', value: c.trainSeconds, unit: 's', peer: svmName, peerValue: svm.trainSeconds, higherIsBetter: false },
      { name: 'text.recipe.banking77.ece', value: c.ece ?? Number.NaN, unit: 'ECE', peer: 'the same model before temperature scaling', peerValue: c.eceUncalibrated, higherIsBetter: false },
    ];
    if (o !== null) {
      figures.push({ name: 'text.recipe.banking77_oos.auroc', value: o.auroc, unit: 'AUROC', peer: svmName, peerValue: svmOos?.auroc ?? null });
      figures.push({ name: 'text.recipe.banking77_oos.in_scope_accuracy', value: o.inScopeAccuracy, unit: 'accuracy', peer: 'the closed-set model (all 77 intents)', peerValue: c.accuracy });
    }
    const encoders = Object.values((r.config as { inputs: Record<string, { encoder?: { kind?: string } }> }).inputs).map((i) => `\`text/${i.encoder?.kind ?? '?'}\``).join(' + ');
    const rows = [
      `| mmfuse ${encoders} (${(c.members ?? 1) > 1 ? `ensemble of ${c.members} (\`training.ensemble\`), ${c.epochs} epochs each` : `${c.epochs} epochs`}, ${c.parameters.toLocaleString('en-US')} parameters, one wasm thread) | ${pct(c.accuracy)} | ${c.trainSeconds.toFixed(0)} s | ${o === null ? 'n/a' : o.auroc.toFixed(3)} | ${o === null ? 'n/a' : pct(o.inScopeAccuracy)} |`,
      `| ${svmName} | ${pct(svm.tests.test?.accuracy ?? Number.NaN)} | ${svm.trainSeconds.toFixed(1)} s | ${svmOos === undefined ? 'n/a' : svmOos.auroc.toFixed(3)} | ${svmOos === undefined ? 'n/a' : pct(svmOos.inScopeAccuracy)} |`,
      `| ${nbName} | ${pct(nb.tests.test?.accuracy ?? Number.NaN)} | ${nb.trainSeconds.toFixed(1)} s | ${nbOos === undefined ? 'n/a' : nbOos.auroc.toFixed(3)} | ${nbOos === undefined ? 'n/a' : pct(nbOos.inScopeAccuracy)} |`,
    ];
    const tick = '`';
    const chosenNote = o === null ? '' : o.scores.chosen === 'energy+knn:fused'
      ? `${tick}energy+knn:fused${tick}, what ${tick}${o.score}${tick} computes`
      : `${tick}${o.scores.chosen}${tick} in this run (the model uses ${tick}${o.score}${tick}, which is energy+knn:fused, chosen on validation in stop 28)`;
    const markdown = [
      `Banking77 (CC BY 4.0; PolyAI): ${r.train as number} training queries, ${r.validation as number} for validation (a seeded 15% of train.csv), ${r.test as number} test queries. Recipe \`${variant.name}\`: \`${JSON.stringify(r.config)}\`. Load average (1 min) before / after: ${r.loadAverage.map((x) => x.toFixed(2)).join(' / ')}. The peers run first, in one Python process, so the two never share the CPU.`,
      '',
      '| model | test accuracy (77 intents) | train time | Banking77-OOS AUROC | in-scope accuracy (58 intents) |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
      '',
      ...(c.ensemble === undefined || c.ensemble === null ? [] : [`Ensemble (mmfuse): validation accuracy of the members (seeds ${c.ensemble.members.map((m) => m.seed).join(', ')}) ${c.ensemble.members.map((m) => (m.valAccuracy === undefined ? '-' : pct(m.valAccuracy))).join(', ')}; of their mean ${c.ensemble.validation?.accuracy === undefined ? '-' : pct(c.ensemble.validation.accuracy)} (chosen on validation: bench/selection/banking77-ensemble-stop34.json). The train time covers every member.`, '']),
      `Calibration (mmfuse, temperature fitted on validation): test ECE ${c.eceUncalibrated?.toFixed(3)} before, ${c.ece?.toFixed(3)} after.`,
      o === null ? '' : `Banking77-OOS: ${o.testOutOfScope} test queries of the ${o.oosIntents.length} held-out intents, ${o.testInScope} in scope. The mmfuse model scores a request with \`output.outOfScope.score: ${o.score}\` (the mean of two percentiles among the in-scope validation requests: the logits' energy and the cosine similarity of the fused vector to the nearest in-scope training query's); ranked by its calibrated top probability instead, the same model's AUROC is ${o.aurocProbability.toFixed(3)}. At the threshold chosen on validation (reject at most 1% of correct validation answers) mmfuse flags ${pct(o.outOfScopeRecall)} of the out-of-scope queries and ${pct(o.inScopeFlagged)} of the in-scope ones; in-scope accuracy counting a flagged query as wrong ${pct(o.inScopeAccuracyAfterThreshold)}.`,
      o === null ? '' : '',
      o === null ? '' : `How the score was chosen: candidates compared on validation only (${o.scores.validationInScope} in-scope validation queries against ${o.scores.validationOutOfScope} validation queries of the held-out intents, rows of train.csv no model learned); the best there is ${chosenNote}. Test AUROC of every candidate, for the record (bench/oos-scores.ts):`,
      o === null ? '' : '',
      ...(o === null ? [] : ['| candidate score | validation AUROC | test AUROC |', '| --- | --- | --- |', ...o.scores.table.map((t) => `| ${t.name} | ${t.validation.toFixed(3)} | ${t.test.toFixed(3)} |`)]),
      '',
      'Goals (issue 20): Banking77 accuracy above TF-IDF + LinearSVC (≥ 92%), Banking77-OOS AUROC ≥ 0.90, in-scope accuracy within 1 point of the closed-set model.',
    ].join('\n');
    return { id: 'text-recipe', title: this.title, markdown, figures };
  },
};

type TextRecipeClosedPeer = { trainSeconds: number; tests: Record<string, { accuracy: number; macroF1: number } | undefined> } | undefined;
