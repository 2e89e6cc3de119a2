/** Classification metrics as pure functions over label indices. */

export interface ClassMetrics { precision: number; recall: number; f1: number; support: number }

/** confusion[true][predicted] counts. */
export function confusionMatrix(truth: number[], predicted: number[], classes: number): number[][] {
  const m = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  truth.forEach((t, i) => { (m[t] as number[])[predicted[i] as number]! += 1; });
  return m;
}

/** Per-class precision / recall / F1 (0 when undefined) from a confusion matrix. */
export function perClassMetrics(confusion: number[][]): ClassMetrics[] {
  const k = confusion.length;
  return Array.from({ length: k }, (_, c) => {
    const tp = (confusion[c] as number[])[c] as number;
    const support = (confusion[c] as number[]).reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += (confusion[r] as number[])[c] as number;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/** Macro-F1 over the classes that occur in the truth or the predictions (absent classes would only add zeros). */
export function macroF1(confusion: number[][]): number {
  const per = perClassMetrics(confusion);
  const used = per.filter((m, c) => m.support > 0 || confusion.some((row) => (row[c] as number) > 0));
  return used.length === 0 ? 0 : used.reduce((a, m) => a + m.f1, 0) / used.length;
}

export function accuracy(truth: number[], predicted: number[]): number {
  if (truth.length === 0) return 0;
  let ok = 0;
  truth.forEach((t, i) => { if (predicted[i] === t) ok++; });
  return ok / truth.length;
}

/** Multi-label: per-label F1 from 0/1 truth and predictions [N][K]; macro average over labels with any support or prediction. */
export function multiLabelMetrics(truth: number[][], predicted: number[][], k: number): { exactMatch: number; macroF1: number; perLabel: ClassMetrics[] } {
  const perLabel: ClassMetrics[] = [];
  for (let c = 0; c < k; c++) {
    let tp = 0; let fp = 0; let fn = 0;
    truth.forEach((t, i) => {
      const p = (predicted[i] as number[])[c] === 1; const y = t[c] === 1;
      if (p && y) tp++; else if (p) fp++; else if (y) fn++;
    });
    const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
    const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    perLabel.push({ precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0, support: tp + fn });
  }
  let exact = 0;
  truth.forEach((t, i) => { if (t.every((v, c) => v === (predicted[i] as number[])[c])) exact++; });
  const used = perLabel.filter((m, c) => m.support > 0 || predicted.some((p) => p[c] === 1));
  return { exactMatch: truth.length > 0 ? exact / truth.length : 0, macroF1: used.length > 0 ? used.reduce((a, m) => a + m.f1, 0) / used.length : 0, perLabel };
}
