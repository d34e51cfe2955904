/**
 * Tile paths of MapProxy's file cache, byte-identical to mapproxy/cache/path.py,
 * so an existing MapProxy cache directory is served as it is.
 */
import { arcgisPath, quadkey, type TileCoord } from '../source/tile-url.ts';

/** The directory layouts MapProxy's file cache knows. */
export const DIRECTORY_LAYOUTS = ['tc', 'mp', 'tms', 'reverse_tms', 'quadkey', 'arcgis'] as const;
/** One of DIRECTORY_LAYOUTS. */
export type DirectoryLayout = (typeof DIRECTORY_LAYOUTS)[number];

/** Zero-padded integer; hand-rolled because padStart showed up in cache-hit profiles. */
function pad(n: number, w: number): string {
  const s = String(Math.trunc(n));
  const missing = w - s.length;
  return missing <= 0 ? s : ZEROS[missing] + s;
}
const ZEROS = ['', '0', '00', '000', '0000'];

/** Path of a tile below the cache dir, '/'-separated, with extension. */
export function tileRelPath(layout: DirectoryLayout, [x, y, z]: TileCoord, ext: string): string {
  switch (layout) {
    case 'tc':
      return `${pad(z, 2)}/${pad(x / 1e6, 3)}/${pad((x / 1000) % 1000, 3)}/${pad(x % 1000, 3)}/${pad(y / 1e6, 3)}/${pad((y / 1000) % 1000, 3)}/${pad(y % 1000, 3)}.${ext}`;
    case 'mp':
      return `${pad(z, 2)}/${pad(x / 10000, 4)}/${pad(x % 10000, 4)}/${pad(y / 10000, 4)}/${pad(y % 10000, 4)}.${ext}`;
    case 'tms':
      return `${z}/${x}/${y}.${ext}`;
    case 'reverse_tms':
      return `${y}/${x}/${z}.${ext}`;
    case 'quadkey':
      return `${quadkey([x, y, z])}.${ext}`;
    case 'arcgis':
      return `${arcgisPath([x, y, z])}.${ext}`;
  }
}

/** Directory holding all tiles of a level (undefined where the layout has none). */
export function levelRelPath(layout: DirectoryLayout, z: number): string | undefined {
  switch (layout) {
    case 'tc':
    case 'mp':
      return pad(z, 2);
    case 'tms':
      return String(z);
    case 'arcgis':
      return `L${pad(z, 2)}`;
    default:
      return undefined;
  }
}
