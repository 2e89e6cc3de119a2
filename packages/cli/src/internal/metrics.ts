/**
 * Server metrics in the Prometheus text exposition format (version 0.0.4): request counters by route and
 * status, a request latency histogram, a batch size histogram, in-flight requests, live tensors and RSS.
 */

/** Latency bucket upper bounds in seconds. */
export const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Batch size bucket upper bounds. */
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length).fill(0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.bounds.length; i++) if (v <= (this.bounds[i] as number)) this.counts[i]!++;
  }
  render(name: string, labels = ''): string[] {
    const sep = labels === '' ? '' : `${labels},`;
    const lines = this.bounds.map((b, i) => `${name}_bucket{${sep}le="${b}"} ${this.counts[i]}`);
    lines.push(`${name}_bucket{${sep}le="+Inf"} ${this.count}`);
    const wrap = labels === '' ? '' : `{${labels}}`;
    lines.push(`${name}_sum${wrap} ${this.sum}`, `${name}_count${wrap} ${this.count}`);
    return lines;
  }
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export interface GaugeSources {
  /** Live tensors of the TensorFlow.js engine (`tf.memory().numTensors`). */
  numTensors?: () => number;
  /** Resident set size in bytes. Default `process.memoryUsage().rss`. */
  rssBytes?: () => number;
}

export class ServerMetrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly batchSizes = new Histogram(BATCH_SIZE_BUCKETS);
  private predictions = 0;
  private predictionErrors = 0;
  inFlight = 0;
  private readonly startedAt = Date.now();

  constructor(private readonly sources: GaugeSources = {}) {}

  /**
   * Record one finished request. `route` is the normalized path (`/v1/predict`, or `other`); `status` the
   * answer's status code, or `aborted` when the client went away before the whole answer was written.
   */
  recordRequest(route: string, method: string, status: number | 'aborted', seconds: number): void {
    const key = `route="${escapeLabel(route)}",method="${escapeLabel(method)}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const lkey = `route="${escapeLabel(route)}"`;
    let h = this.latency.get(lkey);
    if (h === undefined) { h = new Histogram(LATENCY_BUCKETS_SECONDS); this.latency.set(lkey, h); }
    h.observe(seconds);
  }

  /** Record one model call over `size` samples, `failed` of which were refused. */
  recordBatch(size: number, failed: number): void {
    this.batchSizes.observe(size);
    this.predictions += size - failed;
    this.predictionErrors += failed;
  }

  render(): string {
    const out: string[] = [];
    out.push('# HELP mmfuse_http_requests_total HTTP requests by route, method and status code ("aborted": the client left before the answer).');
    out.push('# TYPE mmfuse_http_requests_total counter');
    for (const [k, v] of [...this.requests].sort()) out.push(`mmfuse_http_requests_total{${k}} ${v}`);
    out.push('# HELP mmfuse_http_request_duration_seconds Request latency from first byte read to response end.');
    out.push('# TYPE mmfuse_http_request_duration_seconds histogram');
    for (const [k, h] of [...this.latency].sort((a, b) => a[0].localeCompare(b[0]))) out.push(...h.render('mmfuse_http_request_duration_seconds', k));
    out.push('# HELP mmfuse_predict_batch_size Samples per model call (concurrent requests are batched).');
    out.push('# TYPE mmfuse_predict_batch_size histogram');
    out.push(...this.batchSizes.render('mmfuse_predict_batch_size'));
    out.push('# HELP mmfuse_predictions_total Samples predicted successfully.');
    out.push('# TYPE mmfuse_predictions_total counter');
    out.push(`mmfuse_predictions_total ${this.predictions}`);
    out.push('# HELP mmfuse_prediction_errors_total Samples refused as bad input.');
    out.push('# TYPE mmfuse_prediction_errors_total counter');
    out.push(`mmfuse_prediction_errors_total ${this.predictionErrors}`);
    out.push('# HELP mmfuse_http_requests_in_flight Requests being served now.');
    out.push('# TYPE mmfuse_http_requests_in_flight gauge');
    out.push(`mmfuse_http_requests_in_flight ${this.inFlight}`);
    if (this.sources.numTensors !== undefined) {
      out.push('# HELP mmfuse_tensors Live TensorFlow.js tensors (a growing value means a leak).');
      out.push('# TYPE mmfuse_tensors gauge');
      out.push(`mmfuse_tensors ${this.sources.numTensors()}`);
    }
    out.push('# HELP process_resident_memory_bytes Resident memory size in bytes.');
    out.push('# TYPE process_resident_memory_bytes gauge');
    out.push(`process_resident_memory_bytes ${(this.sources.rssBytes ?? (() => process.memoryUsage().rss))()}`);
    out.push('# HELP process_uptime_seconds Seconds since the server started.');
    out.push('# TYPE process_uptime_seconds gauge');
    out.push(`process_uptime_seconds ${(Date.now() - this.startedAt) / 1000}`);
    return out.join('\n') + '\n';
  }
}
