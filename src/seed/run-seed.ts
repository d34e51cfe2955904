/**
 * `mapproxy seed`: mapproxy-seed's command (seed.yaml with seeds and
 * cleanups, every flag of mapproxy/seed/script.py) plus a quick form for cron
 * lines without a seed.yaml (--cache/--grid/--levels/--bbox). Exit codes as
 * mapproxy-seed: 0 done, 1 usage or nothing to do, 2 config error or Ctrl-C,
 * 3 incomplete (tiles failed every retry, or the run stopped on failures).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { loadConfig } from '../config/loader.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import { ConfigError } from '../errors.ts';
import { BboxCoverage, type Coverage } from '../geo/coverage.ts';
import { EmptyCoverageError, loadCoverage } from '../geo/load-coverage.ts';
import { applyLogConfig } from '../log/log-config.ts';
import { parseBefore as parseIsoTime, parseMaxAge } from '../cache/cache-clean.ts';
import { getSrs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { CacheLock } from './cache-lock.ts';
import { SeedProcesses } from './seed-processes.ts';
import { selfCommand } from '../runtime/self-command.ts';
import { SeedUsageError } from './usage.ts';
import { ProgressOutput, ProgressStore, formatDuration } from './progress.ts';
import { levelsForGrid, loadSeedConf, parseLevelsArg, splitRescaled, type CleanupTask, type LevelSpec, type SeedTask, type Task } from './seed-config.ts';
import { StopSignal, cleanupTask, describeTask, seedTask, type RunOptions, type TaskResult } from './seeder.ts';

/** Parsed command line of `mapproxy seed`. */
export interface SeedArgs {
  proxyConf?: string;
  seedConf?: string;
  concurrency: number;
  dryRun: boolean;
  summary: boolean;
  quiet: number;
  interactive: boolean;
  /** --seed names (undefined: not given; ['ALL'] for all). */
  seedNames?: string[];
  /** --cleanup names; [] when given without names (quick form). */
  cleanupNames?: string[];
  skipUncached: boolean;
  skipGeomsForLastLevels: number;
  useCacheLock: boolean;
  continueSeed: boolean;
  progressFile?: string;
  /** seconds */
  duration?: number;
  reseedFile?: string;
  /** seconds */
  reseedInterval?: number;
  logConfig?: string;
  maxRetries: number;
  retryDelay: number;
  maxRate: number;
  maxFailures: number;
  // quick form
  cache?: string;
  grids?: string[];
  levels?: string;
  bbox?: string;
  bboxSrs?: string;
  coverageFile?: string;
  coverageSrs?: string;
  refreshBefore?: string;
  removeBefore?: string;
  removeAll: boolean;
  /** Worker processes that create the tiles (the CLI: min(-c, cores)); undefined or 0: in this process. */
  processes?: number;
}

/** Where the command writes; replaceable in tests. */
export interface SeedIo {
  out: (s: string) => void;
  err: (s: string) => void;
  tty: boolean;
  /** Answers for -i, one line per question. */
  ask?: (question: string) => Promise<string>;
  /** Installs the Ctrl-C handler; returns its removal. */
  onInterrupt?: (fn: () => void) => () => void;
}

/** A local ISO time (or one with a zone), or an age like 7d / 1w2d / a bare number of days before now, as cache-clean reads --before and --max-age. */
export function parseBefore(v: string, what: string, now = Date.now() / 1000): number {
  try {
    return /^\s*\d{4}-/.test(v) ? parseIsoTime(v) : now - parseMaxAge(v);
  } catch (e) {
    throw new SeedUsageError(`${what}: ${(e as Error).message.replace(/--max-age|--before/, 'value')}`);
  }
}

/** minx,miny,maxx,maxy with minx < maxx and miny < maxy. */
export function parseBboxArg(v: string, what = '--bbox'): Bbox {
  const parts = v.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n))) throw new SeedUsageError(`${what}: expected minx,miny,maxx,maxy, got '${v}'`);
  if (nums[0] >= nums[2] || nums[1] >= nums[3]) throw new SeedUsageError(`${what}: inverted bbox ${v} (minx must be below maxx and miny below maxy)`);
  return nums as Bbox;
}

