/**
 * `mapproxy cache-stats`: tiles, bytes and the oldest and newest tile per
 * level of each file cache directory, as text or as JSON for monitoring.
 * Tiles linked to single-colour files count as tiles of no bytes of their own;
 * the single-colour files are counted once, apart, and in the totals.
 */
import * as fs from 'node:fs';
import { loadConfig } from '../config/loader.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import { ConfigError } from '../errors.ts';
import { cacheTargets, humanBytes, UsageError, walkTiles, type SharedTile } from './tile-files.ts';

/** Tiles of one level. Times are mtimes in seconds since the epoch (null without tiles). */
export interface LevelStats {
  level: number;
  tiles: number;
  bytes: number;
  /** Disk usage (st_blocks * 512). */
  disk: number;
  /** Tiles that are links to single-colour files. */
  linked: number;
  oldest: number | null;
  newest: number | null;
}

/** Totals: tiles, bytes (tiles plus single-colour files), oldest and newest tile. */
export interface TotalStats {
  tiles: number;
  bytes: number;
  disk: number;
  oldest: number | null;
  newest: number | null;
}

/** One cache directory: a cache and the grid(s) stored there. */
export interface CacheDirStats {
  cache: string;
  /** The grid; grids of the same SRS share a directory unless use_grid_names is set. */
  grid: string;
  grids: string[];
  directory: string;
  layout: string;
  exists: boolean;
  /** Levels with tiles, ascending. */
  levels: LevelStats[];
  singleColor: { files: number; bytes: number; disk: number };
  total: TotalStats;
}

/** Statistics of the selected caches. */
export interface CacheStats {
  /** When the numbers were taken (seconds since the epoch). */
  generated: number;
  caches: CacheDirStats[];
  total: TotalStats;
}

const emptyTotal = (): TotalStats => ({ tiles: 0, bytes: 0, disk: 0, oldest: null, newest: null });
const older = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const newer = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.max(a, b));

/** Statistics of one cache (all when undefined), optionally of one grid; UsageError for unknown names. */
export function cacheStats(proxy: Proxy, cache?: string, grid?: string): CacheStats {
  const out: CacheStats = { generated: Date.now() / 1000, caches: [], total: emptyTotal() };
  for (const t of cacheTargets(proxy, cache, grid)) {
    const levels = new Map<number, LevelStats>();
    const shared = new Map<string, SharedTile>();
    const exists = fs.existsSync(t.dir);
    const total = emptyTotal();
    if (exists) {
      for (const f of walkTiles(t.dir, t.layout, t.ext, { shared })) {
        const z = f.coord[2];
        let l = levels.get(z);
        if (!l) {
          l = { level: z, tiles: 0, bytes: 0, disk: 0, linked: 0, oldest: null, newest: null };
          levels.set(z, l);
        }
        l.tiles++;
        l.bytes += f.size;
        l.disk += f.disk;
        if (f.shared) l.linked++;
        if (l.oldest === null || f.mtime < l.oldest) l.oldest = f.mtime;
        if (l.newest === null || f.mtime > l.newest) l.newest = f.mtime;
      }
    }
    const singleColor = { files: 0, bytes: 0, disk: 0 };
    for (const s of shared.values()) {
      singleColor.files++;
      singleColor.bytes += s.size;
      singleColor.disk += s.disk;
    }
    const sorted = [...levels.values()].sort((a, b) => a.level - b.level);
    for (const l of sorted) {
      total.tiles += l.tiles;
      total.bytes += l.bytes;
      total.disk += l.disk;
      total.oldest = older(total.oldest, l.oldest);
      total.newest = newer(total.newest, l.newest);
    }
    total.bytes += singleColor.bytes;
    total.disk += singleColor.disk;
    out.caches.push({ cache: t.cache, grid: t.grids[0], grids: t.grids, directory: t.dir, layout: t.layout, exists, levels: sorted, singleColor, total });
    out.total.tiles += total.tiles;
    out.total.bytes += total.bytes;
    out.total.disk += total.disk;
    out.total.oldest = older(out.total.oldest, total.oldest);
    out.total.newest = newer(out.total.newest, total.newest);
  }
  return out;
}

/** Local time as `2026-01-31 13:45:00`, or '-'. */
function time(t: number | null): string {
  if (t === null) return '-';
  const d = new Date(t * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** The statistics as a text table per cache directory. */
export function formatStats(s: CacheStats): string {
  const lines: string[] = [];
  const row = (level: string, tiles: string, bytes: string, disk: string, oldest: string, newest: string) =>
    `  ${level.padStart(5)}  ${tiles.padStart(10)}  ${bytes.padStart(10)}  ${disk.padStart(10)}  ${oldest.padEnd(19)}  ${newest}`;
  for (const c of s.caches) {
    lines.push(`${c.cache} (${c.grids.join(', ')}): ${c.directory} [${c.layout}]`);
    if (!c.exists) {
      lines.push('  no tiles (the directory does not exist)');
      continue;
    }
    lines.push(row('level', 'tiles', 'size', 'on disk', 'oldest', 'newest'));
    for (const l of c.levels) lines.push(row(String(l.level), String(l.tiles), humanBytes(l.bytes), humanBytes(l.disk), time(l.oldest), time(l.newest)));
    lines.push(row('total', String(c.total.tiles), humanBytes(c.total.bytes), humanBytes(c.total.disk), time(c.total.oldest), time(c.total.newest)));
    if (c.singleColor.files) {
      const linked = c.levels.reduce((n, l) => n + l.linked, 0);
      lines.push(`  single-colour files: ${c.singleColor.files} (${humanBytes(c.singleColor.bytes)}, ${humanBytes(c.singleColor.disk)} on disk, in the total), linked from ${linked} tiles`);
    }
  }
  if (s.caches.length > 1) lines.push(`total: ${s.total.tiles} tiles, ${humanBytes(s.total.bytes)} (${humanBytes(s.total.disk)} on disk), oldest ${time(s.total.oldest)}, newest ${time(s.total.newest)}`);
  return lines.join('\n');
}

/** Options of the command. */
export interface CacheStatsCommand {
  config?: string;
  cache?: string;
  grid?: string;
  json?: boolean;
}

/** The command: prints the statistics; returns the exit code (2 for bad input). */
export function runCacheStats(opts: CacheStatsCommand): number {
  if (!opts.config) {
    console.error('error: missing mapproxy configuration (-f mapproxy.yaml)');
    return 2;
  }
  let stats: CacheStats;
  try {
    stats = cacheStats(buildProxy(loadConfig(opts.config)), opts.cache, opts.grid);
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  console.log(opts.json ? JSON.stringify(stats, null, 2) : formatStats(stats));
  return 0;
}
