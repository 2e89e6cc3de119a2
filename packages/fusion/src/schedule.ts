/** Learning rate at a 0-based step: linear warmup to `base`, then cosine decay to `min` (or flat). */
export function learningRateAt(step: number, s: { base: number; warmupSteps: number; totalSteps: number; min: number; schedule: 'cosine' | 'constant' }): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.base * (step + 1)) / s.warmupSteps;
  if (s.schedule === 'constant') return s.base;
  const decaySteps = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / decaySteps);
  return s.min + 0.5 * (s.base - s.min) * (1 + Math.cos(Math.PI * progress));
}
