/**
 * `mapproxy cache-clean`: remove tiles of a file cache by age (--max-age,
 * --before), all of them (--all) or the least recently used ones until the
 * cache fits a size (--max-size), limited to grids, levels and a coverage.
 * Like MapProxy's cleanup_directory (mapproxy/util/fs.py) it compares the
 * lstat mtime (strictly older) and removes directories left empty.
 *
 * Every option is checked before the first file is touched: bad input is a
 * UsageError and nothing is removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadConfig } from '../config/loader.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import { ConfigError, SrsError } from '../errors.ts';
import { BboxCoverage, type Coverage } from '../geo/coverage.ts';
import type { TileCoord, TileGrid } from '../grid/tile-grid.ts';
import { getSrs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import {
  cacheTargets,
  countLinkRefs,
  hasLevelDirs,
  humanBytes,
  levelsOutside,
  parseLevels,
  SINGLE_COLOR_DIR,
  UsageError,
  walkTiles,
  type CacheTarget,
  type LevelFilter,
  type SharedTile,
  type TileFile,
} from './tile-files.ts';

/** What to clean, as the command line gives it (strings are parsed and checked here). */
export interface CleanOptions {
  cache: string;
  grid?: string;
  /** `0-10`, `3,5,7` ... */
  levels?: string;
  /** `30d`, `12h`, `1w2d`, `90m`, `45s`; a bare number is days. */
  maxAge?: string;
  /** ISO date or time, local unless it names a zone: `2026-01-01`, `2026-01-01T00:00`, `2026-01-01T00:00:00Z`. */
  before?: string;
  all?: boolean;
  /** `20G`, `500M`, `1.5T`, `4096` (bytes); binary units. */
  maxSize?: string;
  /** `minx,miny,maxx,maxy` or a coverage file (GeoJSON, shapefile ... as load-coverage reads). */
  coverage?: string;
  /** SRS of --coverage (default EPSG:4326). */
  coverageSrs?: string;
  dryRun?: boolean;
  /** Seconds since the epoch that --max-age counts from (default: now). */
  now?: number;
  /** Directory relative coverage files are read from (default: the working directory). */
  baseDir?: string;
}

/** Counts of tiles or files and their bytes. */
export interface Amount {
  tiles: number;
  bytes: number;
  /** Disk usage (st_blocks * 512). */
  disk: number;
}

/** The outcome for one cache directory. */
export interface CleanTargetResult {
  cache: string;
  grids: string[];
  dir: string;
  removed: Amount;
  /** Tiles in scope (grid, levels, coverage) that stay. */
  kept: Amount;
  /** single_color_tiles/ files removed because no tile links to them any more (tiles = files). */
  sharedRemoved: Amount;
}

/** The outcome of a clean; errors are files that could not be removed (the rest went on). */
export interface CleanResult {
  dryRun: boolean;
  targets: CleanTargetResult[];
  removed: Amount;
  sharedRemoved: Amount;
  kept: Amount;
  errors: string[];
}

/** A checked clean: everything parsed and resolved, nothing touched yet. */
export interface CleanPlan {
  targets: CacheTarget[];
  levels?: Set<number>;
  /** Tiles with an mtime strictly before this (seconds) are removed. */
  before?: number;
  all: boolean;
  /** Budget in disk bytes. */
  maxSize?: number;
  coverage?: Coverage;
  dryRun: boolean;
}

const AGE_UNITS: Record<string, number> = { w: 604800, d: 86400, h: 3600, m: 60, s: 1 };

/** Seconds of a --max-age value: `30d`, `12h`, `1w2d`, `90m`, `45s`; a bare number is days. */
export function parseMaxAge(v: string): number {
  const s = v.trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 86400;
  if (!/^(\d+(\.\d+)?[wdhms])+$/.test(s)) throw new UsageError(`invalid --max-age '${v}' (expected e.g. 30d, 12h, 1w2d or a number of days)`);
  let sec = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)([wdhms])/g)) sec += Number(m[1]) * AGE_UNITS[m[2]];
  return sec;
}

