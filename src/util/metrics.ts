/**
 * Process-wide counters and histograms in the Prometheus text format
 * (/metrics). Each worker process counts its own requests; labels are
 * service, status, cache and source names. Under `mapproxy serve -w N` the
 * workers send snapshots of their figures to the supervisor, which sums them
 * into one document that every worker answers /metrics with.
 */
import * as fs from 'node:fs';

type Labels = readonly string[];
/** Label value -> the next label's values, or at the last label the series' numbers. */
type SeriesTree = Map<string, SeriesTree | number[]>;

/** Bumped on every count: a worker sends a snapshot only when it moved. */
let version = 0;

abstract class Metric {
  /** Label values joined by NUL -> the numbers of that series. */
  readonly values = new Map<string, number[]>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The same series by label value, one level per label: found without building the key (this runs several times per request). */
  private tree: SeriesTree = new Map();

  protected slot(labels: Labels, size: number): number[] {
    let node = this.tree;
    const last = labels.length - 1;
    for (let i = 0; i < last; i++) {
      let next = node.get(labels[i]) as SeriesTree | undefined;
      if (!next) node.set(labels[i], (next = new Map()));
      node = next;
    }
    const leaf = last < 0 ? '' : labels[last];
    let v = node.get(leaf) as number[] | undefined;
    if (!v) {
      const key = labels.join('\u0000');
      v = this.values.get(key);
      if (!v) this.values.set(key, (v = new Array(size).fill(0)));
      node.set(leaf, v);
    }
    return v;
  }

  protected labelText(key: string, extra = ''): string {
    const vals = key.split('\u0000');
    const parts = this.labelNames.map((n, i) => `${n}="${escapeLabel(vals[i] ?? '')}"`);
    if (extra) parts.push(extra);
    return parts.length ? `{${parts.join(',')}}` : '';
  }

  /** A number of a series that moves with every count (to find the series changed since a snapshot). */
  abstract mark(v: number[]): number;

  /** Append the text format of values (default: this process's own) to out. */
  abstract render(out: string[], values?: Map<string, number[]>): void;
}

/** A monotonically increasing count per label combination. */
export class Counter extends Metric {
  /** Add `v` (default 1) for these label values. */
  inc(labels: Labels, v = 1): void {
    this.slot(labels, 1)[0] += v;
    version++;
  }

  /** The current value (0 when never counted). */
  get(labels: Labels): number {
    return this.values.get(labels.join('\u0000'))?.[0] ?? 0;
  }

  mark(v: number[]): number {
    return v[0];
  }

  render(out: string[], values = this.values): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`);
    for (const [k, v] of values) out.push(`${this.name}${this.labelText(k)} ${v[0]}`);
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
    version++;
  }

  mark(v: number[]): number {
    // the observation count
    return v[this.buckets.length];
  }

  render(out: string[], values = this.values): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`);
    for (const [k, v] of values) {
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
  tileMemoryHits: new Counter('mapproxy_tile_memory_hits_total', 'Tiles answered from a serve worker\'s --tile-memory after a stat() showed the file unchanged.', []),
  staleServed: new Counter('mapproxy_stale_served_total', 'Expired tiles answered from the cache (stale-while-revalidate or stale-if-error).', ['cache', 'reason']),
};

/** The file with the group's summed figures, when this process is a worker of `mapproxy serve`. */
let groupFile: string | undefined;
/** The last group document read: answered again if the file cannot be read, so no counter seems to go back. */
let lastGroup: string | undefined;

/** The /metrics document: the whole worker group's figures under `serve`, else this process's own. */
export function renderMetrics(): string {
  if (groupFile) {
    try {
      // one small file written atomically by the supervisor: bounded work per scrape
      return (lastGroup = fs.readFileSync(groupFile, 'utf8'));
    } catch {
      // the run dir is gone (shutting down)
      if (lastGroup) return lastGroup;
    }
  }
  const out: string[] = [];
  for (const m of Object.values(metrics)) m.render(out);
  return `${out.join('\n')}\n`;
}

/** Answer /metrics from this file (written by the supervisor of `mapproxy serve`) instead of this process's counters. */
export function useGroupMetrics(file: string | undefined): void {
  groupFile = file;
}

/** Counter of changes to this process's figures (compare to know whether a snapshot is due). */
export function metricsVersion(): number {
  return version;
}

/** Series per metric name: [label key, numbers] pairs, as JSON carries them. */
export type MetricsSnapshot = Record<string, [string, number[]][]>;

/**
 * This process's figures as plain data: with a memo, only the series that
 * changed since the last call with it (each with its whole current numbers),
 * so a snapshot stays small however many caches and sources are configured.
 */
export function snapshotMetrics(memo?: Map<string, number>): MetricsSnapshot {
  const snap: MetricsSnapshot = {};
  for (const m of Object.values(metrics)) {
    const series: [string, number[]][] = [];
    for (const [k, v] of m.values) {
      if (memo) {
        const id = `${m.name}\u0001${k}`;
        const mark = m.mark(v);
        if (memo.get(id) === mark) continue;
        memo.set(id, mark);
      }
      series.push([k, v.slice()]);
    }
    if (series.length) snap[m.name] = series;
  }
  return snap;
}

/** Summed figures: metric name -> label key -> numbers. */
export type MetricsTotals = Map<string, Map<string, number[]>>;

/** Put the series of a snapshot into totals, replacing what they held for those series (a worker's latest figures). */
export function setMetrics(into: MetricsTotals, from: MetricsSnapshot): void {
  for (const [name, series] of Object.entries(from)) {
    let target = into.get(name);
    if (!target) into.set(name, (target = new Map()));
    for (const [key, nums] of series) target.set(key, nums);
  }
}

/** Add a snapshot (or other totals) into totals, series by series: counters, histogram buckets, sums and counts all add up. */
export function addMetrics(into: MetricsTotals, from: MetricsSnapshot | MetricsTotals): void {
  const entries = from instanceof Map ? [...from].map(([n, m]) => [n, [...m]] as const) : Object.entries(from);
  for (const [name, series] of entries) {
    let target = into.get(name);
    if (!target) into.set(name, (target = new Map()));
    for (const [key, nums] of series) {
      const have = target.get(key);
      if (!have) target.set(key, nums.slice());
      else for (let i = 0; i < nums.length; i++) have[i] = (have[i] ?? 0) + nums[i];
    }
  }
}

/** The text format of summed figures, with the metrics' help and types; extra lines (gauges) go at the end. */
export function renderMetricsTotals(totals: MetricsTotals, extra: string[] = []): string {
  const out: string[] = [];
  // known metrics only: a worker of a newer build may count more than this process can describe
  for (const m of Object.values(metrics)) m.render(out, totals.get(m.name) ?? new Map());
  out.push(...extra);
  return `${out.join('\n')}\n`;
}
