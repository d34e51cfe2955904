/**
 * Runs seed and cleanup tasks: the pyramid walk hands meta tiles to N
 * concurrent jobs, each made through the cache's tile manager (so under the
 * same meta-tile locks as the server), retried with exponential back-off,
 * optionally rate limited; what still fails is listed at the end.
 */
import { SeedWorkerError, type SeedProcesses } from './seed-processes.ts';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TileManager } from '../cache/tile-manager.ts';
import { FileCache } from '../cache/file-cache.ts';
import { levelRelPath } from '../cache/file-layout.ts';
import { SourceError } from '../errors.ts';
import { coverageLlBbox } from '../geo/coverage.ts';
import type { TileCoord } from '../grid/tile-grid.ts';
import { MetaGrid } from '../grid/meta-grid.ts';
import type { Bbox } from '../srs/types.ts';
import { SafeProgress, timestamp, type ProgressOutput, type ProgressStore } from './progress.ts';
import { taskId, type CleanupTask, type SeedTask, type Task } from './seed-config.ts';
import { SeedProgress, TileWalker } from './walker.ts';

/** Why a run stops early. */
export type StopReason = 'interrupt' | 'duration' | 'failures';

/** Set from outside (signals, timers); the walk checks it at every level boundary and job. */
export class StopSignal {
  reason: StopReason | undefined;
  stop(reason: StopReason): void {
    this.reason ??= reason;
  }
  get stopped(): boolean {
    return this.reason !== undefined;
  }
}

/** Options of a seed or cleanup run. */
export interface RunOptions {
  concurrency: number;
  dryRun: boolean;
  skipGeomsForLastLevels: number;
  /** --skip-uncached: only refresh tiles already in the cache. */
  skipUncached: boolean;
  /** Retries of a failing meta tile before it counts as failed. */
  maxRetries: number;
  /** First back-off in seconds, doubled per retry. */
  retryDelay: number;
  /** Longest back-off in seconds. */
  maxRetryDelay: number;
  /** Meta tiles (= requests per source) started per second; 0 = unlimited. */
  maxRate: number;
  /** Consecutive failed meta tiles after which the run stops (the upstream is down). */
  maxConsecutiveFailures: number;
  progressStore?: ProgressStore;
  output: ProgressOutput;
  stop: StopSignal;
  /** Seconds to count the tiles in advance for the total (0 = do not count). */
  countSeconds: number;
  /** Worker processes that create the tiles (mapproxy seed -c N); undefined: in this process. */
  processes?: SeedProcesses;
  /** Sleep, replaceable in tests. */
  sleep?: (ms: number) => Promise<void>;
}

/** A tile (meta tile) that failed every retry. */
export interface FailedTile {
  coord: TileCoord;
  error: string;
}

