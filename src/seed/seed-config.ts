/**
 * seed.yaml as mapproxy-seed reads it (mapproxy/seed/config.py): seeds and
 * cleanups over caches x grids, limited to levels and coverages, turned into
 * one task per cache and grid. Every bad value is a ConfigError naming the
 * file, line and key; MapProxy's removed legacy format (`views:`) is refused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configErrorAt, loadConfig, type LoadedConfig } from '../config/loader.ts';
import type { PathSegment } from '../config/positions.ts';
import { seedSpec } from '../config/spec.ts';
import { throwIfErrors, validateSpec } from '../config/validate.ts';
import { formatWarning } from '../config/warnings.ts';
import { parseLocalTime } from '../cache/cache-options.ts';
import type { TileManager } from '../cache/tile-manager.ts';
import type { Proxy } from '../core/build-proxy.ts';
import { BboxCoverage, MultiCoverage, type Coverage } from '../geo/coverage.ts';
import { EmptyCoverageError, loadCoverage } from '../geo/load-coverage.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import type { Bbox } from '../srs/types.ts';
import { getLogger } from '../log/logger.ts';

const log = getLogger('mapproxy.seed.config');

type Dict = Record<string, unknown>;

/** What seeds and cleanups share. */
export interface TaskBase {
  /** Name of the seed or cleanup in seed.yaml. */
  name: string;
  cacheName: string;
  gridName: string;
  manager: TileManager;
  grid: TileGrid;
  /** Levels to work on, ascending (descending for downscale_tiles caches, one level per task). */
  levels: number[];
  /** The area in the grid's SRS; false when the configured coverage is empty (the task is skipped). */
  coverage: Coverage | false;
  /** True when no coverage was configured: the whole grid. */
  completeExtent: boolean;
}

/** One cache x grid of a seed. */
export interface SeedTask extends TaskBase {
  kind: 'seed';
  /** refresh_before as a timestamp (seconds): tiles at or before it are made again; undefined = keep all. */
  refreshTimestamp: number | undefined;
}

/** One cache x grid of a cleanup. */
export interface CleanupTask extends TaskBase {
  kind: 'cleanup';
  /** Tiles at or before this timestamp are removed; 0 = all (remove_all). */
  removeTimestamp: number;
}

/** Any task. */
export type Task = SeedTask | CleanupTask;

/** Stable identity of a task for the progress file (as MapProxy's task.id). */
export function taskId(t: Task): string {
  return t.kind === 'seed' ? JSON.stringify([t.name, t.cacheName, t.gridName, t.levels]) : JSON.stringify(['cleanup', t.name, t.cacheName, t.gridName]);
}

/** A loaded seed.yaml. */
export interface SeedingConf {
  seedNames: string[];
  cleanupNames: string[];
  /** Tasks of the named seeds (all when names is undefined). */
  seeds(names?: readonly string[]): SeedTask[];
  cleanups(names?: readonly string[]): CleanupTask[];
  /** A coverage of the coverages section (false when its geometry is empty); unknown names are a ConfigError. */
  coverage(name: string): Coverage | false;
}

/** Levels as a seed asks for them, before they meet a grid. */
export type LevelSpec =
  | { kind: 'list'; levels: number[] }
  | { kind: 'range'; from?: number; to?: number }
  | { kind: 'resList'; res: number[] }
  | { kind: 'resRange'; from?: number; to?: number };

/**
 * The levels of `spec` in `grid`. Levels the grid does not have are an error
 * (MapProxy drops them silently, which hides typos in cron jobs).
 */
