/** Helpers of the cache-clean and cache-stats tests: a config with file caches in a temp dir, tiles with set times, the CLI. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy, type Proxy } from '../../src/core/build-proxy.ts';
import { tileRelPath, type DirectoryLayout } from '../../src/cache/file-layout.ts';
import type { FileCache } from '../../src/cache/file-cache.ts';
import type { TileCoord } from '../../src/grid/tile-grid.ts';

/** One cache of the test config. */
export interface TestCache {
  grids?: string[];
  layout?: DirectoryLayout;
  /** Exact directory (relative to the config); else cache_dir/<name>/<grid> (use_grid_names). */
  directory?: string;
  disableStorage?: boolean;
  format?: string;
  /** false: MapProxy's default <cache>_<SRS> directories (grids of one SRS share one). */
  useGridNames?: boolean;
}

/** A temp dir with mapproxy.yaml; remove() deletes it all. */
export interface TestEnv {
  root: string;
  config: string;
  proxy: Proxy;
  /** Directory of a cache (and grid). */
  dir(cache: string, grid?: string): string;
  remove(): void;
}

/** Writes mapproxy.yaml with the caches (grids webmercator, geodetic) below a new temp dir. */
export function makeEnv(caches: Record<string, TestCache>): TestEnv {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-cache-clean-'));
  const lines = ['services:', '  tms:', 'layers:'];
  for (const name of Object.keys(caches)) lines.push(`  - name: ${name}_layer`, `    title: ${name}`, `    sources: [${name}]`);
  lines.push('caches:');
  for (const [name, c] of Object.entries(caches)) {
    lines.push(`  ${name}:`, `    grids: [${(c.grids ?? ['webmercator']).join(', ')}]`, '    sources: []', `    format: ${c.format ?? 'image/png'}`);
    if (c.disableStorage) lines.push('    disable_storage: true');
    lines.push('    cache_dir: ./cache_data', '    cache:', '      type: file', `      directory_layout: ${c.layout ?? 'tc'}`);
    if (c.directory) lines.push(`      directory: ${c.directory}`);
    else if (c.useGridNames !== false) lines.push('      use_grid_names: true');
  }
  lines.push('grids:', '  webmercator:', '    base: GLOBAL_WEBMERCATOR', '  geodetic:', '    base: GLOBAL_GEODETIC', '');
  const config = path.join(root, 'mapproxy.yaml');
  fs.writeFileSync(config, lines.join('\n'));
  const proxy = buildProxy(loadConfig(config));
  return {
    root,
    config,
    proxy,
    dir(cache, grid) {
      const managers = proxy.caches.get(cache)!;
      const tm = grid ? managers.get(grid)! : [...managers.values()][0];
      return path.resolve((tm.opts.backend as FileCache).dir);
    },
    remove() {
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Seconds since the epoch, `days` ago. */
export const daysAgo = (days: number, now = Date.now() / 1000) => now - days * 86400;

/** Writes a tile file at its layout path with the given times (seconds; atime defaults to mtime). */
export function writeTile(dir: string, layout: DirectoryLayout, coord: TileCoord, opts: { mtime?: number; atime?: number; size?: number; ext?: string } = {}): string {
  const p = path.join(dir, tileRelPath(layout, coord, opts.ext ?? 'png'));
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, new Uint8Array(opts.size ?? 100).fill(7));
  if (opts.mtime !== undefined) fs.utimesSync(p, opts.atime ?? opts.mtime, opts.mtime);
  return p;
}

/** Relative paths of all files and symlinks below dir, sorted. */
export function listFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string, depth: number) => {
    if (depth > 20) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r, depth + 1);
      else out.push(r);
    }
  };
  walk(dir, '', 0);
  return out.sort();
}

/** Relative paths of all directories below dir, sorted. */
export function listDirs(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string, depth: number) => {
    if (depth > 20) return;
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      walk(path.join(d, e.name), r, depth + 1);
    }
  };
  walk(dir, '', 0);
  return out.sort();
}

const entry = path.join(import.meta.dirname, 'cache-cli.ts');

/** Runs `mapproxy <args>` (the cache commands) in a subprocess. */
export function runCli(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [entry, ...args], { cwd, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
