/** MapProxy's tile URL template (`%(x)s`, `%(tc_path)s`, ...) for `tile` sources. */
import type { Bbox } from '../srs/types.ts';
import type { TileCoord } from '../grid/tile-grid.ts';

export type { TileCoord };

const pad = (n: number, w: number) => String(Math.trunc(n)).padStart(w, '0');

/** TileCache path: 09/001/234/567/087/654/321 */
export function tcPath([x, y, z]: TileCoord): string {
  return [
    pad(z, 2),
    pad(x / 1e6, 3),
    pad((x / 1000) % 1000, 3),
    pad(x % 1000, 3),
    pad(y / 1e6, 3),
    pad((y / 1000) % 1000, 3),
    pad(y % 1000, 3),
  ].join('/');
}

/** Bing quadkey of a tile ('' for level 0). */
export function quadkey([x, y, z]: TileCoord): string {
  let key = '';
  for (let i = z; i > 0; i--) {
    const mask = 1 << (i - 1);
    let digit = 0;
    if (x & mask) digit += 1;
    if (y & mask) digit += 2;
    key += digit;
  }
  return key;
}

/** z/x/y */
export function tmsPath([x, y, z]: TileCoord): string {
  return `${z}/${x}/${y}`;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** ArcGIS cache path: L09/R05397fb1/C0012d687 */
export function arcgisPath([x, y, z]: TileCoord): string {
  return `L${pad(z, 2)}/R${hex8(y)}/C${hex8(x)}`;
}

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