export function levelsForGrid(spec: LevelSpec | undefined, grid: TileGrid, gridName: string): number[] {
  const max = grid.levels - 1;
  const outside = (ls: number[]) => {
    const bad = ls.filter((l) => !Number.isInteger(l) || l < 0 || l > max);
    if (bad.length) throw new Error(`level${bad.length > 1 ? 's' : ''} ${bad.join(', ')} outside grid '${gridName}' (levels 0-${max})`);
  };
  if (!spec) return range(0, max);
  switch (spec.kind) {
    case 'list':
      outside(spec.levels);
      return [...new Set(spec.levels)].sort((a, b) => a - b);
    case 'range': {
      const from = spec.from ?? 0;
      const to = spec.to ?? max;
      outside([from, to]);
      if (from > to) throw new Error(`levels from ${from} to ${to}: from is above to`);
      return range(from, to);
    }
    case 'resList':
      return [...new Set(spec.res.map((r) => grid.closestLevel(r)))].sort((a, b) => a - b);
    case 'resRange': {
      const from = spec.from === undefined ? 0 : grid.closestLevel(spec.from);
      const to = spec.to === undefined ? max : grid.closestLevel(spec.to);
      return range(from, to);
    }
  }
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

/** `0-10`, `5`, `3,5,7` or `0-3,8` (command line levels). */
export function parseLevelsArg(v: string): LevelSpec {
  const levels: number[] = [];
  for (const part of v.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw new Error(`invalid levels '${v}' (expected e.g. 0-10 or 3,5,7)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new Error(`invalid levels '${part.trim()}': ${a} is above ${b}`);
    if (b - a > 64) throw new Error(`invalid levels '${part.trim()}': too many levels`);
    for (let l = a; l <= b; l++) levels.push(l);
  }
  return { kind: 'list', levels };
}

/**
 * MapProxy's before_timestamp_from_options, evaluated once: `time` (local
 * ISO time), `mtime` (of a file, which must exist) or weeks/days/hours/minutes/seconds before now.
 */
export function beforeTimestamp(conf: Dict, baseDir: string, fail: (sub: PathSegment[], msg: string) => never, now = Date.now() / 1000): number {
  if (conf.time != null) {
    const raw = conf.time instanceof Date ? conf.time.toISOString() : String(conf.time);
    const t = conf.time instanceof Date ? Math.trunc(conf.time.getTime() / 1000) : parseLocalTime(raw);
    if (t === undefined) fail(['time'], `can't parse time '${raw}'; expected an ISO time like 2026-01-01T00:00:00`);
    return t;
  }
  if (conf.mtime != null) {
    const file = path.resolve(baseDir, String(conf.mtime));
    try {
      return fs.statSync(file).mtimeMs / 1000;
    } catch (e) {
      fail(['mtime'], `can't read the modification time of ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const units: [string, number][] = [['weeks', 604800], ['days', 86400], ['hours', 3600], ['minutes', 60], ['seconds', 1]];
  let delta = 0;
  for (const [k, f] of units) {
    if (conf[k] == null) continue;
    const v = Number(conf[k]);
    if (!Number.isFinite(v)) fail([k], 'expected a number');
    delta += v * f;
  }
  return now - delta;
}

function levelSpecFromConf(conf: Dict, fail: (sub: PathSegment[], msg: string) => never): LevelSpec | undefined {
  const levels = conf.levels;
  if (levels != null) {
    if (Array.isArray(levels)) {
      if (!levels.length) return undefined;
      return { kind: 'list', levels: levels.map(Number) };
    }
    const d = levels as Dict;
    const from = d.from == null ? undefined : Number(d.from);
    const to = d.to == null ? undefined : Number(d.to);
    if (from !== undefined && to !== undefined && from > to) fail(['levels'], `from ${from} is above to ${to}`);
    return { kind: 'range', from, to };
  }
  const res = conf.resolutions;
  if (res != null) {
    if (Array.isArray(res)) return res.length ? { kind: 'resList', res: res.map(Number) } : undefined;
    const d = res as Dict;
    return { kind: 'resRange', from: d.from == null ? undefined : Number(d.from), to: d.to == null ? undefined : Number(d.to) };
  }
  return undefined;
}

/** What a seed or cleanup section needs from the proxy, resolved. */
interface Resolved {
  caches: Map<string, Map<string, TileManager>>;
  grids: string[];
  coverage: Coverage | false | undefined;
  levels: LevelSpec | undefined;
}

/**
 * Reads seed.yaml against a built proxy; throws ConfigError naming file, line and key.
 * `env` replaces process.env for $VAR substitution (the seeding API passes {} so an upload cannot read the server's environment).
 */
export function loadSeedConf(seedFile: string, proxy: Proxy, opts: { env?: Record<string, string | undefined> } = {}): SeedingConf {
  const loaded = loadConfig(seedFile, { validate: false, env: opts.env });
  const conf = loaded.conf as Dict;
  const at = (p: PathSegment[], msg: string): never => {
    throw configErrorAt(loaded, p, msg);
  };
  if ('views' in conf) at(['views'], "this is MapProxy's old seed.yaml format (seeds with views), which MapProxy 1.0 removed; rewrite it with seeds/cleanups/coverages (see MapProxy's seed documentation)");
  const { errors, warnings } = validateSpec(seedSpec, conf, loaded.locate, path.basename(loaded.configFile));
  for (const w of [...loaded.warnings, ...warnings]) log.warn(formatWarning(w));
  throwIfErrors(errors);
  return new SeedConfReader(loaded, conf, proxy, at);
}

class SeedConfReader implements SeedingConf {
  private coverages = new Map<string, Coverage | false>();
  readonly seedNames: string[];
  readonly cleanupNames: string[];

  constructor(
    private loaded: LoadedConfig,
    private conf: Dict,
    private proxy: Proxy,
    private at: (p: PathSegment[], msg: string) => never,
  ) {
    this.seedNames = Object.keys((conf.seeds as Dict) ?? {});
    this.cleanupNames = Object.keys((conf.cleanups as Dict) ?? {});
  }

  /** A named coverage in the grid-independent form (false = empty geometry). */
  coverage(name: string, p: PathSegment[] = ['coverages']): Coverage | false {
    const known = this.coverages.get(name);
    if (known !== undefined) return known;
    const all = (this.conf.coverages as Dict) ?? {};
    const c = all[name] as Dict | undefined;
    if (!c) this.at(p, `coverage '${name}' not found (known: ${Object.keys(all).join(', ') || 'none'})`);
    let cov: Coverage | false;
    try {
      cov = loadCoverage(c, { baseDir: this.proxy.config.configDir, fail: (sub, msg) => this.at(['coverages', name, ...sub], msg) });
    } catch (e) {
      if (!(e instanceof EmptyCoverageError)) throw e;
      log.warn(`coverage '${name}' contains no geometries`);
      cov = false;
    }
    this.coverages.set(name, cov);
    return cov;
  }

  private resolve(section: 'seeds' | 'cleanups', name: string): Resolved {
    const base: PathSegment[] = [section, name];
    const c = ((this.conf[section] as Dict)[name] ?? {}) as Dict;
    const caches = new Map<string, Map<string, TileManager>>();
    ((c.caches as string[]) ?? []).forEach((cacheName, i) => {
      const grids = this.proxy.caches.get(cacheName);
      if (!grids) this.at([...base, 'caches', i], `cache '${cacheName}' not found (known: ${[...this.proxy.caches.keys()].join(', ') || 'none'})`);
      for (const tm of grids.values()) if (tm.opts.disableStorage) this.at([...base, 'caches', i], `can't seed cache '${cacheName}' (disable_storage: true)`);
      caches.set(cacheName, grids);
    });
    if (!caches.size) this.at([...base, 'caches'], 'no caches given');
    let grids: string[];
    if (Array.isArray(c.grids)) {
      grids = c.grids as string[];
      grids.forEach((g, i) => {
        for (const [cacheName, cg] of caches) if (!cg.has(g)) this.at([...base, 'grids', i], `grid '${g}' is not a grid of cache '${cacheName}' (its grids: ${[...cg.keys()].join(', ')})`);
      });
    } else {
      const sets = [...caches.values()].map((g) => [...g.keys()].sort().join(','));
      if (new Set(sets).size > 1) this.at([...base, 'caches'], 'caches in the same seed task need identical grids (or list the grids to seed)');
      grids = [...[...caches.values()][0].keys()];
    }
    let coverage: Coverage | false | undefined;
    if (Array.isArray(c.coverages) && c.coverages.length) {
      const covs = (c.coverages as string[]).map((n, i) => this.coverage(n, [...base, 'coverages', i]));
      if (covs.some((v) => v === false)) coverage = false;
      else coverage = covs.length === 1 ? (covs[0] as Coverage) : new MultiCoverage(covs as Coverage[]);
    }
    const levels = levelSpecFromConf(c, (sub, msg) => this.at([...base, ...sub], msg));
    return { caches, grids, coverage, levels };
  }

  private tasks<T extends Task>(section: 'seeds' | 'cleanups', name: string, make: (b: TaskBase, r: Resolved) => T[]): T[] {
    const r = this.resolve(section, name);
    const out: T[] = [];
    for (const gridName of r.grids) {
      for (const [cacheName, grids] of r.caches) {
        const manager = grids.get(gridName)!;
        const grid = manager.grid;
        let coverage: Coverage | false;
        if (r.coverage === false) coverage = false;
        else if (r.coverage) {
          try {
            coverage = r.coverage.transformTo(grid.srs);
          } catch (e) {
            this.at([section, name, 'coverages'], `coverage transformation error: ${(e as Error).message}`);
          }
        } else coverage = new BboxCoverage([...grid.bbox] as Bbox, grid.srs);
        let levels: number[];
        try {
          levels = levelsForGrid(r.levels, grid, gridName);
        } catch (e) {
          this.at([section, name, r.levels?.kind.startsWith('res') ? 'resolutions' : 'levels'], (e as Error).message);
        }
        out.push(...make({ name, cacheName, gridName, manager, grid, levels, coverage, completeExtent: r.coverage === undefined }, r));
      }
    }
    return out;
  }

  seeds(names?: readonly string[]): SeedTask[] {
    return (names ?? this.seedNames).flatMap((name) => {
      const c = ((this.conf.seeds as Dict)[name] ?? {}) as Dict;
      const refresh = c.refresh_before != null ? beforeTimestamp(c.refresh_before as Dict, this.proxy.config.configDir, (sub, msg) => this.at(['seeds', name, 'refresh_before', ...sub], msg)) : undefined;
      return this.tasks('seeds', name, (b) => splitRescaled({ ...b, kind: 'seed', refreshTimestamp: refresh }));
    });
  }

  cleanups(names?: readonly string[]): CleanupTask[] {
    const now = Date.now() / 1000;
    return (names ?? this.cleanupNames).flatMap((name) => {
      const c = ((this.conf.cleanups as Dict)[name] ?? {}) as Dict;
      let removeTimestamp: number;
      if (c.remove_all === true) removeTimestamp = 0;
      else if (c.remove_before != null) removeTimestamp = beforeTimestamp(c.remove_before as Dict, this.proxy.config.configDir, (sub, msg) => this.at(['cleanups', name, 'remove_before', ...sub], msg), now);
      // MapProxy: without remove_before, tiles older than the start of the run
      else removeTimestamp = now;
      return this.tasks('cleanups', name, (b) => [{ ...b, kind: 'cleanup' as const, removeTimestamp }]);
    });
  }
}

/** Caches that rescale tiles are seeded one level per task (finest first for downscale_tiles), as MapProxy does. */
export function splitRescaled(t: SeedTask): SeedTask[] {
  const rescale = t.manager.opts.rescaleTiles ?? 0;
  if (!rescale) return [t];
  const levels = rescale > 0 ? [...t.levels].reverse() : t.levels;
  return levels.map((l) => ({ ...t, levels: [l] }));
}

