/**
 * Process-wide counters and histograms in the Prometheus text format
 * (/metrics). Each worker process counts its own requests; labels are
 * service, status, cache and source names.
 */

type Labels = readonly string[];

abstract class Metric {
  protected values = new Map<string, number[]>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  protected slot(labels: Labels, size: number): number[] {
    const key = labels.join('\u0000');
    let v = this.values.get(key);
    if (!v) this.values.set(key, (v = new Array(size).fill(0)));
    return v;
  }

  protected labelText(key: string, extra = ''): string {
    const vals = key.split('\u0000');
    const parts = this.labelNames.map((n, i) => `${n}="${escapeLabel(vals[i] ?? '')}"`);
    if (extra) parts.push(extra);
    return parts.length ? `{${parts.join(',')}}` : '';
  }

  abstract render(out: string[]): void;
}

/** A monotonically increasing count per label combination. */
export class Counter extends Metric {
  /** Add `v` (default 1) for these label values. */
  inc(labels: Labels, v = 1): void {
    this.slot(labels, 1)[0] += v;
  }

  /** The current value (0 when never counted). */
  get(labels: Labels): number {
    return this.values.get(labels.join('\u0000'))?.[0] ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [k, v] of this.values) out.push(`${this.name}${this.labelText(k)} ${v[0]}`);
  }
}

/** Observed durations in seconds, in cumulative buckets. */
export class Histogram extends Metric {
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ) {
    super(name, help, labelNames);
  }

  /** Record one observation. */
  observe(labels: Labels, seconds: number): void {
    // layout: one count per bucket, then +Inf count, then sum
    const v = this.slot(labels, this.buckets.length + 2);
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]) v[i]++;
    v[this.buckets.length]++;
    v[this.buckets.length + 1] += seconds;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const [k, v] of this.values) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${this.labelText(k, `le="${b}"`)} ${v[i]}`));
      out.push(`${this.name}_bucket${this.labelText(k, 'le="+Inf"')} ${v[this.buckets.length]}`);
      out.push(`${this.name}_sum${this.labelText(k)} ${v[this.buckets.length + 1]}`);
      out.push(`${this.name}_count${this.labelText(k)} ${v[this.buckets.length]}`);
    }
  }
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Everything mapproxy-ts counts. */
export const metrics = {
  requests: new Counter('mapproxy_requests_total', 'HTTP requests by service and status.', ['service', 'status']),
  requestDuration: new Histogram('mapproxy_request_duration_seconds', 'Time to answer HTTP requests by service.', ['service']),
  cacheHits: new Counter('mapproxy_cache_hits_total', 'Tiles answered from the cache.', ['cache']),
  cacheMisses: new Counter('mapproxy_cache_misses_total', 'Tiles not in the cache when asked for.', ['cache']),
  tilesCreated: new Counter('mapproxy_tiles_created_total', 'Tiles created from sources.', ['cache']),
  lockWaitSeconds: new Counter('mapproxy_lock_wait_seconds_total', 'Time spent waiting for meta tile locks.', ['cache']),
  lockWaits: new Counter('mapproxy_lock_waits_total', 'Meta tile locks that were held by another creator when asked for.', ['cache']),
  lockTimeouts: new Counter('mapproxy_lock_timeouts_total', 'Meta tile locks given up after the lock timeout.', ['cache']),
  upstreamRequests: new Counter('mapproxy_upstream_requests_total', 'Requests to upstream servers by source and HTTP status (- for no answer).', ['source', 'status']),
  upstreamErrors: new Counter('mapproxy_upstream_errors_total', 'Upstream requests that failed (no answer or not 2xx).', ['source']),
  upstreamDuration: new Histogram('mapproxy_upstream_request_duration_seconds', 'Upstream request latency by source.', ['source']),
  renderStarted: new Counter('mapproxy_render_started_total', 'Tile creations started by the render queue, by priority.', ['priority']),
  renderCoalesced: new Counter('mapproxy_render_coalesced_total', 'Tile creations asked for while the same meta tile was already queued or running.', ['priority']),
  prefetchDropped: new Counter('mapproxy_render_prefetch_dropped_total', 'Prefetch work dropped because on-demand work had to wait.', []),
  staleServed: new Counter('mapproxy_stale_served_total', 'Expired tiles answered from the cache (stale-while-revalidate or stale-if-error).', ['cache', 'reason']),
};

/** The /metrics document. */
export function renderMetrics(): string {
  const out: string[] = [];
  for (const m of Object.values(metrics)) m.render(out);
  return `${out.join('\n')}\n`;
}
