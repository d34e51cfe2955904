/**
 * Path spellings of a tile coordinate shared by cache layouts and tile-source
 * URL templates (TileCache, MapProxy mp, TMS, quadkey, ArcGIS): one place so
 * both stay byte-identical to MapProxy.
 */
import type { TileCoord } from './tile-grid.ts';

const ZEROS = ['', '0', '00', '000', '0000'];

/** Zero-padded integer; hand-rolled because padStart showed up in cache-hit profiles. */
export function pad(n: number, w: number): string {
  const s = String(Math.trunc(n));
  const missing = w - s.length;
  return missing <= 0 ? s : ZEROS[missing] + s;
}

/** TileCache path: 09/001/234/567/087/654/321 */
export function tcPath([x, y, z]: TileCoord): string {
  return `${pad(z, 2)}/${pad(x / 1e6, 3)}/${pad((x / 1000) % 1000, 3)}/${pad(x % 1000, 3)}/${pad(y / 1e6, 3)}/${pad((y / 1000) % 1000, 3)}/${pad(y % 1000, 3)}`;
}

/** MapProxy's mp layout: 22/1234/5678/9876/5432 */
export function mpPath([x, y, z]: TileCoord): string {
  return `${pad(z, 2)}/${pad(x / 10000, 4)}/${pad(x % 10000, 4)}/${pad(y / 10000, 4)}/${pad(y % 10000, 4)}`;
}

/** z/x/y */
export function tmsPath([x, y, z]: TileCoord): string {
  return `${z}/${x}/${y}`;
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

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/** ArcGIS cache path: L09/R05397fb1/C0012d687 */
export function arcgisPath([x, y, z]: TileCoord): string {
  return `L${pad(z, 2)}/R${hex8(y)}/C${hex8(x)}`;
}
