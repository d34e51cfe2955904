/** `mapproxy grids`: the grids of a config with resolutions and tiles per level, as mapproxy-util grids prints them. */
import { loadConfig } from '../config/loader.ts';
import { ConfigError } from '../errors.ts';
import { buildProxy } from './build-proxy.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import { pyFloat } from '../util/py-format.ts';

/** Text report of one grid. */
export function gridReport(name: string, grid: TileGrid): string {
  const lines = [`${name}:`, `    SRS: ${grid.srs.code}`, `    Bbox: [${grid.bbox.map(pyFloat).join(', ')}]`, `    Origin: ${grid.origin}`, `    Tile size: [${grid.tileSize.join(', ')}]`, '    Levels: Resolutions, # x * y = total tiles'];
  grid.resolutions.forEach((res, z) => {
    const [x, y] = grid.gridSizes[z];
    const r = `${pyFloat(res)},`;
    lines.push(`        ${String(z).padStart(2, '0')}:  ${r.padEnd(21)}#  ${String(x).padStart(6)} * ${String(y).padEnd(6)} = ${humanNumber(x * y).padStart(10)}`);
  });
  return lines.join('\n');
}

function humanNumber(n: number): string {
  if (n < 1e6) return String(n);
  if (n < 1e9) return `${(n / 1e6).toFixed(3)}M`;
  if (n < 1e12) return `${(n / 1e9).toFixed(3)}G`;
  return `${(n / 1e12).toFixed(3)}T`;
}

/** Print the grids; returns the exit code. */
export function runGrids(opts: { config?: string; grid?: string; all: boolean }): number {
  if (!opts.config) {
    console.error('error: missing mapproxy configuration (-f mapproxy.yaml)');
    return 2;
  }
  let proxy;
  try {
    proxy = buildProxy(loadConfig(opts.config));
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
    if (!proxy.grids.has(opts.grid)) {
      console.error(`error: unknown grid '${opts.grid}' (known: ${[...proxy.grids.keys()].join(', ')})`);
      return 2;
    }
    names = [opts.grid];
  }
  for (const n of names.sort()) console.log(gridReport(n, proxy.grids.get(n)!));
  return 0;
}
