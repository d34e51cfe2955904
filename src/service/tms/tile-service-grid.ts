/** TMS profiles: how public TMS levels map to internal grid levels (MapProxy's TileServiceGrid). */
import { hasSqrt2Factor, tmsProfile, type TileCoord, type TileGrid } from '../../grid/tile-grid.ts';
import type { Bbox } from '../../srs/types.ts';

/** The TMS view of a grid: profile, advertised SRS name and level shifts. */
export interface TileServiceGrid {
  grid: TileGrid;
  profile: 'global-mercator' | 'global-geodetic' | 'local';
  srsName: string;
  skipFirstLevel: boolean;
  skipOddLevel: boolean;
}

/** MapProxy's TileServiceGrid: global profiles skip level 0 and advertise OSGEO:41001 for mercator. */
export function tileServiceGrid(grid: TileGrid): TileServiceGrid {
  const profile = tmsProfile(grid);
  const srsName = profile === 'global-mercator' ? 'OSGEO:41001' : profile === 'global-geodetic' ? 'EPSG:4326' : grid.srs.code;
  return { grid, profile, srsName, skipFirstLevel: profile !== 'local', skipOddLevel: hasSqrt2Factor(grid) };
}

/** Public tile coord -> internal one, or undefined when outside the grid (TileOutOfRange). */
export function internalTileCoord(sg: TileServiceGrid, [x, y, z]: TileCoord, useProfiles: boolean): TileCoord | undefined {
  if (z < 0) return undefined;
  if (useProfiles && sg.skipFirstLevel) z += 1;
  if (sg.skipOddLevel) z *= 2;
  const g = sg.grid;
  if (z >= g.resolutions.length) return undefined;
  const [cols, rows] = g.gridSizes[z];
  if (x < 0 || y < 0 || x >= cols || y >= rows) return undefined;
  return [x, y, z];
}

/** The (order, resolution) pairs a TileMap lists. */
export function tileSets(sg: TileServiceGrid): [number, number][] {
  const out: [number, number][] = [];
  const start = sg.skipFirstLevel ? (sg.skipOddLevel ? 2 : 1) : 0;
  const step = sg.skipOddLevel ? 2 : 1;
  let order = 0;
  for (let level = start; level < sg.grid.resolutions.length; level += step) out.push([order++, sg.grid.resolutions[level]]);
  return out;
}

/** Bbox of all tiles of the first public level (TileMap BoundingBox). */
export function publicBbox(sg: TileServiceGrid): Bbox {
  let first = 0;
  if (sg.skipFirstLevel) first += sg.skipOddLevel ? 2 : 1;
  if (sg.skipOddLevel) first *= 2;
  const g = sg.grid;
  const lvl = Math.min(first, g.resolutions.length - 1);
  const [cols, rows] = g.gridSizes[lvl];
  const a = g.tileBbox([0, 0, lvl]);
  const b = g.tileBbox([cols - 1, rows - 1, lvl]);
  return [Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.max(a[2], b[2]), Math.max(a[3], b[3])];
}
