/**
 * Tile paths of MapProxy's file cache, byte-identical to mapproxy/cache/path.py,
 * so an existing MapProxy cache directory is served as it is.
 */
import type { TileCoord } from '../grid/tile-grid.ts';
import { arcgisPath, mpPath, pad, quadkey, tcPath } from '../grid/tile-paths.ts';

/** The directory layouts MapProxy's file cache knows. */
export const DIRECTORY_LAYOUTS = ['tc', 'mp', 'tms', 'reverse_tms', 'quadkey', 'arcgis'] as const;
/** One of DIRECTORY_LAYOUTS. */
export type DirectoryLayout = (typeof DIRECTORY_LAYOUTS)[number];

/** Path of a tile below the cache dir, '/'-separated, with extension. */
export function tileRelPath(layout: DirectoryLayout, [x, y, z]: TileCoord, ext: string): string {
  switch (layout) {
    case 'tc':
      return `${tcPath([x, y, z])}.${ext}`;
    case 'mp':
      return `${mpPath([x, y, z])}.${ext}`;
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
