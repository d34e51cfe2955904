/**
 * Tile math of the KML super-overlay (MapProxy's KMLServer): KML coords are
 * TMS-style without profiles, i.e. internal levels (halved for sqrt2 grids)
 * counted from a south-west origin whatever the grid's origin.
 */
import type { TileCoord, TileGrid } from '../../grid/tile-grid.ts';
import { getSrs, isWebMercator, MERCATOR_MAX } from '../../srs/srs.ts';
import type { Bbox } from '../../srs/types.ts';
import { internalTileCoord, type TileServiceGrid } from '../tms/tile-service-grid.ts';

/** A tile as a KML document lists it: KML coord and lon/lat bbox. */
export interface KmlTile {
  coord: TileCoord;
  /** west, south, east, north in EPSG:4326 */
  bbox: Bbox;
}

/** KML coord -> the grid's own tile coord, or undefined when outside the grid. */
export function kmlToInternal(sg: TileServiceGrid, coord: TileCoord): TileCoord | undefined {
  const c = internalTileCoord(sg, coord, false);
  if (!c) return undefined;
  return sg.grid.origin === 'nw' ? sg.grid.flipTileCoord(c) : c;
}

/** The grid's own tile coord -> KML coord. */
export function internalToKml(sg: TileServiceGrid, coord: TileCoord): TileCoord {
  // flipped at the internal level; MapProxy flips after halving sqrt2 levels, which mixes up rows of nw sqrt2 grids
  const [x, y, z] = sg.grid.origin === 'nw' ? sg.grid.flipTileCoord(coord) : coord;
  return [x, y, sg.skipOddLevel ? Math.floor(z / 2) : z];
}

/**
 * A bbox of the grid in EPSG:4326 (4 points per side, as MapProxy). Web mercator
 * tiles on the world's top or bottom edge reach the poles, as in MapProxy, so the
 * pyramid covers the globe in Google Earth. Values are clamped to the ranges the
 * KML schema allows; only tiles beyond the world (custom grids) are affected.
 */
export function wgsBbox(grid: TileGrid, bbox: Bbox): Bbox {
  const b = grid.srs.transformBbox(bbox, getSrs('EPSG:4326'), 4);
  if (isWebMercator(grid.srs)) {
    if (Math.abs(bbox[1] - -MERCATOR_MAX) < 0.1) b[1] = -90;
    if (Math.abs(bbox[3] - MERCATOR_MAX) < 0.1) b[3] = 90;
  }
  return [clamp(b[0], 180), clamp(b[1], 90), clamp(b[2], 180), clamp(b[3], 90)];
}

function clamp(v: number, limit: number): number {
  return Math.min(limit, Math.max(-limit, v));
}

// MapProxy's tolerance for "corner inside the parent"
const DELTA = -1.0 / 10e6;

/**
 * The tiles of the next KML level below the tile `coord` (grid's own coord):
 * usually its 4 children, none on the last level (where MapProxy fails). A child
 * is listed only by the parent holding its origin corner, so no tile shows up in
 * two documents where the levels do not nest.
 */
export function subTiles(sg: TileServiceGrid, coord: TileCoord): KmlTile[] {
  const grid = sg.grid;
  const childLevel = (internalToKml(sg, coord)[2] + 1) * (sg.skipOddLevel ? 2 : 1);
  if (childLevel >= grid.levels) return [];
  const bbox = grid.tileBbox(coord, true);
  // MapProxy always takes the lower left corner; in nw grids whose height is no
  // multiple of the tiles that drops the bottom row, which reaches below the
  // clipped parent. The corner the rows count from is inside the grid, and that
  // side of a tile is never clipped, so every child has exactly one parent.
  const nw = grid.origin === 'nw';
  const out: KmlTile[] = [];
  for (const c of grid.affectedLevelTiles(bbox, childLevel).tiles) {
    if (!c) continue;
    const sub = grid.tileBbox(c);
    const inside = sub[0] - bbox[0] > DELTA && (nw ? bbox[3] - sub[3] > DELTA : sub[1] - bbox[1] > DELTA);
    if (inside) out.push({ coord: internalToKml(sg, c), bbox: wgsBbox(grid, sub) });
  }
  return out;
}
