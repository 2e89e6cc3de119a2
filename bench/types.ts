/** One measured figure. `peerValue` is the same quantity for the peer measured in the same run. */
export interface BenchFigure {
  /** Stable id, e.g. `audio.logmel.throughput`. */
  name: string;
  value: number;
  /** Unit, e.g. `audio-s/s`, `samples/s`, `ms`, `images/s`, `accuracy`. */
  unit: string;
  /** The peer's name, e.g. `torchaudio 0.13.1 (1 thread)`. */
  peer?: string;
  /** The peer's value in the same unit, measured in the same run; null when the peer could not run. */
  peerValue?: number | null;
  /** Whether bigger is better (throughput) or smaller (time). Default true. */
  higherIsBetter?: boolean;
  /** Anything else worth keeping (all repetitions, thread counts, shapes). */
  details?: Record<string, unknown>;
}

/** A benchmark's section of BENCHMARKS.md. */
export interface BenchSection {
  /** Same as the module's id. */
  id: string;
  title: string;
  /** Markdown for the section body: what was measured, how, the table, the profile, caveats. */
  markdown: string;
  figures: BenchFigure[];
}

/** A benchmark module exports `benchmark: Benchmark`. */
export interface Benchmark {
  id: string;
  title: string;
  run(): Promise<BenchSection>;
}