function splitNames(v: string[] | undefined): string[] | undefined {
  if (!v) return undefined;
  return v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** Tasks of the quick form: one cache, its grids (or --grid), levels, bbox or coverage file. */
export function quickTasks(a: SeedArgs, proxy: Proxy): { seeds: SeedTask[]; cleanups: CleanupTask[] } {
  const name = a.cache!;
  const grids = proxy.caches.get(name);
  if (!grids) throw new SeedUsageError(`unknown cache '${name}' (known: ${[...proxy.caches.keys()].join(', ') || 'none'})`);
  for (const tm of grids.values()) if (tm.opts.disableStorage) throw new SeedUsageError(`can't seed cache '${name}' (disable_storage: true)`);
  const gridNames = a.grids?.length ? a.grids : [...grids.keys()];
  for (const g of gridNames) if (!grids.has(g)) throw new SeedUsageError(`grid '${g}' is not a grid of cache '${name}' (its grids: ${[...grids.keys()].join(', ')})`);
  let levelSpec: LevelSpec | undefined;
  if (a.levels !== undefined) {
    try {
      levelSpec = parseLevelsArg(a.levels);
    } catch (e) {
      throw new SeedUsageError(`--levels: ${(e as Error).message}`);
    }
  }
  let coverage: Coverage | false | undefined;
  if (a.bbox !== undefined && a.coverageFile !== undefined) throw new SeedUsageError('give either --bbox or --coverage-file, not both');
  if (a.bbox !== undefined) {
    const srs = srsArg(a.bboxSrs ?? 'EPSG:4326', '--bbox-srs');
    coverage = new BboxCoverage(parseBboxArg(a.bbox), srs);
  } else if (a.coverageFile !== undefined) {
    try {
      coverage = loadCoverage({ datasource: a.coverageFile, srs: a.coverageSrs ?? 'EPSG:4326' }, {
        baseDir: process.cwd(),
        fail: (sub, msg) => {
          throw new SeedUsageError(`${sub[0] === 'srs' ? '--coverage-srs' : '--coverage-file'}: ${msg}`);
        },
      });
    } catch (e) {
      if (!(e instanceof EmptyCoverageError)) throw e;
      throw new SeedUsageError(`--coverage-file: ${a.coverageFile} contains no geometries`);
    }
  }
  const cleanup = a.cleanupNames !== undefined;
  if (!cleanup && (a.removeAll || a.removeBefore)) throw new SeedUsageError('--remove-before and --remove-all need --cleanup');
  if (cleanup && a.refreshBefore) throw new SeedUsageError('--refresh-before is for seeding, not --cleanup');
  const now = Date.now() / 1000;
  const refresh = a.refreshBefore !== undefined ? parseBefore(a.refreshBefore, '--refresh-before', now) : undefined;
  const remove = a.removeAll ? 0 : a.removeBefore !== undefined ? parseBefore(a.removeBefore, '--remove-before', now) : now;
  const seeds: SeedTask[] = [];
  const cleanups: CleanupTask[] = [];
  for (const gridName of gridNames) {
    const manager = grids.get(gridName)!;
    const grid = manager.grid;
    let levels: number[];
    try {
      levels = levelsForGrid(levelSpec, grid, gridName);
    } catch (e) {
      throw new SeedUsageError(`--levels: ${(e as Error).message}`);
    }
    let cov: Coverage | false;
    try {
      cov = coverage === undefined ? new BboxCoverage([...grid.bbox] as Bbox, grid.srs) : coverage === false ? false : coverage.transformTo(grid.srs);
    } catch (e) {
      throw new SeedUsageError(`coverage transformation error: ${(e as Error).message}`);
    }
    if (cov && !cov.intersects([...grid.bbox] as Bbox, grid.srs)) throw new SeedUsageError(`the area does not meet grid '${gridName}' (${grid.bbox.join(',')} in ${grid.srs.code})`);
    const base = { name: cleanup ? 'cleanup' : 'seed', cacheName: name, gridName, manager, grid, levels, coverage: cov, completeExtent: coverage === undefined };
    if (cleanup) cleanups.push({ ...base, kind: 'cleanup', removeTimestamp: remove });
    else seeds.push(...splitRescaled({ ...base, kind: 'seed', refreshTimestamp: refresh }));
  }
  return { seeds, cleanups };
}

function srsArg(code: string, what: string) {
  try {
    return getSrs(code);
  } catch (e) {
    throw new SeedUsageError(`${what}: ${(e as Error).message}`);
  }
}

async function askYesNo(io: SeedIo, q: string): Promise<boolean> {
  if (!io.ask) throw new SeedUsageError('-i needs a terminal to ask on');
  for (let i = 0; i < 100; i++) {
    const a = (await io.ask(q)).trim().toLowerCase();
    if (a === 'y' || a === 'yes') return true;
    if (a === 'n' || a === 'no') return false;
  }
  return false;
}

/** Runs the command; returns the exit code. */
export async function runSeed(a: SeedArgs, io: SeedIo): Promise<number> {
  try {
    return await runSeedInner(a, io);
  } catch (e) {
    if (e instanceof SeedUsageError) {
      io.err(`error: ${e.message}\n`);
      return e.code;
    }
    if (e instanceof ConfigError) {
      io.err(`error in configuration: ${e.message.split('\n').join('\n\t')}\n`);
      return 2;
    }
    throw e;
  }
}

async function runSeedInner(a: SeedArgs, io: SeedIo): Promise<number> {
  if (!a.proxyConf) throw new SeedUsageError('missing mapproxy configuration -f/--proxy-conf', 1);
  const quick = a.cache !== undefined;
  if (!quick && !a.seedConf) throw new SeedUsageError('missing seed configuration -s/--seed-conf (or --cache for seeding without a seed.yaml)', 1);
  if (quick && a.seedConf) throw new SeedUsageError('give either -s/--seed-conf or --cache, not both', 1);
  if (!quick) for (const [flag, v] of [['--grid', a.grids?.length ? a.grids : undefined], ['--levels', a.levels], ['--bbox', a.bbox], ['--coverage-file', a.coverageFile], ['--refresh-before', a.refreshBefore], ['--remove-before', a.removeBefore]] as const) if (v !== undefined) throw new SeedUsageError(`${flag} belongs to seeding without a seed.yaml (--cache); with -s put it in seed.yaml`, 1);
  for (const [flag, v] of [['--concurrency', a.concurrency], ['--max-retries', a.maxRetries], ['--retry-delay', a.retryDelay], ['--max-rate', a.maxRate], ['--max-failures', a.maxFailures], ['--skip-geoms-for-last-levels', a.skipGeomsForLastLevels]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new SeedUsageError(`${flag}: expected a number >= 0`);
  }
  if (a.concurrency < 1) throw new SeedUsageError('--concurrency: expected at least 1');
  if (a.logConfig) {
    try {
      applyLogConfig(a.logConfig);
    } catch (e) {
      throw new SeedUsageError(`--log-config: ${(e as Error).message}`);
    }
  }
  const loaded = loadConfig(a.proxyConf);
  // a seed context: seed_only sources are used (MapProxy loads the config with seed=True)
  const proxy = buildProxy(loaded, { seeding: true });
  let seeds: SeedTask[];
  let cleanups: CleanupTask[];
  if (quick) {
    ({ seeds, cleanups } = quickTasks(a, proxy));
  } else {
    if (!fs.existsSync(a.seedConf!)) throw new SeedUsageError(`seed configuration ${a.seedConf} not found`);
    const conf = loadSeedConf(a.seedConf!, proxy);
    let seedNames: string[] | undefined = [];
    let cleanupNames: string[] | undefined = [];
    const s = splitNames(a.seedNames);
    const c = splitNames(a.cleanupNames);
    if (s) {
      if (s.length === 1 && s[0] === 'ALL') seedNames = undefined;
      else {
        const missing = s.filter((n) => !conf.seedNames.includes(n));
        if (missing.length) throw new SeedUsageError(`unknown seed tasks: ${missing.join(', ')} (available: ${conf.seedNames.join(', ') || 'none'})`, 1);
        seedNames = s;
      }
    } else if (!c) seedNames = undefined;
    if (c) {
      if (c.length === 1 && c[0] === 'ALL') cleanupNames = undefined;
      else {
        const missing = c.filter((n) => !conf.cleanupNames.includes(n));
        if (missing.length) throw new SeedUsageError(`unknown cleanup tasks: ${missing.join(', ')} (available: ${conf.cleanupNames.join(', ') || 'none'})`, 1);
        cleanupNames = c;
      }
    } else if (!s) cleanupNames = undefined;
    seeds = seedNames && !seedNames.length ? [] : conf.seeds(seedNames);
    cleanups = cleanupNames && !cleanupNames.length ? [] : conf.cleanups(cleanupNames);
  }

  if (a.summary) {
    io.out('========== Seeding tasks ==========\n');
    for (const t of seeds) io.out(`${describeTask(t)}\n`);
    io.out('========== Cleanup tasks ==========\n');
    for (const t of cleanups) io.out(`${describeTask(t)}\n`);
    return 0;
  }

  const quiet = !io.tty && a.quiet === 0 ? 1 : a.quiet;
  let progress: ProgressStore | undefined;
  if (a.continueSeed || a.progressFile) {
    a.progressFile ??= '.mapproxy_seed_progress';
    progress = new ProgressStore(a.progressFile, a.continueSeed);
    if (progress.ignored) io.err(`${progress.ignored}\n`);
  }
  if (a.reseedFile) {
    if (!fs.existsSync(a.reseedFile)) {
      fs.mkdirSync(path.dirname(path.resolve(a.reseedFile)), { recursive: true });
      fs.writeFileSync(a.reseedFile, '');
    } else if (progress && !fs.existsSync(a.progressFile!)) {
      // the last run finished (no progress file left): reseed only after the interval
      if (a.reseedInterval !== undefined && fs.statSync(a.reseedFile).mtimeMs / 1000 > Date.now() / 1000 - a.reseedInterval) {
        io.out('no need for re-seeding\n');
        return 1;
      }
      const now = new Date();
      fs.utimesSync(a.reseedFile, now, now);
    }
  }

  if (a.interactive) {
    const pickedSeeds: SeedTask[] = [];
    io.out('========== Select seeding tasks ==========\n');
    for (const t of seeds) {
      io.out(`${describeTask(t)}\n`);
      if (await askYesNo(io, '    Seed this task (y/n)? ')) pickedSeeds.push(t);
    }
    const pickedCleanups: CleanupTask[] = [];
    io.out('========== Select cleanup tasks ==========\n');
    for (const t of cleanups) {
      io.out(`${describeTask(t)}\n`);
      if (await askYesNo(io, '    Cleanup this task (y/n)? ')) pickedCleanups.push(t);
    }
    seeds = pickedSeeds;
    cleanups = pickedCleanups;
  }

  const stop = new StopSignal();
  let interrupts = 0;
  const removeInterrupt = io.onInterrupt?.(() => {
    interrupts++;
    if (interrupts > 1) process.exit(2);
    io.err('\nstopping after the running tiles (Ctrl-C again to quit now)...\n');
    stop.stop('interrupt');
  });
  const durationTimer = a.duration !== undefined ? setTimeout(() => stop.stop('duration'), a.duration * 1000) : undefined;
  const output = new ProgressOutput({ quiet, tty: io.tty, out: io.out, logInterval: 60 });
  const opts: RunOptions = {
    concurrency: a.concurrency,
    dryRun: a.dryRun,
    skipGeomsForLastLevels: a.skipGeomsForLastLevels,
    skipUncached: a.skipUncached,
    maxRetries: a.maxRetries,
    retryDelay: a.retryDelay,
    maxRetryDelay: 60,
    maxRate: a.maxRate,
    maxConsecutiveFailures: a.maxFailures > 0 ? a.maxFailures : Infinity,
    progressStore: progress,
    output,
    stop,
    countSeconds: quiet >= 2 ? 0 : 3,
  };
  const results: TaskResult[] = [];
  const lock = a.useCacheLock ? new CacheLock('.mapproxy_seed.lck') : undefined;
  if (a.processes && a.processes > 0 && !a.dryRun && seeds.length) {
    if (!Number.isInteger(a.processes)) throw new SeedUsageError('--processes: expected a whole number');
    opts.processes = new SeedProcesses({ command: selfCommand(), config: path.resolve(a.proxyConf), count: a.processes, upstreamRequests: a.concurrency });
  }
  try {
    if (seeds.length) {
      io.out('========== Seeding tasks ==========\n');
      io.out(`Start seeding process (${seeds.length} task${seeds.length > 1 ? 's' : ''})\n`);
      await runTasks(seeds, opts, io, lock, results);
    }
    if (cleanups.length && !stop.stopped) {
      io.out('========== Cleanup tasks ==========\n');
      io.out(`Start cleanup process (${cleanups.length} task${cleanups.length > 1 ? 's' : ''})\n`);
      await runTasks(cleanups, opts, io, lock, results);
    }
  } finally {
    if (durationTimer) clearTimeout(durationTimer);
    // the workers finish the meta tiles they have, so none is left half-written
    await opts.processes?.close();
    removeInterrupt?.();
  }
  printSummary(results, io, opts.dryRun);
  const failed = results.reduce((n, r) => n + r.failed.length, 0);
  if (stop.reason === 'interrupt') {
    io.out('\nexiting...\n');
    return 2;
  }
  if (stop.reason === 'failures') {
    io.err(`interrupted: ${opts.maxConsecutiveFailures} meta tiles in a row failed; continue with --continue once the source works again\n`);
    return 3;
  }
  if (stop.reason === 'duration') {
    io.out(`stopped after --duration ${formatDuration(a.duration!)}${progress ? '; the next run with --continue goes on from here' : ''}\n`);
    return failed ? 3 : 0;
  }
  if (progress && !a.dryRun && !failed) progress.remove();
  return failed ? 3 : 0;
}

/** Runs tasks in order; with --use-cache-lock a task whose cache another seed holds goes to the back of the queue. */
async function runTasks(tasks: Task[], opts: RunOptions, io: SeedIo, lock: CacheLock | undefined, results: TaskResult[]): Promise<void> {
  const queue = [...tasks];
  let deferrals = 0;
  while (queue.length && !opts.stop.stopped) {
    const t = queue.shift()!;
    io.out(`${describeTask(t)}\n`);
    const wait = queue.length === 0;
    let held: { release(): void } | undefined;
    if (lock) {
      held = await lock.acquire(t.cacheName, { wait, stopped: () => opts.stop.stopped });
      if (!held) {
        if (opts.stop.stopped) break;
        io.out('    ...cache is locked, skipping\n');
        queue.push(t);
        // every other task was tried: wait for this one
        if (++deferrals > 10_000) break;
        continue;
      }
    }
    try {
      results.push(t.kind === 'seed' ? await seedTask(t, opts) : await cleanupTask(t, opts));
    } finally {
      held?.release();
    }
  }
}

function printSummary(results: TaskResult[], io: SeedIo, dryRun: boolean): void {
  if (!results.length) return;
  io.out('========== Summary ==========\n');
  for (const r of results) {
    const verb = r.task.kind === 'seed' ? (dryRun ? 'would seed' : 'seeded') : dryRun ? 'would remove' : 'removed';
    const levels = [...r.perLevel.entries()].sort((x, y) => x[0] - y[0]).map(([l, n]) => `${l}:${n}`).join(' ');
    const rate = r.seconds > 0 ? r.tiles / r.seconds : 0;
    io.out(`  ${r.task.name} ${r.task.cacheName}/${r.task.gridName}: ${verb} ${r.tiles} tiles in ${r.seconds.toFixed(1)} s (${rate.toFixed(1)} tiles/s)${levels ? ` levels ${levels}` : ''}${r.failed.length ? `, ${r.failed.length} failed` : ''}${r.stopped ? `, stopped (${r.stopped})` : ''}\n`);
  }
  const failed = results.flatMap((r) => r.failed.map((f) => ({ r, f })));
  if (failed.length) {
    io.err(`${failed.length} tile${failed.length > 1 ? 's' : ''} failed after every retry (x/y/z, cache/grid):\n`);
    for (const { r, f } of failed.slice(0, 1000)) io.err(`  ${f.coord.join('/')} ${r.task.cacheName}/${r.task.gridName}: ${f.error}\n`);
    if (failed.length > 1000) io.err(`  ... and ${failed.length - 1000} more\n`);
  }
}

/** Standard streams, Ctrl-C and a readline prompt for the CLI. */
export function processIo(): SeedIo {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
    tty: process.stdout.isTTY === true,
    ask: (q) =>
      new Promise((resolve) => {
        const rl = readline.createInterface({ input: process.stdin, output: process.stdout });
        rl.question(q, (answer) => {
          rl.close();
          resolve(answer);
        });
        rl.on('close', () => resolve('n'));
      }),
    onInterrupt: (fn) => {
      process.on('SIGINT', fn);
      process.on('SIGTERM', fn);
      return () => {
        process.off('SIGINT', fn);
        process.off('SIGTERM', fn);
      };
    },
  };
}
