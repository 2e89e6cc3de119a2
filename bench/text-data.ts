/**
 * Data of the text benchmarks and of the text recipe's selection runs: Banking77 read in place (CC BY 4.0;
 * Casanueva et al. 2020, PolyAI-LDN/task-specific-datasets, never copied into this repository), the
 * customer-service bot's typed messages, seeded hold-outs (stratified by label) and the seeded choice of
 * out-of-scope intents.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { createRng } from '@mmfuse/core';
import type { Sample } from '@mmfuse/fusion';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BANKING77_DIR = process.env.BANKING77_DIR ?? path.resolve(here, '../../shared/datasets/banking77');
export const BOT_DIR = path.resolve(here, '../examples/customer-service/data');

export interface Row { id: string; text: string; label: string }

/** RFC 4180 CSV (quoted fields, doubled quotes, CRLF) with a header `text,category`. */
export function readBanking77(split: 'train' | 'test', dir = BANKING77_DIR): Row[] {
  const file = path.join(dir, `${split}.csv`);
  // RFC 4180 (quoted fields, doubled quotes, CRLF) by csv-parse, the parser @mmfuse/core reads CSV manifests with.
  const rows = parse(readFileSync(file, 'utf8'), { relaxColumnCount: true }) as string[][];
  const [header, ...body] = rows;
  if (header?.[0] !== 'text' || header[1] !== 'category') throw new Error(`${file}: expected the header text,category`);
  return body.filter((r) => r.length === 2).map((r, i) => ({ id: `${split}.csv:${i + 2}`, text: r[0] as string, label: r[1] as string }));
}

/** The bot's typed messages of a split (samples with a `text` field: typed only, and voice + transcript). */
export function readBotText(split: 'train' | 'valid' | 'test', options: { typedOnly?: boolean } = {}): Row[] {
  const lines = readFileSync(path.join(BOT_DIR, `${split}.jsonl`), 'utf8').split('\n').filter((l) => l.trim() !== '');
  return lines.map((l) => JSON.parse(l) as { id: string; text?: string; audio?: string; label: string })
    .filter((s) => s.text !== undefined && (options.typedOnly !== true || s.audio === undefined))
    .map((s) => ({ id: s.id, text: s.text as string, label: s.label }));
}

/** Hold out `fraction` of each label's rows (seeded), e.g. a validation part of a training split. */
export function holdOut(rows: readonly Row[], fraction: number, seed: number): { train: Row[]; heldOut: Row[] } {
  const rng = createRng(seed).fork('hold-out');
  const byLabel = new Map<string, Row[]>();
  for (const r of rows) byLabel.set(r.label, [...(byLabel.get(r.label) ?? []), r]);
  const out = new Set<Row>();
  for (const label of [...byLabel.keys()].sort()) {
    const list = byLabel.get(label) as Row[];
    const order = rng.permutation(list.length);
    const n = Math.round(list.length * fraction);
    for (const i of order.slice(0, n)) out.add(list[i] as Row);
  }
  return { train: rows.filter((r) => !out.has(r)), heldOut: rows.filter((r) => out.has(r)) };
}

/** A seeded choice of `fraction` of the labels (the out-of-scope intents of the Banking77-OOS protocol). */
export function chooseLabels(rows: readonly Row[], fraction: number, seed: number): string[] {
  const labels = [...new Set(rows.map((r) => r.label))].sort();
  const order = createRng(seed).fork('oos-intents').permutation(labels.length);
  return order.slice(0, Math.round(labels.length * fraction)).map((i) => labels[i] as string).sort();
}

/** Rows as fusion samples with fields `text` and `intent`. */
export function samplesOf(rows: readonly Row[]): Sample[] {
  return rows.map((r) => ({ id: r.id, fields: { text: r.text, intent: r.label } }));
}

/** Accuracy and macro-F1 (mean over the classes of the labels ∪ predictions). */
export function scores(truth: readonly string[], pred: readonly string[]): { accuracy: number; macroF1: number } {
  const classes = [...new Set([...truth, ...pred])];
  let correct = 0;
  const tp = new Map<string, number>();
  const fp = new Map<string, number>();
  const fn = new Map<string, number>();
  truth.forEach((t, i) => {
    const p = pred[i] as string;
    if (t === p) { correct++; tp.set(t, (tp.get(t) ?? 0) + 1); } else { fp.set(p, (fp.get(p) ?? 0) + 1); fn.set(t, (fn.get(t) ?? 0) + 1); }
  });
  const f1 = classes.map((c) => {
    const a = tp.get(c) ?? 0;
    const denom = 2 * a + (fp.get(c) ?? 0) + (fn.get(c) ?? 0);
    return denom === 0 ? 0 : (2 * a) / denom;
  });
  return { accuracy: correct / Math.max(1, truth.length), macroF1: f1.reduce((s, v) => s + v, 0) / Math.max(1, classes.length) };
}