/** What a task did. */
export interface TaskResult {
  task: Task;
  /** Tiles written (seed) or removed (cleanup); in a dry run the ones that would be. */
  tiles: number;
  /** Tiles per level. */
  perLevel: Map<number, number>;
  failed: FailedTile[];
  stopped: StopReason | undefined;
  seconds: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `%.5f, %.5f, %.5f, %.5f` as mapproxy-seed prints bboxes. */
export function formatBbox(b: Bbox): string {
  return b.map((v) => v.toFixed(5)).join(', ');
}

function localTime(ts: number): string {
  return timestamp(new Date(ts * 1000));
}

/** The task description mapproxy-seed prints (format_seed_task / format_cleanup_task). */
export function describeTask(t: Task): string {
  const lines = [`  ${t.name}:`];
  if (t.coverage === false) return [...lines, '    Empty coverage given for this task', '    Skipped'].join('\n');
  const verb = t.kind === 'seed' ? 'Seeding' : 'Cleaning up';
  lines.push(`    ${verb} cache '${t.cacheName}' with grid '${t.gridName}' in ${t.grid.srs.code}`);
  if (!t.completeExtent) lines.push(`    Limited to coverage in: ${formatBbox(coverageLlBbox(t.coverage))} (EPSG:4326)`);
  else lines.push(`    Complete grid: ${formatBbox(coverageLlBbox(t.coverage))} (EPSG:4326)`);
  lines.push(`    Levels: [${t.levels.join(', ')}]`);
  if (t.kind === 'seed') {
    if (t.refreshTimestamp) lines.push(`    Overwriting: tiles older than ${localTime(t.refreshTimestamp)}`);
    else if (t.refreshTimestamp === 0) lines.push('    Overwriting: all tiles');
    else lines.push('    Overwriting: no tiles');
  } else {
    lines.push(t.removeTimestamp ? `    Remove: tiles older than ${localTime(t.removeTimestamp)}` : '    Remove: all tiles');
  }
  return lines.join('\n');
}

/** At most `rate` starts per second, spread evenly. */
class RateLimit {
  private next = 0;
  constructor(
    private readonly rate: number,
    private readonly sleep: (ms: number) => Promise<void>,
  ) {}
  async take(): Promise<void> {
    if (!(this.rate > 0)) return;
    const now = performance.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / this.rate;
    if (at > now) await this.sleep(at - now);
  }
}

/** Errors worth retrying: the upstream, the network, the disk. */
/** Upstream trouble and I/O errors are worth another try; programming errors are not. */
export function retryable(e: unknown): boolean {
  if (e instanceof SeedWorkerError) return e.retryable;
  return e instanceof SourceError || typeof (e as NodeJS.ErrnoException)?.code === 'string';
}

function mtimeOf(tm: TileManager, c: TileCoord): number | undefined {
  const b = tm.opts.backend;
  if (b.mtime) return b.mtime(c);
  return b.load(c)?.mtime;
}

/** A tile is cached and not due (MapProxy's is_cached with an expire timestamp). */
function isFresh(tm: TileManager, c: TileCoord, before: number | undefined): boolean {
  if (before === undefined) return tm.opts.backend.isCached(c);
  const m = mtimeOf(tm, c);
  return m !== undefined && !(Math.trunc(m) <= before);
}

/** A tile exists and is due (MapProxy's is_stale). */
function isStale(tm: TileManager, c: TileCoord, before: number | undefined): boolean {
  if (before === undefined) return false;
  const m = mtimeOf(tm, c);
  return m !== undefined && Math.trunc(m) <= before;
}

/** Bounded pool: at most `size` jobs at once; run() waits for a free slot. */
class JobPool {
  private active = new Set<Promise<void>>();
  constructor(private readonly size: number) {}
  async run(job: () => Promise<void>): Promise<void> {
    while (this.active.size >= this.size) await Promise.race(this.active);
    const p = job().finally(() => this.active.delete(p));
    this.active.add(p);
  }
  async drain(): Promise<void> {
    while (this.active.size) await Promise.race(this.active);
  }
}

function metaSizeOf(tm: TileManager): [number, number] {
  const ms = tm.metaGrid?.metaSize;
  return ms ? [ms[0], ms[1]] : [1, 1];
}

/** Counts the tiles a walk would hand over, for at most `seconds`; undefined when it takes longer. */
async function countTiles(t: Task, opts: RunOptions, needsWork: (c: TileCoord) => boolean, workOnMetatiles: boolean): Promise<number | undefined> {
  if (opts.countSeconds <= 0 || t.coverage === false) return undefined;
  const deadline = performance.now() + opts.countSeconds * 1000;
  const metaGrid = new MetaGrid(t.grid, metaSizeOf(t.manager), 0);
  let total = 0;
  let finished = true;
  const walker = new TileWalker(
    { grid: t.grid, levels: t.levels, coverage: t.coverage, metaSize: metaSizeOf(t.manager), workOnMetatiles, skipGeomsForLastLevels: opts.skipGeomsForLastLevels, progress: new SeedProgress() },
    {
      needsWork,
      process: (tiles) => {
        total += workOnMetatiles ? tiles.reduce((n, c) => n + metaGrid.tileList(c).filter((x) => x !== null).length, 0) : tiles.length;
      },
      running: () => {
        if (performance.now() < deadline && !opts.stop.stopped) return true;
        finished = false;
        return false;
      },
    },
  );
  await walker.walk();
  return finished ? total : undefined;
}

/** Everything the two kinds of runs share: progress, output, stop checks. */
class TaskRun {
  readonly perLevel = new Map<number, number>();
  readonly failed: FailedTile[] = [];
  readonly safe = new SafeProgress();
  readonly started = performance.now();
  readonly seedProgress: SeedProgress;
  readonly label: string;
  done = 0;
  level = 0;
  total: number | undefined;
  private lastWrite = 0;

