/**
 * Meta tiles and tiled sources: one large image split into tiles (MapProxy's
 * TileSplitter) and cached tiles joined into one image (TileMerger).
 */
import { copyRect, cropRaster } from './resample.ts';
import { createRaster, TRANSPARENT, type Raster, type Rgba } from './raster.ts';

/**
 * Joins cols x rows tiles (row-major, top row first) into one raster; a null
 * tile leaves its cell `fill`. Tiles replace, never blend, as PIL's paste does,
 * and a tile of the wrong size is clipped to its cell rather than spilling over.
 */
export function stitchTiles(
  tiles: readonly (Raster | null)[], cols: number, rows: number, tileW: number, tileH: number,
  fill: Rgba = TRANSPARENT,
): Raster {
  if (tiles.length !== cols * rows) {
    throw new RangeError(`${tiles.length} tiles do not fill a ${cols}x${rows} grid`);
  }
  const out = createRaster(cols * tileW, rows * tileH, fill);
  for (let i = 0; i < tiles.length; i++) {
    const t = tiles[i];
    if (!t) continue;
    const w = Math.min(t.width, tileW);
    const h = Math.min(t.height, tileH);
    copyRect(t, out, 0, 0, (i % cols) * tileW, Math.floor(i / cols) * tileH, w, h);
  }
  return out;
}

/**
 * One tileW x tileH raster per crop position (the tile's top-left pixel in `r`);
 * parts of a crop outside `r` are `fill`, as MapProxy pads meta tiles at the grid edge.
 */
export function splitRaster(
  r: Raster, tileW: number, tileH: number, crops: readonly (readonly [number, number])[],
  fill: Rgba = TRANSPARENT,
): Raster[] {
  return crops.map(([x, y]) => cropRaster(r, x, y, tileW, tileH, fill));
}
