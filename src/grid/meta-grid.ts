/**
 * Meta tiles: several tiles requested from a source as one image (plus a
 * pixel buffer against labels cut at tile borders), then split. Matches
 * MapProxy's MetaGrid so meta tile requests and locks line up with MapProxy's.
 */
import type { Bbox } from '../srs/types.ts';
import { pyRound, pyRoundInt } from './py-math.ts';
import { alignDown, GridError, tileList, type AffectedTiles, type TileCoord, type TileGrid } from './tile-grid.ts';

/** One tile inside a meta tile image: coord (null outside the grid) and its top-left pixel in the image. */
export interface MetaTilePart {
  coord: TileCoord | null;
  crop: [number, number];
}

/** A meta tile: what to request from the source and how to cut it. */
export interface MetaTile {
  /** request bbox: meta tile plus buffer, clipped at the grid bbox */
  bbox: Bbox;
  /** request size in pixels */
  size: [number, number];
  /** [columns, rows] of tiles */
  gridSize: [number, number];
  /** rows top-down, columns left to right */
  tiles: MetaTilePart[];
  /** first tile that is inside the grid: the one to lock on */
  mainTileCoord: TileCoord | null;
}

/** Meta tile arithmetic over a tile grid. */
export class MetaGrid {
  readonly metaSize: readonly [number, number];

  constructor(
    readonly grid: TileGrid,
    metaSize: readonly [number, number],
    readonly metaBuffer = 0,
  ) {
    this.metaSize = [metaSize[0], metaSize[1]];
  }

  /** Meta size at level z: smaller where the whole level has fewer tiles than meta_size. */
  levelMetaSize(z: number): [number, number] {
    const gs = this.grid.gridSizes[z];
    return [Math.min(this.metaSize[0], gs[0]), Math.min(this.metaSize[1], gs[1])];
  }

  /** The first (lowest x, lowest y in grid numbering) tile of the meta tile containing `coord`. */
  metaTileCoord(coord: readonly [number, number, number]): TileCoord {
    const [x, y, z] = coord;
    const [mx, my] = this.levelMetaSize(z);
    return [alignDown(x, mx), alignDown(y, my), z];
  }

  /** bbox of the meta tile containing `coord`, without buffer and not clipped (it can extend past the grid). */
  unbufferedMetaBbox(coord: readonly [number, number, number]): Bbox {
    const [x, y, z] = coord;
    const [mx, my] = this.levelMetaSize(z);
    return this.grid.tilesBbox([[x, y, z], [x + mx - 1, y + my - 1, z]]);
  }

  /** The meta tile that contains `coord`. */
  metaTile(coord: readonly [number, number, number]): MetaTile {
    const main = this.metaTileCoord(coord);
    const z = main[2];
    const { bbox, buffers } = this.bufferedBbox(this.unbufferedMetaBbox(main), z);
    const gridSize = this.levelMetaSize(z);
    const tiles = [...this.metaTileList(main, gridSize)];
    return this.build(bbox, z, gridSize, tiles, buffers);
  }

  /** The smallest meta tile (plus buffer) that contains all `tiles` (all of one level). */
  minimalMetaTile(tiles: readonly (readonly [number, number, number])[]): MetaTile {
    if (!tiles.length) throw new GridError('no tiles');
    const z = tiles[0][2];
    let minx = tiles[0][0];
    let maxx = minx;
    let miny = tiles[0][1];
    let maxy = miny;
    for (const [x, y] of tiles) {
      minx = Math.min(minx, x);
      maxx = Math.max(maxx, x);
      miny = Math.min(miny, y);
      maxy = Math.max(maxy, y);
    }
    const gridSize: [number, number] = [1 + maxx - minx, 1 + maxy - miny];
    const ys = this.grid.flippedYAxis ? range(miny, maxy + 1, 1) : range(maxy, miny - 1, -1);
    const xs = range(minx, maxx + 1, 1);
    // MapProxy limits to the requested range here, not to the level's grid size
    const list = [...tileList(xs, ys, z, [maxx + 1, maxy + 1])];
    const { bbox, buffers } = this.bufferedBbox(this.grid.tilesBbox([[minx, miny, z], [maxx, maxy, z]]), z);
    return this.build(bbox, z, gridSize, list, buffers);
  }