  constructor(
    readonly task: Task,
    readonly opts: RunOptions,
  ) {
    const old = opts.progressStore?.get(taskId(task));
    this.seedProgress = new SeedProgress(Array.isArray(old) ? old : null);
    this.label = `${task.kind === 'seed' ? 'seed' : 'cleanup'} ${task.name} ${task.cacheName}/${task.gridName}`;
  }

  count(level: number, n: number): void {
    this.done += n;
    this.perLevel.set(level, (this.perLevel.get(level) ?? 0) + n);
    this.show(false);
  }

  show(force: boolean): void {
    this.opts.output.update({ label: this.label, level: this.level, done: this.done, total: this.total, fraction: this.seedProgress.progress, startedAt: this.started, now: performance.now(), failed: this.failed.length }, force);
  }

  /** The walk entered a level: remember the position, store what is safe now and then. */
  report(level: number): void {
    this.level = level;
    this.safe.snapshot(this.seedProgress.currentProgressIdentifier());
    this.writeProgress(false);
  }

  writeProgress(force: boolean): void {
    const store = this.opts.progressStore;
    if (!store || this.opts.dryRun) return;
    const now = performance.now();
    if (!force && now - this.lastWrite < 1000) return;
    const id = this.safe.latestSafe();
    if (id === undefined) return;
    this.lastWrite = now;
    store.add(taskId(this.task), id);
    try {
      store.write();
    } catch (e) {
      this.opts.output.line(`unable to write seed progress: ${(e as Error).message}`);
    }
  }

