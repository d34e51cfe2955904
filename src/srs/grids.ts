/**
 * Datum shift grids that proj4js needs in memory before it parses a definition
 * that names them. Only grids small enough to embed are shipped; for each one a
 * Helmert fallback is used outside the grid, the same choice PROJ makes.
 */
import proj4 from 'proj4';
import { BETA2007_GSB_BASE64 } from './grids/beta2007.ts';

interface GridInfo {
  load: () => ArrayBuffer;
  /** replaces `+nadgrids=<name>` where the grid has no data for a point */
  fallback: string;
}

const GRIDS: Record<string, GridInfo> = {
  'BETA2007.gsb': {
    load: () => decodeBase64(BETA2007_GSB_BASE64),
    // "DHDN to WGS 84 (2)": PROJ 9 picks this Helmert where BeTA2007 has no data
    fallback: '+towgs84=598.1,73.7,418.2,0.202,0.045,-2.455,6.7',
  },
};

const loaded = new Set<string>();

/** Grid names a proj4 definition requires (optional `@name` grids and `@null` excluded). */
export function requiredGrids(def: string): string[] {
  const m = /\+nadgrids=(\S+)/.exec(def);
  if (!m) return [];
  return m[1].split(',').filter((g) => !g.startsWith('@'));
}

/**
 * Loads the grids `def` needs into proj4js; returns the grids that are not
 * available (transforms through `def` cannot work then).
 */
export function ensureGrids(def: string): string[] {
  const missing: string[] = [];
  for (const name of requiredGrids(def)) {
    const info = GRIDS[name];
    if (!info) {
      missing.push(name);
      continue;
    }
    if (!loaded.has(name)) {
      proj4.nadgrid(name, info.load());
      loaded.add(name);
    }
  }
  return missing;
}

/** The definition with every shipped grid replaced by its Helmert fallback, or undefined without grids. */
export function fallbackDef(def: string): string | undefined {
  const m = /\+nadgrids=(\S+)/.exec(def);
  if (!m) return undefined;
  const grids = m[1].split(',');
  if (grids.length !== 1 || !GRIDS[grids[0]]) return undefined;
  return def.replace(m[0], GRIDS[grids[0]].fallback);
}

/** atob exists in Bun, Deno and Node >= 16, unlike Buffer. */
function decodeBase64(b64: string): ArrayBuffer {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}
