/** MapProxy's tile URL template (`%(x)s`, `%(tc_path)s`, ...) for `tile` sources. */
import type { Bbox } from '../srs/types.ts';
import type { TileCoord } from '../grid/tile-grid.ts';
import { arcgisPath, quadkey, tcPath, tmsPath } from '../grid/tile-paths.ts';

export type { TileCoord };

export { arcgisPath, quadkey, tcPath, tmsPath };

const VARS = new Set(['x', 'y', 'z', 'format', 'quadkey', 'tc_path', 'tms_path', 'arcgiscache_path', 'bbox']);

/** Names used in a template that MapProxy does not know (a config error). */
export function unknownTemplateVars(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(/%\((\w+)\)[sd]/g)) if (!VARS.has(m[1])) out.push(m[1]);
  return out;
}

/** Fill a template for one tile; `bbox` is the tile's extent in the source grid. */
export function substituteTileUrl(template: string, coord: TileCoord, format: string, bbox?: Bbox): string {
  return template.replace(/%\((\w+)\)([sd])/g, (whole, name: string) => {
    switch (name) {
      case 'x':
        return String(coord[0]);
      case 'y':
        return String(coord[1]);
      case 'z':
        return String(coord[2]);
      case 'format':
        return format;
      case 'quadkey':
        return quadkey(coord);
      case 'tc_path':
        return tcPath(coord);
      case 'tms_path':
        return tmsPath(coord);
      case 'arcgiscache_path':
        return arcgisPath(coord);
      case 'bbox':
        return bbox ? bbox.map((v) => v.toFixed(8)).join(',') : whole;
      default:
        return whole;
    }
  });
}
