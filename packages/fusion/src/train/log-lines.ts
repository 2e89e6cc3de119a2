/** The training log lines, one small builder each. */
import type { Calibration } from '../outputs/calibration.js';
import type { EpochMetrics } from './history.js';

const f4 = (v: number): string => v.toFixed(4);
const f3 = (v: number): string => v.toFixed(3);

/** `epoch 3/10 loss 0.4512 acc 0.812 val_loss 0.5011 val_acc 0.790 val_f1 0.781 lr 1.00e-3 4.2s` */
export function epochLine(m: EpochMetrics, epochs: number, stoppedEarly: boolean): string {
  const parts = [`epoch ${m.epoch}/${epochs}`, `loss ${f4(m.trainLoss)}`];
  if (m.losses !== undefined) parts.push(`(${Object.entries(m.losses).map(([k, v]) => `${k} ${f4(v)}`).join(', ')})`);
  if (m.trainAccuracy !== undefined) parts.push(`acc ${f3(m.trainAccuracy)}`);
  if (m.valLoss !== undefined) parts.push(`val_loss ${f4(m.valLoss)}`);
  if (m.valAccuracy !== undefined) parts.push(`val_acc ${f3(m.valAccuracy)} val_f1 ${f3(m.valMacroF1 ?? 0)}`);
  parts.push(`lr ${m.learningRate.toExponential(2)}`, `${m.seconds.toFixed(1)}s`);
  if (stoppedEarly) parts.push('(early stop)');
  return parts.join(' ');
}

/** The epoch a run is in: completed epochs, plus one when it stopped inside an epoch. */
function currentEpoch(p: { epoch: number; batch: number }): number {
  return p.epoch + (p.batch > 0 ? 1 : 0);
}

/** `resuming from DIR: epoch 3, step 40`; a checkpoint of a run that had ended: `its 8 epochs were done (step 64)`. */
export function resumeLine(dir: string, p: { epoch: number; batch: number; step: number; stoppedEarly?: boolean }, epochs?: number): string {
  if (p.batch === 0 && p.stoppedEarly === true) return `resuming from ${dir}: it had stopped early after epoch ${p.epoch} (step ${p.step})`;
  if (p.batch === 0 && epochs !== undefined && p.epoch >= epochs) return `resuming from ${dir}: its ${p.epoch} epochs were done (step ${p.step})`;
  return `resuming from ${dir}: epoch ${currentEpoch(p)}, step ${p.step}`;
}

export function interruptedLine(p: { epoch: number; batch: number; step: number }, checkpointDir?: string): string {
  return `interrupted at epoch ${currentEpoch(p)}, step ${p.step}${checkpointDir !== undefined ? `; checkpoint in ${checkpointDir}, continue with resume` : ''}`;
}

export function stoppedLine(reason: string, p: { epoch: number; batch: number; step: number }): string {
  return `stopped at epoch ${currentEpoch(p)}, step ${p.step}: ${reason}`;
}

/** `averaged the weights of epochs 6-10 (validation loss 0.4012 against 0.4100): kept` */
export function averagedLine(a: { from: number; to: number; validationLoss?: number; kept: boolean }, heldLoss?: number): string {
  const span = `averaged the weights of epochs ${a.from}-${a.to}`;
  if (a.validationLoss === undefined) return span;
  return `${span} (validation loss ${a.validationLoss.toFixed(4)} against ${heldLoss?.toFixed(4)}): ${a.kept ? 'kept' : 'not kept, the held weights were better'}`;
}

export function restoredLine(epoch: number, bestValLoss: number | null): string {
  return `restored the weights of epoch ${epoch} (best validation loss ${bestValLoss?.toFixed(4)})`;
}

/** `calibration: temperature 1.42 (validation ECE 0.081 -> 0.023, n 1500); out-of-scope below 0.312 (rejects 1.0% of correct answers)` */
export function calibrationLine(c: Calibration): string {
  const v = c.validation;
  const parts = [`calibration: ${c.method === 'temperature' ? `temperature ${c.temperature.toFixed(3)}` : 'none'}`];
  if (v !== undefined) parts[0] += ` (validation ECE ${f3(v.eceBefore)} -> ${f3(v.eceAfter)}, NLL ${f4(v.nllBefore)} -> ${f4(v.nllAfter)}, n ${v.n})`;
  if (c.outOfScopeThreshold !== null) {
    parts.push(`out of scope ${c.score === undefined ? '' : 'when the energy+nearest score is '}below ${f3(c.outOfScopeThreshold)} (${c.thresholdSource === 'config' ? 'from the config' : 'chosen on validation'}${v?.rejectedCorrect !== undefined ? `; rejects ${(100 * v.rejectedCorrect).toFixed(1)}% of correct validation answers` : ''})`);
  }
  if (c.outOfScopeLabels !== undefined) parts.push(`out of scope when the answer is ${c.outOfScopeLabels.map((l) => JSON.stringify(l)).join(' or ')}`);
  return parts.join('; ');
}
