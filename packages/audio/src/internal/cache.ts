/** A small bounded cache of precomputed tables (windows, filterbanks, kernels) keyed by parameter set. */
export class TableCache<T> {
  private readonly map = new Map<string, T>();
  constructor(private readonly capacity = 32) {}

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
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
    return value;
  }
}
