/**
 * A small bounded cache of precomputed tables (windows, filterbanks, kernels) keyed by parameter set,
 * least recently used first out. Bounded by entry count and, with a `size` function, by the entries'
 * total size too.
 */
export class TableCache<T> {
  private readonly map = new Map<string, T>();
  private total = 0;

  /**
   * @param capacity most entries kept.
   * @param weight optional `{ size, max }`: an entry's size (e.g. its table's length) and the most the kept
   *   entries may add up to (the newest entry is always kept, whatever its size).
   */
  constructor(private readonly capacity = 32, private readonly weight?: { size: (value: T) => number; max: number }) {}

  get(key: string, make: () => T): T {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      // refresh recency
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const value = make();
    this.map.set(key, value);
    if (this.weight !== undefined) this.total += this.weight.size(value);
    while (this.map.size > 1 && (this.map.size > this.capacity || (this.weight !== undefined && this.total > this.weight.max))) {
      const oldest = this.map.keys().next().value as string;
      if (this.weight !== undefined) this.total -= this.weight.size(this.map.get(oldest) as T);
      this.map.delete(oldest);
    }
    return value;
  }
}