  /** Tiles of the meta tile whose first tile is `main`, rows top-down. */
  tileList(main: readonly [number, number, number]): (TileCoord | null)[] {
    return [...this.metaTileList(main, this.levelMetaSize(main[2]))];
  }

  /** Meta tiles of level z that cover `bbox`, as their first tiles (for seeding). */
  affectedLevelTiles(bbox: Bbox, z: number): AffectedTiles {
    const delta = this.grid.resolution(z) / 10.0;
    const [x0, y0] = this.grid.tileCoord([bbox[0] + delta, bbox[1] + delta], z);
    const [x1, y1] = this.grid.tileCoord([bbox[2] - delta, bbox[3] - delta], z);
    const [mx, my] = this.levelMetaSize(z);
    return this.grid.tileRange(alignDown(x0, mx), alignDown(y0, my), alignDown(x1, mx), alignDown(y1, my), z, mx, my, [mx, my]);
  }

  private metaTileList(main: readonly [number, number, number], gridSize: readonly [number, number]): Iterable<TileCoord | null> {
    const [minx, miny, z] = this.metaTileCoord(main);
    const maxx = minx + gridSize[0] - 1;
    const maxy = miny + gridSize[1] - 1;
    const ys = this.grid.flippedYAxis ? range(miny, maxy + 1, 1) : range(maxy, miny - 1, -1);
    return tileList(range(minx, maxx + 1, 1), ys, z, this.grid.gridSizes[z]);
  }

  /**
   * Adds the buffer and clips it at the grid bbox. A clipped side loses the
   * clipped pixels from its buffer, which can go negative when the meta tile
   * itself reaches past the grid (the crop offsets must account for that).
   */
  private bufferedBbox(bbox: Bbox, z: number): { bbox: Bbox; buffers: [number, number, number, number] } {
    let [minx, miny, maxx, maxy] = bbox;
    const buffers: [number, number, number, number] = [0, 0, 0, 0];
    if (this.metaBuffer > 0) {
      const res = this.grid.resolution(z);
      const b = this.metaBuffer;
      minx -= b * res;
      miny -= b * res;
      maxx += b * res;
      maxy += b * res;
      buffers.fill(b);
      const g = this.grid.bbox;
      const px = (d: number) => Math.trunc(pyRound(d / res, 5));
      if (g[0] > minx) {
        buffers[0] -= px(g[0] - minx);
        minx = g[0];
      }
      if (g[1] > miny) {
        buffers[1] -= px(g[1] - miny);
        miny = g[1];
      }
      if (g[2] < maxx) {
        buffers[2] -= px(maxx - g[2]);
        maxx = g[2];
      }
      if (g[3] < maxy) {
        buffers[3] -= px(maxy - g[3]);
        maxy = g[3];
      }
    }
    return { bbox: [minx, miny, maxx, maxy], buffers };
  }

  private build(
    bbox: Bbox,
    z: number,
    gridSize: [number, number],
    tiles: (TileCoord | null)[],
    buffers: readonly [number, number, number, number],
  ): MetaTile {
    const res = this.grid.resolution(z);
    // not meta_size * tile_size + 2 * buffer: the buffer may be clipped
    const size: [number, number] = [pyRoundInt((bbox[2] - bbox[0]) / res), pyRoundInt((bbox[3] - bbox[1]) / res)];
    const [tw, th] = this.grid.tileSize;
    const parts: MetaTilePart[] = [];
    for (let i = 0; i < gridSize[1]; i++) {
      for (let j = 0; j < gridSize[0]; j++) {
        parts.push({ coord: tiles[j + i * gridSize[0]] ?? null, crop: [j * tw + buffers[0], i * th + buffers[3]] });
      }
    }
    const first = parts.find((p) => p.coord !== null);
    return { bbox, size, gridSize, tiles: parts, mainTileCoord: first ? first.coord : null };
  }
}

function range(start: number, stop: number, step: number): number[] {
  const out: number[] = [];
  if (step > 0) for (let i = start; i < stop; i += step) out.push(i);
  else for (let i = start; i > stop; i += step) out.push(i);
  return out;
}