/** Seconds since the epoch of a --before value (ISO date or time; local time unless Z or an offset is given). */
export function parseBefore(v: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(v.trim());
  const bad = () => new UsageError(`invalid --before '${v}' (expected an ISO date or time like 2026-01-01 or 2026-01-01T00:00)`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number);
  const frac = m[7] ? Number(`0.${m[7]}`) : 0;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) throw bad();
  let ms: number;
  if (m[8]) {
    const utc = Date.UTC(y, mo - 1, d, h, mi, s);
    let offset = 0;
    if (m[8] !== 'Z') {
      const z = /^([+-])(\d{2}):?(\d{2})$/.exec(m[8])!;
      offset = (Number(z[2]) * 60 + Number(z[3])) * (z[1] === '-' ? -1 : 1);
    }
    ms = utc - offset * 60000;
  } else {
    ms = new Date(y, mo - 1, d, h, mi, s).getTime();
  }
  // Date rolls 2026-02-30 over into March: such a date does not exist
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCMonth() !== mo - 1 || !Number.isFinite(ms)) throw bad();
  return ms / 1000 + frac;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Bytes of a --max-size value: `20G`, `500M`, `1.5T`, `20GiB`, `4096` (binary units, as du). */
export function parseSize(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(?:i?b)?$/i.exec(v.trim());
  if (!m) throw new UsageError(`invalid --max-size '${v}' (expected e.g. 20G, 500M or a number of bytes)`);
  return Math.floor(Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()]);
}

/** minx,miny,maxx,maxy; a UsageError when it is not four numbers in order. */
export function parseBboxArg(v: string): Bbox {
  const parts = v.split(',').map((p) => p.trim());
  const nums = parts.map(Number);
  if (parts.length !== 4 || parts.some((p) => p === '') || nums.some((n) => !Number.isFinite(n))) {
    throw new UsageError(`invalid --coverage bbox '${v}' (expected minx,miny,maxx,maxy)`);
  }
  if (nums[0] >= nums[2] || nums[1] >= nums[3]) throw new UsageError(`invalid --coverage bbox '${v}': min is not below max (inverted or empty bbox)`);
  return nums as Bbox;
}

