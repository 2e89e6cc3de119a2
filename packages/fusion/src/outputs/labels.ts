/** Helpers shared by the two label kinds (category, multi-label). */
import { InvalidInputError, ModelFormatError } from '@mmfuse/core';
import type { SavedOutput, TargetLocation } from './types.js';

/** One label from a raw value: a non-empty string, or a finite number as its string. */
export function labelOf(v: unknown): string | undefined {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** Labels in output order: sorted, numbers in numeric order ("2" before "10"). */
export function sortedLabels(labels: Iterable<string>): string[] {
  return [...new Set(labels)].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

export function requireKnown(index: ReadonlyMap<string, number>, label: string, loc: TargetLocation): number {
  const i = index.get(label);
  if (i === undefined) throw new InvalidInputError(`label ${JSON.stringify(label)} was not among the training labels`, loc);
  return i;
}

/**
 * Per-label weights: `balanced` gives n / (labels × count) over the label occurrences of `targets` (n =
 * number of samples; 1 for a label that never occurs); an object gives each label its weight (default 1).
 */
export function labelWeights(labels: readonly string[], setting: 'balanced' | Record<string, number> | null, occurrences: readonly (readonly string[])[]): number[] | undefined {
  if (setting === null || labels.length === 0) return undefined;
  if (setting !== 'balanced') return labels.map((l) => (Object.hasOwn(setting, l) ? setting[l] as number : 1));
  const index = new Map(labels.map((l, i) => [l, i]));
  const counts = new Array<number>(labels.length).fill(0);
  for (const list of occurrences) for (const l of list) { const i = index.get(l); if (i !== undefined) counts[i]! += 1; }
  return counts.map((c) => (c > 0 ? occurrences.length / (labels.length * c) : 1));
}

export function checkSavedLabels(saved: SavedOutput, kind: string, min: number): string[] {
  if (!Array.isArray(saved.labels) || !saved.labels.every((l) => typeof l === 'string') || saved.labels.length < min || saved.outDim !== saved.labels.length) {
    throw new ModelFormatError(`a ${kind} output needs at least ${min} saved labels and outDim equal to their count, got ${Array.isArray(saved.labels) ? saved.labels.length : 'no'} labels and outDim ${JSON.stringify(saved.outDim)}`);
  }
  return [...saved.labels];
}