  result(): TaskResult {
    this.show(true);
    this.opts.output.endLine();
    return { task: this.task, tiles: this.done, perLevel: this.perLevel, failed: this.failed, stopped: this.opts.stop.reason, seconds: (performance.now() - this.started) / 1000 };
  }
}

/**
 * The tile manager a seed creates tiles with: the cache's, refreshing tiles
 * at or before `refreshTimestamp` (the cache's own refresh_before wins, as in
 * MapProxy's expire_timestamp), at seed priority, without stale answers,
 * placeholders or prefetching.
 */
export function seedManager(base: TileManager, refreshTimestamp: number | undefined): { tm: TileManager; before: () => number | undefined } {
  const own = base.opts.refreshBefore;
  const before = () => own?.() ?? refreshTimestamp;
  const tm = new TileManager({
    ...base.opts,
    minimizeMetaRequests: false,
    refreshBefore: before,
    staleOnError: false,
    priority: 'seed',
    staleWhileRevalidate: undefined,
    staleIfError: undefined,
    waitingImage: undefined,
    prefetch: undefined,
  });
  return { tm, before };
}

/** Seeds one task. */
export async function seedTask(task: SeedTask, opts: RunOptions): Promise<TaskResult> {
  const run = new TaskRun(task, opts);
  if (task.coverage === false) return run.result();
  const base = task.manager;
  const { tm, before } = seedManager(base, task.refreshTimestamp);
  // worker processes create the tiles (seed -c N); dimension managers stay in this process
  const processes = base.opts.dimensions ? undefined : opts.processes;
  const workOnMetatiles = !base.opts.rescaleTiles;
  const metaGrid = new MetaGrid(task.grid, metaSizeOf(base), 0);
  /** The tiles of a meta tile (its main tile first) or the tile itself. */
  const tilesOf = (c: TileCoord): TileCoord[] => (workOnMetatiles ? metaGrid.tileList(c).filter((x): x is TileCoord => x !== null) : [c]);
  // as MapProxy, the main tile decides whether a meta tile is refreshed; but one whose creation was
  // killed half-way has its main tile and lacks others: it needs work until all of them are there
  const needsWork = opts.skipUncached
    ? (c: TileCoord) => isStale(tm, c, before())
    : (c: TileCoord) => !isFresh(tm, c, before()) || tilesOf(c).some((t) => !tm.opts.backend.isCached(t));
  run.total = await countTiles(task, opts, needsWork, workOnMetatiles);
  const pool = new JobPool(processes ? processes.inFlight : Math.max(1, opts.concurrency));
  const sleep = opts.sleep ?? defaultSleep;
  const rate = new RateLimit(opts.maxRate, sleep);
  let consecutiveFailures = 0;

  const job = async (coords: TileCoord[], level: number, seq: number): Promise<void> => {
    // the tiles of its meta tiles (or the tiles themselves): what it counts for, and what it asks for
    const all = coords.flatMap(tilesOf);
    const n = all.length;
    // stopped before it began: not done, so the stored progress stays before it
    if (opts.stop.stopped) return;
    try {
      if (opts.dryRun) {
        run.count(level, n);
        return;
      }
      for (let attempt = 0; ; attempt++) {
        if (opts.stop.stopped && attempt > 0) return;
        await rate.take();
        try {
          // every tile not yet fresh: asking for the main tile alone would take a half-written meta tile as done.
          // A worker process checks each tile it is given anyway (and again under the meta tile's lock):
          // checking them here too cost the seed's own process a stat per tile (~4 % of a seed's wall
          // time on 2 cores). A half-written meta tile's tiles that are there are then read once more.
          const b = before();
          const wanted = processes ? all : all.filter((t) => !isFresh(tm, t, b));
          const todo = wanted.length ? wanted : coords;
          if (processes) await processes.run({ cache: task.cacheName, grid: task.gridName, refresh: task.refreshTimestamp, coords: todo });
          else await tm.getTiles(todo);
          consecutiveFailures = 0;
          run.count(level, n);
          return;
        } catch (e) {
          const msg = (e as Error).message;
          if (!retryable(e) || attempt >= opts.maxRetries) {
            for (const c of coords) run.failed.push({ coord: c, error: msg });
            run.opts.output.line(`[${timestamp()}] failed ${run.label} tile ${coords[0].join('/')}${coords.length > 1 ? ` (+${coords.length - 1})` : ''} after ${attempt + 1} attempt${attempt ? 's' : ''}: ${msg}`);
            if (++consecutiveFailures >= opts.maxConsecutiveFailures) opts.stop.stop('failures');
            return;
          }
          const wait = Math.min(opts.maxRetryDelay, opts.retryDelay * 2 ** attempt);
          run.opts.output.line(`[${timestamp()}] error for tile ${coords[0].join('/')}: ${msg}; retry in ${wait} s (${opts.maxRetries - attempt} retr${opts.maxRetries - attempt === 1 ? 'y' : 'ies'} left)`);
          await sleep(wait * 1000);
        }
      }
    } finally {
      run.safe.done(seq);
      run.writeProgress(false);
    }
  };

  return walkTask(run, workOnMetatiles, needsWork, pool, (coords) => pool.run(() => job(coords, coords[0][2], run.safe.start())));
}

/** The walk of a task, its jobs drained, the final progress stored. */
async function walkTask(run: TaskRun, workOnMetatiles: boolean, needsWork: (c: TileCoord) => boolean, pool: JobPool, process: (coords: TileCoord[]) => Promise<void>): Promise<TaskResult> {
  const { task, opts } = run;
  if (task.coverage === false) return run.result();
  const walker = new TileWalker(
    { grid: task.grid, levels: task.levels, coverage: task.coverage, metaSize: metaSizeOf(task.manager), workOnMetatiles, skipGeomsForLastLevels: opts.skipGeomsForLastLevels, progress: run.seedProgress },
    { needsWork, process, report: (level) => run.report(level), running: () => !opts.stop.stopped },
  );
  await walker.walk();
  await pool.drain();
  run.writeProgress(true);
  return run.result();
}

/** Cleans up one task: whole level directories when it covers the grid, else tile by tile. */
export async function cleanupTask(task: CleanupTask, opts: RunOptions): Promise<TaskResult> {
  const run = new TaskRun(task, opts);
  if (task.coverage === false) return run.result();
  const backend = task.manager.opts.backend;
  if (task.completeExtent && backend instanceof FileCache && levelRelPath(backend.layout, 0) !== undefined) {
    await levelCleanup(task, backend, run);
    run.writeProgress(true);
    return run.result();
  }
  const tm = task.manager;
  const ts = task.removeTimestamp;
  // remove_all means every tile (MapProxy 1.15 removes none when a coverage is given: int(mtime) <= 0)
  const needsWork = ts === 0 ? (c: TileCoord) => tm.opts.backend.isCached(c) : (c: TileCoord) => isStale(tm, c, ts);
  run.total = await countTiles(task, opts, needsWork, false);
  const pool = new JobPool(Math.max(1, opts.concurrency));
  return walkTask(run, false, needsWork, pool, (coords) => {
    const seq = run.safe.start();
    return pool.run(async () => {
      try {
        if (opts.dryRun) for (const c of coords) opts.output.line(`would remove ${c.join('/')}`);
        else for (const c of coords) tm.opts.backend.remove(c);
        run.count(coords[0][2], coords.length);
      } finally {
        run.safe.done(seq);
      }
    });
  });
}

/** MapProxy's DirectoryCleanupProgress.can_skip: `dir` comes before `old` (compared per path segment). */
export function dirBefore(old: string | null, dir: string): boolean {
  if (old === null) return false;
  const a = old.split(path.sep);
  const b = dir.split(path.sep);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] === undefined || b[i] === undefined) return false;
    if (a[i] < b[i]) return false;
    if (a[i] > b[i]) return true;
  }
  return false;
}

