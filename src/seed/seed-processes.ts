/**
 * Seeding on several CPU cores, as `mapproxy-seed -c N` forks N processes:
 * the seed walks the pyramid, counts, retries and keeps the progress in its
 * own process, and hands each meta tile to one of N `mapproxy seed-worker`
 * processes, which fetch, split, encode and store it (under the same
 * meta-tile locks as the server). One JSON object per line over the
 * workers' stdin and stdout:
 *
 *   -> {"id": 7, "cache": "osm", "grid": "webmercator", "refresh": 1700000000 | null, "coords": [[x, y, z], ...]}
 *   <- {"id": 7, "ok": true} | {"id": 7, "ok": false, "error": "...", "retryable": true}
 *
 * A worker whose stdin closes finishes what it has and exits, so no tile is
 * left half-written when the seed stops.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import type { TileCoord } from '../grid/tile-grid.ts';
import type { SelfCommand } from '../runtime/self-command.ts';

/**
 * Bun's allocator (mimalloc) returns freed memory to the kernel at once, and
 * a meta tile's multi-megabyte decode buffers then come back as fresh pages
 * to fault in and zero: half the system time of a seed. A seeding process may
 * keep its memory: 2.6x fewer page faults, about 12 % less time per meta tile
 * (decode, split, quantize, encode of a 1024x1024 PNG: 34 -> 30 ms).
 */
export const SEED_ALLOCATOR_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: '-1', MIMALLOC_ARENA_EAGER_COMMIT: '1' };

/** A meta tile that failed in a worker; `retryable` as the seeder decides it in-process. */
export class SeedWorkerError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'SeedWorkerError';
  }
}

/** What a worker creates: tiles of one cache and grid, refreshing those at or before `refresh`. */
export interface SeedWork {
  cache: string;
  grid: string;
  refresh: number | undefined;
  coords: TileCoord[];
}

interface Pending {
  resolve(): void;
  reject(e: Error): void;
}

/** One worker process and what it has in hand. */
class SeedWorker {
  readonly pending = new Map<number, Pending>();
  dead: string | undefined;
  readonly exited: Promise<void>;

  /** share: the upstream requests it may have open at once. */
  constructor(
    readonly child: ChildProcess,
    readonly share: number,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, sig) => {
        this.fail(`seed worker ${child.pid} exited (${code ?? sig})`);
        resolve();
      });
      child.once('error', (e) => {
        this.fail(`seed worker could not start: ${e.message}`);
        resolve();
      });
    });
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      let m: { id: number; ok: boolean; error?: string; retryable?: boolean };
      try {
        m = JSON.parse(line);
      } catch {
        return; // not ours (a stray print)
      }
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve();
      else p.reject(new SeedWorkerError(m.error ?? 'unknown error in seed worker', m.retryable === true));
    });
  }

  private fail(why: string): void {
    this.dead ??= why;
    for (const p of this.pending.values()) p.reject(new SeedWorkerError(why, true));
    this.pending.clear();
  }
}

/**
 * N worker processes for the seed of one config; jobs go to the live worker
 * with the fewest per upstream request it may make.
 *
 * The seed's -c (`upstreamRequests`) is split between the workers: together
 * they never have more requests open at the upstream than mapproxy-seed's N
 * processes would. Each worker is given one meta tile more than its share
 * (see `inFlight`), so it decodes and stores one while the next one
 * downloads (then, decodes also ran on Bun's thread pool; RGB(A) PNGs now
 * decode on the worker's own thread, ~40 % less CPU): with -c 2, `bench/seed.ts` went from 1.71-1.77 to
 * 1.88-1.91 cores and from 529-600 to 576-801 tiles/s (four alternating
 * runs each), for one more meta tile in memory per worker.
 */
export class SeedProcesses {
  private workers: SeedWorker[] = [];
  private nextId = 0;
  /** -c: the upstream requests all workers may have open at once. */
  private readonly requests: number;
  private readonly count: number;

  constructor(
    readonly opts: { command: SelfCommand; config: string; count: number; upstreamRequests: number },
  ) {
    this.requests = Math.max(1, opts.upstreamRequests);
    // more workers than -c would idle, and the requests a failed meta tile leaves
    // running (its other sources) could then add to those of a worker taking the next one
    this.count = Math.max(1, Math.min(opts.count, this.requests));
  }

  /** Meta tiles to hand out at once: -c plus one per worker. */
  get inFlight(): number {
    return this.requests + this.count;
  }

  /** The workers, started on first use. */
  private start(): void {
    if (this.workers.length) return;
    const c = this.requests;
    for (let i = 0; i < this.count; i++) {
      // -c split as evenly as it goes (count <= c: every share is 1 or more)
      const share = Math.floor(c / this.count) + (i < c % this.count ? 1 : 0);
      const { cmd, args } = this.opts.command;
      const child = spawn(cmd, [...args, 'seed-worker', '-f', this.opts.config, '--upstream-requests', String(share)], {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: { ...process.env, ...SEED_ALLOCATOR_ENV },
      });
      this.workers.push(new SeedWorker(child, share));
    }
  }

  /** Creates the tiles in a worker; rejects with SeedWorkerError. */
  run(work: SeedWork): Promise<void> {
    this.start();
    const live = this.workers.filter((w) => !w.dead);
    if (!live.length) return Promise.reject(new SeedWorkerError(this.workers[0]?.dead ?? 'no seed worker', false));
    const w = live.reduce((a, b) => (b.pending.size / b.share < a.pending.size / a.share ? b : a));
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      const msg = { id, cache: work.cache, grid: work.grid, refresh: work.refresh ?? null, coords: work.coords };
      w.child.stdin!.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Closes the workers' stdin and waits for them to finish what they have (killed after `graceMs`). */
  async close(graceMs = 60_000): Promise<void> {
    for (const w of this.workers) w.child.stdin?.end();
    const all = Promise.all(this.workers.map((w) => w.exited));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const w of this.workers) if (w.child.exitCode === null) w.child.kill('SIGKILL');
        resolve();
      }, graceMs);
    });
    await Promise.race([all, late]);
    clearTimeout(timer);
    this.workers = [];
  }
}