/** The coverage of --coverage: a bbox, or a file read by load-coverage (loaded only when a file is given). */
async function resolveCoverage(arg: string, srsCode: string, baseDir: string): Promise<Coverage> {
  let srs;
  try {
    srs = getSrs(srsCode);
  } catch (e) {
    if (e instanceof SrsError || e instanceof Error) throw new UsageError(`invalid --coverage-srs '${srsCode}': ${e.message}`);
    throw e;
  }
  const file = path.resolve(baseDir, arg);
  const looksLikeBbox = arg.includes(',') && !fs.existsSync(file);
  if (looksLikeBbox) return new BboxCoverage(parseBboxArg(arg), srs);
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (e) {
    throw new UsageError(`cannot read coverage file ${arg}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  // the file readers are only needed here: keep them out of every other run
  const { loadCoverage, EmptyCoverageError } = await import('../geo/load-coverage.ts');
  const fail = (sub: readonly (string | number)[], message: string): never => {
    throw new UsageError(`coverage file ${arg}${sub.length ? ` (${sub.join('.')})` : ''}: ${message}`);
  };
  try {
    return loadCoverage({ datasource: file, srs: srsCode }, { baseDir, fail });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    if (e instanceof EmptyCoverageError) throw new UsageError(`coverage file ${arg} has no geometry`);
    if (e instanceof ConfigError || e instanceof SrsError) throw new UsageError(`coverage file ${arg}: ${e.message}`);
    throw new UsageError(`cannot read coverage file ${arg}: ${(e as Error).message}`);
  }
}

/** Checks every option against the config; throws UsageError before anything is removed. */
export async function planClean(proxy: Proxy, opts: CleanOptions): Promise<CleanPlan> {
  const targets = cacheTargets(proxy, opts.cache, opts.grid);
  const given = [opts.maxAge !== undefined && '--max-age', opts.before !== undefined && '--before', opts.all === true && '--all', opts.maxSize !== undefined && '--max-size'].filter(Boolean);
  if (!given.length) throw new UsageError('nothing to clean by: give --max-age, --before, --all or --max-size');
  if (opts.maxAge !== undefined && opts.before !== undefined) throw new UsageError('give either --max-age or --before, not both');
  if (opts.all && given.length > 1) throw new UsageError(`--all removes every selected tile and cannot be combined with ${given.filter((g) => g !== '--all').join(', ')}`);
  const now = opts.now ?? Date.now() / 1000;
  let before: number | undefined;
  if (opts.maxAge !== undefined) before = now - parseMaxAge(opts.maxAge);
  if (opts.before !== undefined) before = parseBefore(opts.before);
  const maxSize = opts.maxSize !== undefined ? parseSize(opts.maxSize) : undefined;
  let levels: Set<number> | undefined;
  if (opts.levels !== undefined) {
    levels = parseLevels(opts.levels);
    for (const t of targets) {
      const msg = levelsOutside(levels, t.grid, t.grids[0]);
      if (msg) throw new UsageError(msg);
    }
  }
  if (opts.coverageSrs !== undefined && opts.coverage === undefined) throw new UsageError('--coverage-srs needs --coverage');
  const coverage = opts.coverage !== undefined ? await resolveCoverage(opts.coverage, opts.coverageSrs ?? 'EPSG:4326', opts.baseDir ?? process.cwd()) : undefined;
  return { targets, levels, before, all: opts.all === true, maxSize, coverage, dryRun: opts.dryRun === true };
}

/** Checks the options, then cleans; a UsageError leaves every file as it was. */
export async function cleanCache(proxy: Proxy, opts: CleanOptions): Promise<CleanResult> {
  return await runClean(await planClean(proxy, opts));
}

const zero = (): Amount => ({ tiles: 0, bytes: 0, disk: 0 });
const add = (a: Amount, tiles: number, bytes: number, disk: number) => {
  a.tiles += tiles;
  a.bytes += bytes;
  a.disk += disk;
};
const MAX_ERRORS = 20;
/** Tiles removed per batch (bounds memory; directories emptied by a batch go after it). */
const BATCH = 4096;
/** Unlinks in flight at once (measured: 16-32 about halve the time of one at a time on ext4). */
const CONCURRENT_UNLINKS = 32;

/** Runs a checked plan. */
export async function runClean(plan: CleanPlan): Promise<CleanResult> {
  const result: CleanResult = { dryRun: plan.dryRun, targets: [], removed: zero(), sharedRemoved: zero(), kept: zero(), errors: [] };
  for (const target of plan.targets) {
    const r = await new TargetCleaner(target, plan, result.errors).run();
    result.targets.push(r);
    add(result.removed, r.removed.tiles, r.removed.bytes, r.removed.disk);
    add(result.sharedRemoved, r.sharedRemoved.tiles, r.sharedRemoved.bytes, r.sharedRemoved.disk);
    add(result.kept, r.kept.tiles, r.kept.bytes, r.kept.disk);
  }
  return result;
}

/** Least-recently-used time: the access time where the file system keeps it, else the mtime (a tile is not used before it is written). */
export function lruTime(t: { atime: number; mtime: number }): number {
  return t.atime > t.mtime ? t.atime : t.mtime;
}

type Decide = (t: TileFile) => boolean;

class TargetCleaner {
  private readonly root: string;
  private readonly accept: ((c: TileCoord) => boolean) | undefined;
  private readonly result: CleanTargetResult;

  constructor(
    private readonly t: CacheTarget,
    private readonly plan: CleanPlan,
    private readonly errors: string[],
  ) {
    this.root = path.resolve(t.dir);
    this.accept = plan.coverage ? coverageFilter(plan.coverage, t.grid) : undefined;
    this.result = { cache: t.cache, grids: t.grids, dir: t.dir, removed: zero(), kept: zero(), sharedRemoved: zero() };
  }

  async run(): Promise<CleanTargetResult> {
    if (!fs.existsSync(this.root)) return this.result;
    const { plan } = this;
    const old = plan.before;
    const byAge: Decide = plan.all ? () => true : old !== undefined ? (t) => t.mtime < old : () => false;
    if (plan.maxSize === undefined) {
      await this.removeWhere(byAge);
    } else {
      const { cutoff, ties } = this.lruCutoff(byAge, plan.maxSize);
      let left = ties;
      await this.removeWhere((t) => {
        if (byAge(t)) return true;
        const lru = lruTime(t);
        if (lru < cutoff) return true;
        if (lru === cutoff && left > 0) {
          left--;
          return true;
        }
        return false;
      });
    }
    return this.result;
  }

  private walk(shared: Map<string, SharedTile>, afterDir?: (dir: string) => void): Generator<TileFile> {
    return walkTiles(this.root, this.t.layout, this.t.ext, { levels: this.plan.levels, accept: this.accept, shared, afterDir });
  }

  /**
   * Adds the symlinks the walk did not see (levels left out by directory) to
   * the reference counts, so that no single-colour file still linked from
   * elsewhere counts as orphaned. Only needed when some file has no known reference.
   */
  private completeRefs(shared: Map<string, SharedTile>): void {
    const levels = this.plan.levels;
    if (!levels || !hasLevelDirs(this.t.layout)) return;
    if (![...shared.values()].some(orphaned)) return;
    const others: LevelFilter = { has: (z) => !levels.has(z) };
    countLinkRefs(this.root, this.t.layout, this.t.ext, shared, others);
  }

  /**
   * One walk: removes (or in a dry run counts) the tiles `decide` picks,
   * then the directories left empty and the single-colour files no tile
   * links to any more. Removals run in batches, CONCURRENT_UNLINKS at a time:
   * on a real disk an unlink waits for the file system, and overlapping them
   * about halves the time; directories are removed after their batch.
   */
  private async removeWhere(decide: Decide): Promise<void> {
    const { result, plan } = this;
    const shared = new Map<string, SharedTile>();
    const batch: TileFile[] = [];
    // directories left (post-order) with something removed below them: only those can have become empty
    const dirty = new Set<string>();
    const emptyCandidates: string[] = [];
    const afterDir = plan.dryRun
      ? undefined
      : (dir: string) => {
          if (!dirty.delete(dir)) return;
          emptyCandidates.push(dir);
          dirty.add(path.dirname(dir));
        };
    const flush = async () => {
      const ok = await this.unlinkAll(batch.map((t) => t.path));
      batch.forEach((t, i) => (ok[i] ? this.counted(t) : add(result.kept, 1, t.size, t.disk)));
      batch.length = 0;
      // in walk (post-order) order: children before their parents
      for (const dir of emptyCandidates) this.rmdir(dir);
      emptyCandidates.length = 0;
    };
    for (const t of this.walk(shared, afterDir)) {
      if (!decide(t)) {
        add(result.kept, 1, t.size, t.disk);
        continue;
      }
      if (plan.dryRun) {
        this.counted(t);
        continue;
      }
      batch.push(t);
      dirty.add(path.dirname(t.path));
      if (batch.length >= BATCH || emptyCandidates.length >= BATCH) await flush();
    }
    await flush();
    this.completeRefs(shared);
    const emptied = new Set<string>();
    for (const s of shared.values()) {
      if (!orphaned(s)) continue;
      if (!plan.dryRun && !this.unlink(s.path)) continue;
      add(result.sharedRemoved, 1, s.size, s.disk);
      emptied.add(path.dirname(s.path));
    }
    if (!plan.dryRun) {
      for (const dir of emptied) {
        // single_color_tiles/, then a dimension directory it leaves empty (never the cache directory)
        if (this.rmdir(dir)) this.rmdir(path.dirname(dir));
      }
    }
  }

  /** Counts a removed tile; a link gives up its reference to the single-colour file. */
  private counted(t: TileFile): void {
    add(this.result.removed, 1, t.size, t.disk);
    if (t.shared) {
      if (t.symlink) t.shared.refs--;
      else t.shared.nlink--;
    }
  }

  /**
   * First pass of --max-size: which tiles to evict, least recently used
   * first (after those the age criterion removes anyway), until the disk
   * usage of the tiles in scope and their single-colour files fits. Returns
   * the LRU time of the last evicted tile and how many evicted tiles share
   * exactly that time (they go in walk order).
   */
  private lruCutoff(byAge: Decide, maxSize: number): { cutoff: number; ties: number } {
    const shared = new Map<string, SharedTile>();
    const lru: number[] = [];
    const disk: number[] = [];
    const forced: boolean[] = [];
    const sharedOf: (SharedTile | undefined)[] = [];
    const viaSymlink: boolean[] = [];
    let total = 0;
    for (const t of this.walk(shared)) {
      lru.push(lruTime(t));
      disk.push(t.disk);
      forced.push(byAge(t));
      sharedOf.push(t.shared);
      viaSymlink.push(t.symlink);
      total += t.disk;
    }
    this.completeRefs(shared);
    // simulated reference counts: a single-colour file frees its space with its last link
    const refs = new Map<SharedTile, { refs: number; nlink: number }>();
    let freed = 0;
    for (const s of shared.values()) {
      total += s.disk;
      refs.set(s, { refs: s.refs, nlink: s.nlink });
      if (orphaned(s)) freed += s.disk;
    }
    const order = Array.from(lru.keys());
    order.sort((a, b) => (forced[a] !== forced[b] ? (forced[a] ? -1 : 1) : lru[a] - lru[b] || a - b));
    let cutoff = -Infinity;
    let ties = 0;
    for (const i of order) {
      if (!forced[i]) {
        if (total - freed <= maxSize) break;
        if (lru[i] === cutoff) ties++;
        else {
          cutoff = lru[i];
          ties = 1;
        }
      }
      freed += disk[i];
      const s = sharedOf[i];
      if (s) {
        const c = refs.get(s)!;
        const wasOrphan = c.refs <= 0 && c.nlink <= 1;
        if (viaSymlink[i]) c.refs--;
        else c.nlink--;
        if (!wasOrphan && c.refs <= 0 && c.nlink <= 1) freed += s.disk;
      }
    }
    return { cutoff, ties };
  }

  /** Removes a file below the cache directory; false (and an error noted) when that fails. */
  private unlink(p: string): boolean {
    if (!this.inside(p)) return false;
    try {
      fs.unlinkSync(p);
      return true;
    } catch (e) {
      return this.unlinkFailed(p, e);
    }
  }

  /** unlink for many files, CONCURRENT_UNLINKS at a time; true for each file that is gone. */
  private async unlinkAll(paths: readonly string[]): Promise<boolean[]> {
    const ok: boolean[] = new Array(paths.length).fill(false);
    let next = 0;
    const worker = async () => {
      while (next < paths.length) {
        const i = next++;
        const p = paths[i];
        if (!this.inside(p)) continue;
        try {
          await fs.promises.unlink(p);
          ok[i] = true;
        } catch (e) {
          ok[i] = this.unlinkFailed(p, e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_UNLINKS, paths.length) }, worker));
    return ok;
  }

  private inside(p: string): boolean {
    if (p.startsWith(this.root + path.sep)) return true;
    this.error(`refusing to remove ${p}: outside ${this.root}`);
    return false;
  }

  /** ENOENT: removed meanwhile (a concurrent clean), gone is what we wanted. Anything else is noted. */
  private unlinkFailed(p: string, e: unknown): boolean {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    this.error(`cannot remove ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    return false;
  }

  /** Removes an empty directory strictly below the cache directory; true when it went. */
  private rmdir(dir: string): boolean {
    if (!dir.startsWith(this.root + path.sep)) return false;
    try {
      fs.rmdirSync(dir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'ENOENT') return false;
      this.error(`cannot remove directory ${dir}: ${code ?? (e as Error).message}`);
      return false;
    }
  }

  private error(msg: string): void {
    if (this.errors.length < MAX_ERRORS) this.errors.push(msg);
    else if (this.errors.length === MAX_ERRORS) this.errors.push('... further errors not shown');
  }
}

/** A single-colour file no tile links to any more. */
function orphaned(s: SharedTile): boolean {
  return s.refs <= 0 && s.nlink <= 1;
}

/** Tiles whose bbox (in the grid's SRS) the coverage intersects; tiles of levels the grid lacks cannot be placed and stay. */
function coverageFilter(coverage: Coverage, grid: TileGrid): (c: TileCoord) => boolean {
  const cov = coverage.transformTo(grid.srs);
  return (c) => c[2] < grid.levels && cov.intersects(grid.tileBbox(c), grid.srs);
}

/** Options of the command (config file plus CleanOptions). */
export interface CacheCleanCommand extends CleanOptions {
  config?: string;
}

const amount = (a: Amount, what = 'tiles') => `${a.tiles} ${what} (${humanBytes(a.bytes)}, ${humanBytes(a.disk)} on disk)`;

/** One summary line of a target. */
function summary(r: { removed: Amount; kept: Amount; sharedRemoved: Amount }, dryRun: boolean): string {
  let s = `${dryRun ? 'would remove' : 'removed'} ${amount(r.removed)}`;
  if (r.sharedRemoved.tiles) s += ` and ${amount(r.sharedRemoved, 'unused single-colour files')}`;
  return `${s}, kept ${amount(r.kept)}`;
}

/** The command: prints what was removed; returns the exit code (2 bad input, 1 files that could not be removed). */
export async function runCacheClean(opts: CacheCleanCommand): Promise<number> {
  if (!opts.config) {
    console.error('error: missing mapproxy configuration (-f mapproxy.yaml)');
    return 2;
  }
  let result: CleanResult;
  try {
    const proxy = buildProxy(loadConfig(opts.config));
    result = await cleanCache(proxy, opts);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  for (const t of result.targets) console.log(`${t.cache} (${t.grids.join(', ')}) ${t.dir}: ${summary(t, result.dryRun)}`);
  if (result.targets.length > 1) console.log(`total: ${summary(result, result.dryRun)}`);
  for (const e of result.errors) console.error(`error: ${e}`);
  return result.errors.length ? 1 : 0;
}