/** simple_cleanup: old files of each level directory (all of it for remove_all), empty directories after. */
async function levelCleanup(task: CleanupTask, cache: FileCache, run: TaskRun): Promise<void> {
  const old = run.opts.progressStore?.get(taskId(task));
  const oldDir = typeof old === 'string' ? old : null;
  const root = path.resolve(cache.dir);
  for (const level of task.levels) {
    if (run.opts.stop.stopped) return;
    const dir = path.join(root, levelRelPath(cache.layout, level)!);
    run.level = level;
    if (dirBefore(oldDir, dir)) continue;
    if (run.opts.progressStore && !run.opts.dryRun) {
      run.opts.progressStore.add(taskId(task), dir);
      run.opts.progressStore.write();
    }
    run.opts.output.line(`[${timestamp()}] removing old tiles in ${path.relative(process.cwd(), dir) || dir}`);
    const removed = cleanupDirectory(dir, task.removeTimestamp, run.opts.dryRun, (f) => run.opts.output.line(`would remove ${f}`), () => run.opts.stop.stopped);
    run.count(level, removed);
    // let signals and timers in between levels
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * Removes files below `dir` modified before `before` (all for 0), then the
 * directories that became empty; never follows links out of `dir`. Returns the count.
 */
export function cleanupDirectory(dir: string, before: number, dryRun: boolean, onDry: (f: string) => void, stopped: () => boolean): number {
  let removed = 0;
  const walk = (d: string): boolean => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(d, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
      throw e;
    }
    let empty = true;
    for (const e of entries) {
      if (stopped()) return false;
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (walk(p) && !dryRun) {
          try {
            fs.rmdirSync(p);
            continue;
          } catch {
            /* not empty: a tile arrived meanwhile */
          }
        }
        empty = false;
        continue;
      }
      let old = before === 0;
      if (!old) {
        try {
          old = fs.lstatSync(p).mtimeMs / 1000 < before;
        } catch {
          continue;
        }
      }
      if (!old) {
        empty = false;
        continue;
      }
      removed++;
      if (dryRun) {
        onDry(p);
        empty = false;
        continue;
      }
      try {
        fs.unlinkSync(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    return empty;
  };
  if (walk(dir) && !dryRun) {
    try {
      fs.rmdirSync(dir);
    } catch {
      /* gone or not empty */
    }
  }
  return removed;
}

