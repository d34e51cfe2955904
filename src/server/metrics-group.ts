/**
 * /metrics for a whole `mapproxy serve` worker group. Each worker sends the
 * series of its counters that moved over its report channel (at most every
 * 250 ms); the supervisor sums the latest figures of every live worker plus
 * the final figures of every worker that has exited, and writes
 * the text document atomically to one file that every worker answers
 * /metrics with. Keeping the exited workers' figures is what keeps the
 * counters from going back when a worker is recycled (--max-requests),
 * replaced on SIGHUP or restarted after a crash: Prometheus would take a
 * drop for a reset and count the difference again.
 */
import * as fs from 'node:fs';
import { clearTimeout, setTimeout } from 'node:timers';
import { getLogger } from '../log/logger.ts';
import { addMetrics, renderMetricsTotals, setMetrics, type MetricsSnapshot, type MetricsTotals } from '../util/metrics.ts';

const log = getLogger('mapproxy.system');

/** Delay between a change and the rewrite of the file: coalesces the snapshots of all workers. */
const WRITE_DELAY_MS = 100;

/** The summed figures of a worker group, kept in a file for the workers to serve. */
export class MetricsGroup {
  /** Latest figures per live worker (keyed by the supervisor's worker object). */
  private readonly live = new Map<object, MetricsTotals>();
  /** Sum of the final snapshots of the workers that have exited. */
  private readonly retired: MetricsTotals = new Map();
  private readonly gone = new WeakSet<object>();
  private exited = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private warned = false;
  private closed = false;

  /** file: where the document goes; serving: the number of workers serving now (the mapproxy_workers gauge). */
  constructor(
    readonly file: string,
    private readonly serving: () => number,
  ) {
    // written before any worker starts, so a worker never answers only its own figures
    this.write();
  }

  /** The series of a live worker that moved; ignored once the worker is retired (a late message must not count twice). */
  update(worker: object, snap: MetricsSnapshot): void {
    if (this.gone.has(worker)) return;
    let figures = this.live.get(worker);
    if (!figures) this.live.set(worker, (figures = new Map()));
    setMetrics(figures, snap);
    this.changed();
  }

  /** A worker has exited and its channel is drained: its last snapshot moves into the totals for good. */
  retire(worker: object): void {
    if (this.gone.has(worker)) return;
    this.gone.add(worker);
    const figures = this.live.get(worker);
    if (figures) addMetrics(this.retired, figures);
    this.live.delete(worker);
    this.exited++;
    this.changed();
  }

  /** Something changed (a snapshot, the number of serving workers): rewrite the file soon. */
  changed(): void {
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.write();
    }, WRITE_DELAY_MS);
    this.timer.unref();
  }

  /** The document as it would be written now. */
  render(): string {
    const totals: MetricsTotals = new Map();
    addMetrics(totals, this.retired);
    for (const figures of this.live.values()) addMetrics(totals, figures);
    return renderMetricsTotals(totals, [
      '# HELP mapproxy_workers Worker processes serving.',
      '# TYPE mapproxy_workers gauge',
      `mapproxy_workers ${this.serving()}`,
      '# HELP mapproxy_workers_exited_total Worker processes that exited (recycled, replaced on reload, crashed); their figures stay in the totals.',
      '# TYPE mapproxy_workers_exited_total counter',
      `mapproxy_workers_exited_total ${this.exited}`,
    ]);
  }

  /** Write the document now: to a temporary name, then renamed, so a reader never sees half of it. */
  write(): void {
    const tmp = `${this.file}.tmp`;
    try {
      fs.writeFileSync(tmp, this.render());
      fs.renameSync(tmp, this.file);
      this.warned = false;
    } catch (e) {
      // the workers keep answering the last document they read
      if (!this.warned) log.warn(`cannot write the metrics of the workers to ${this.file}: ${(e as Error).message}`);
      this.warned = true;
    }
  }

  /** Stop rewriting the file (shutdown: the run directory goes away). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
