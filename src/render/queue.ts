/**
 * The render queue of one process: every tile creation (on-demand miss,
 * stale-while-revalidate refresh, seeding, prefetch) runs through it.
 *
 * - `concurrency` creations run at once.
 * - Foreground work (on-demand, refresh) may take any free slot; background
 *   work (seed, prefetch) only starts while fewer than `backgroundSlots`
 *   creations run in total, so `concurrency - backgroundSlots` slots stay free
 *   for on-demand requests (MapProxy-Renderd's example: 10 creators, at most
 *   6 seeding; with 6 seeding, 4 on-demand requests start at once and new seed
 *   work waits until 5 are free).
 * - Waiting work starts by priority: on-demand, refresh, seed, prefetch; FIFO
 *   within one priority.
 * - Identical work (same key: cache identity + meta tile) is coalesced: asked
 *   again while queued or running, the caller gets the same promise, and a
 *   queued entry moves up to the highest priority it was asked with.
 * - Prefetch entries are bounded (`maxPrefetch`) and dropped from the queue
 *   as soon as foreground work has to wait for a slot.
 */
import { metrics } from '../util/metrics.ts';

export type RenderPriority = 'ondemand' | 'refresh' | 'seed' | 'prefetch';

export const PRIORITIES: readonly RenderPriority[] = ['ondemand', 'refresh', 'seed', 'prefetch'];

const RANK: Record<RenderPriority, number> = { ondemand: 0, refresh: 1, seed: 2, prefetch: 3 };

/** Work refused or dropped by the queue (prefetch under load, queue full). */
export class RenderCancelled extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RenderCancelled';
  }
}

export interface RenderQueueOptions {
  /** Creations running at once (>= 1). */
  concurrency: number;
  /** Creations running at once below which seed and prefetch work may start (1..concurrency; default concurrency). */
  backgroundSlots?: number;
  /** Queued prefetch entries kept at most (default 256); more are refused. */
  maxPrefetch?: number;
}

interface Entry {
  key: string;
  priority: RenderPriority;
  fn: () => Promise<unknown>;
  promise: Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  state: 'queued' | 'running';
  seq: number;
}

/** Counts of one queue, per priority. */
export interface RenderQueueStats {
  running: Record<RenderPriority, number>;
  queued: Record<RenderPriority, number>;
  concurrency: number;
  backgroundSlots: number;
}

export class RenderQueue {
  readonly concurrency: number;
  readonly backgroundSlots: number;
  readonly maxPrefetch: number;
  private byKey = new Map<string, Entry>();
  /** waiting entries per priority rank, FIFO */
  private waiting: Entry[][] = [[], [], [], []];
  private runningBy: Record<RenderPriority, number> = { ondemand: 0, refresh: 0, seed: 0, prefetch: 0 };
  private running = 0;
  private seq = 0;

  constructor(opts: RenderQueueOptions) {
    const n = Math.floor(opts.concurrency);
    if (!(n >= 1)) throw new RangeError(`render concurrency must be >= 1, got ${opts.concurrency}`);
    this.concurrency = n;
    const bg = Math.floor(opts.backgroundSlots ?? n);
    if (!(bg >= 1 && bg <= n)) throw new RangeError(`background slots must be 1..${n}, got ${opts.backgroundSlots}`);
    this.backgroundSlots = bg;
    this.maxPrefetch = Math.max(0, Math.floor(opts.maxPrefetch ?? 256));
  }

  /**
   * Runs `fn` when its priority gets a slot; a key already queued or running
   * returns that work's promise instead (fn is not called).
   */
  run<T>(key: string, priority: RenderPriority, fn: () => Promise<T>): Promise<T> {
    const have = this.byKey.get(key);
    if (have) {
      metrics.renderCoalesced.inc([priority]);
      if (have.state === 'queued' && RANK[priority] < RANK[have.priority]) this.promote(have, priority);
      return have.promise as Promise<T>;
    }
    if (priority === 'prefetch') {
      if (this.waiting[RANK.prefetch].length >= this.maxPrefetch) return Promise.reject(new RenderCancelled('prefetch queue full'));
      if (this.foregroundWaiting()) return Promise.reject(new RenderCancelled('prefetch refused under load'));
    }
    let resolve!: (v: unknown) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = { key, priority, fn, promise, resolve, reject, state: 'queued', seq: this.seq++ };
    this.byKey.set(key, entry);
    if (this.canStart(priority)) this.start(entry);
    else {
      this.waiting[RANK[priority]].push(entry);
      if (priority === 'ondemand' || priority === 'refresh') this.dropPrefetch();
    }
    return promise as Promise<T>;
  }

  /** Whether the key is queued or running. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  stats(): RenderQueueStats {
    const queued = { ondemand: 0, refresh: 0, seed: 0, prefetch: 0 };
    for (const p of PRIORITIES) queued[p] = this.waiting[RANK[p]].length;
    return { running: { ...this.runningBy }, queued, concurrency: this.concurrency, backgroundSlots: this.backgroundSlots };
  }

  /** Total creations running now. */
  get active(): number {
    return this.running;
  }

  private canStart(p: RenderPriority): boolean {
    if (p === 'seed' || p === 'prefetch') return this.running < this.backgroundSlots;
    return this.running < this.concurrency;
  }

  private foregroundWaiting(): boolean {
    return this.waiting[0].length > 0 || this.waiting[1].length > 0;
  }

  private promote(e: Entry, p: RenderPriority): void {
    const list = this.waiting[RANK[e.priority]];
    const i = list.indexOf(e);
    if (i >= 0) list.splice(i, 1);
    e.priority = p;
    if (this.canStart(p)) {
      this.start(e);
      return;
    }
    // keep FIFO order by first request within the new priority
    const target = this.waiting[RANK[p]];
    let j = target.length;
    while (j > 0 && target[j - 1].seq > e.seq) j--;
    target.splice(j, 0, e);
    if (p === 'ondemand' || p === 'refresh') this.dropPrefetch();
  }

  /** Foreground work is waiting: queued prefetch work is not worth a slot. */
  private dropPrefetch(): void {
    const list = this.waiting[RANK.prefetch];
    if (!list.length) return;
    this.waiting[RANK.prefetch] = [];
    for (const e of list) {
      this.byKey.delete(e.key);
      e.reject(new RenderCancelled('prefetch dropped under load'));
    }
    metrics.prefetchDropped.inc([], list.length);
  }

  private start(e: Entry): void {
    e.state = 'running';
    this.running++;
    const p = e.priority;
    this.runningBy[p]++;
    metrics.renderStarted.inc([p]);
    let result: Promise<unknown>;
    try {
      result = e.fn();
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (v) => this.finish(e, p, () => e.resolve(v)),
      (err) => this.finish(e, p, () => e.reject(err)),
    );
  }

  private finish(e: Entry, p: RenderPriority, settle: () => void): void {
    this.running--;
    this.runningBy[p]--;
    if (this.byKey.get(e.key) === e) this.byKey.delete(e.key);
    settle();
    this.pump();
  }

  /** Starts waiting work while slots allow, highest priority first. */
  private pump(): void {
    for (;;) {
      let next: Entry | undefined;
      for (let r = 0; r < this.waiting.length; r++) {
        const list = this.waiting[r];
        if (list.length && this.canStart(list[0].priority)) {
          next = list.shift();
          break;
        }
        // a waiting higher priority that cannot start blocks lower ones only if they share its rule
        if (list.length && r < 2) return;
      }
      if (!next) return;
      this.start(next);
    }
  }
}
