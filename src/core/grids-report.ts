/** `mapproxy grids`: the grids of a config with resolutions and tiles per level, as mapproxy-util grids prints them. */
import { loadConfig } from '../config/loader.ts';
import { ConfigError } from '../errors.ts';
import { buildProxy } from './build-proxy.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import { pyFloat } from '../util/py-format.ts';
import type { Coverage } from '../geo/coverage.ts';
import { coverageArea } from '../geo/geom-coverage.ts';
import { loadSeedConf } from '../seed/seed-config.ts';
import { SeedProgress, TileWalker } from '../seed/walker.ts';

/** Text report of one grid; with a coverage, the tiles per level within it (exact, or ~approximate by area). */
export function gridReport(name: string, grid: TileGrid, within?: { name: string; ratio: number; counts: (number | undefined)[] }): string {
  const lines = [`${name}:`, `    SRS: ${grid.srs.code}`, `    Bbox: [${grid.bbox.map(pyFloat).join(', ')}]`, `    Origin: ${grid.origin}`, `    Tile size: [${grid.tileSize.join(', ')}]`];
  if (within) {
    lines.push(`    Coverage: ${within.name} covers approx. ${(within.ratio * 100).toFixed(4)}% of the grid BBOX`);
    lines.push('    Levels: Resolutions, # x * y = total tiles (tiles within coverage, ~ = approx. by area)');
  } else lines.push('    Levels: Resolutions, # x * y = total tiles');
  grid.resolutions.forEach((res, z) => {
    const [x, y] = grid.gridSizes[z];
    const r = `${pyFloat(res)},`;
    let line = `        ${String(z).padStart(2, '0')}:  ${r.padEnd(21)}#  ${String(x).padStart(6)} * ${String(y).padEnd(6)} = ${humanNumber(x * y).padStart(10)}`;
    if (within) {
      const n = within.counts[z];
      line += n !== undefined ? ` (${humanNumber(n)})` : ` (~${humanNumber(Math.round(x * y * within.ratio))})`;
    }
    lines.push(line);
  });
  return lines.join('\n');
}

/**
 * Tiles of each level that meet the coverage, counted with the seed walk
 * (so exactly what a seed of that level would touch without meta tiles), level
 * by level until `seconds` are used up; undefined for levels not counted.
 */
export async function tilesWithin(grid: TileGrid, coverage: Coverage, seconds: number): Promise<(number | undefined)[]> {
  const cov = coverage.transformTo(grid.srs);
  const deadline = performance.now() + seconds * 1000;
  const out: (number | undefined)[] = [];
  let timedOut = false;
  for (let z = 0; z < grid.levels; z++) {
    if (timedOut) {
      out.push(undefined);
      continue;
    }
    // levels with too many candidate tiles get the area approximation
    let candidates = Infinity;
    try {
      const [w, h] = grid.affectedLevelTiles(cov.bbox, z).gridSize;
      candidates = w * h;
    } catch {
      /* outside the grid */
    }
    if (candidates > 250_000) {
      out.push(undefined);
      continue;
    }
    let n = 0;
    const walker = new TileWalker(
      { grid, levels: [z], coverage: cov, metaSize: [1, 1], workOnMetatiles: true, skipGeomsForLastLevels: 0, progress: new SeedProgress() },
      {
        needsWork: () => true,
        process: (t) => void (n += t.length),
        running: () => {
          if (performance.now() < deadline) return true;
          timedOut = true;
          return false;
        },
      },
    );
    await walker.walk();
    out.push(timedOut ? undefined : n);
  }
  return out;
}

/** Area of the coverage (its geometry, as MapProxy's grid_coverage_ratio) over the grid bbox's. */
function coverageRatio(grid: TileGrid, coverage: Coverage): number {
  const g = grid.bbox;
  return coverageArea(coverage.transformTo(grid.srs)) / ((g[2] - g[0]) * (g[3] - g[1]));
}

function humanNumber(n: number): string {
  if (n < 1e6) return String(n);
  if (n < 1e9) return `${(n / 1e6).toFixed(3)}M`;
  if (n < 1e12) return `${(n / 1e9).toFixed(3)}G`;
  return `${(n / 1e12).toFixed(3)}T`;
}

/** Options of `mapproxy grids`. */
export interface GridsOptions {
  config?: string;
  grid?: string;
  all: boolean;
  /** -l: names only */
  list?: boolean;
  seedConf?: string;
  coverage?: string;
  /** Time budget for counting tiles within the coverage. */
  countSeconds?: number;
}

/** Print the grids; returns the exit code. */
export async function runGrids(opts: GridsOptions): Promise<number> {
  if (!opts.config) {
    console.error('error: missing mapproxy configuration (-f mapproxy.yaml)');
    return 2;
  }
  if ((opts.seedConf === undefined) !== (opts.coverage === undefined)) {
    console.error('error: --coverage-name and --seed-conf can only be used together');
    return 1;
  }
  let proxy;
  let coverage: Coverage | undefined;
  try {
    proxy = buildProxy(loadConfig(opts.config));
    if (opts.seedConf && opts.coverage) {
      const cov = loadSeedConf(opts.seedConf, proxy).coverage(opts.coverage);
      if (cov === false) {
        console.error(`error: coverage '${opts.coverage}' contains no geometries`);
        return 2;
      }
      coverage = cov;
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const used = new Set<string>();
  for (const managers of proxy.caches.values()) for (const g of managers.keys()) used.add(g);
  let names = [...proxy.grids.keys()].filter((n) => opts.all || used.has(n));
  if (opts.grid) {
    // as mapproxy-util: grid names ignore case
    const found = [...proxy.grids.keys()].find((n) => n.toLowerCase() === opts.grid!.toLowerCase());
    if (!found) {
      console.error(`error: unknown grid '${opts.grid}' (known: ${[...proxy.grids.keys()].join(', ')})`);
      return 2;
    }
    names = [found];
  }
  names.sort();
  if (opts.list) {
    for (const n of names) console.log(n);
    return 0;
  }
  const reports: string[] = [];
  for (const n of names) {
    const grid = proxy.grids.get(n)!;
    const within = coverage ? { name: opts.coverage!, ratio: coverageRatio(grid, coverage), counts: await tilesWithin(grid, coverage, opts.countSeconds ?? 3) } : undefined;
    reports.push(gridReport(n, grid, within));
  }
  console.log(reports.join('\n\n'));
  return 0;
}
