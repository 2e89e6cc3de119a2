/** Parsing and encoding of the output field (labels or regression values). */
import { InvalidInputError } from '@mmfuse/core';
import type { OutputType } from './config.js';

export type Target = string | string[] | number[];

/** Check one sample's target and bring it to its canonical form; throws InvalidInputError naming the field. */
export function parseTarget(type: OutputType, raw: unknown, loc: { sample: string; field: string }): Target {
  if (raw === undefined || raw === null) throw new InvalidInputError('the target is missing', loc);
  if (type === 'category') {
    if (typeof raw === 'string' && raw !== '') return raw;
    if (typeof raw === 'number' && Number.isFinite(raw)) return String(raw);
    throw new InvalidInputError(`expected one label (a non-empty string or a number), got ${JSON.stringify(raw)}`, loc);
  }
  if (type === 'multi-label') {
    const list = Array.isArray(raw) ? raw : [raw];
    const out: string[] = [];
    for (const v of list) {
      if (typeof v === 'string' && v !== '') out.push(v);
      else if (typeof v === 'number' && Number.isFinite(v)) out.push(String(v));
      else throw new InvalidInputError(`expected a list of labels, found ${JSON.stringify(v)} in it`, loc);
    }
    return [...new Set(out)];
  }
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length === 0) throw new InvalidInputError('expected a number or a non-empty list of numbers, got []', loc);
  return list.map((v, i) => {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw new InvalidInputError(`value ${i} is ${JSON.stringify(v)}, not a finite number`, loc);
    return n;
  });
}
