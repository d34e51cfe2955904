/**
 * Generates src/srs/epsg-defs.json from the epsg-index package.
 *
 * Run only when upgrading epsg-index: `npx bun scripts/gen-epsg.ts`.
 * The output is committed so the runtime never reads files (esbuild embeds the JSON).
 *
 * Output: { "<code>": [proj4 string, axis flag] } where the axis flag is 1 when
 * MapProxy (pyproj `axis_info[0].direction == 'north'`) treats the CRS as
 * north/east ordered (WMS 1.3.0 BBOX, WMTS TopLeftCorner).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import proj4 from 'proj4';

interface EpsgEntry {
  code: string;
  kind: string;
  name: string;
  wkt: string | null;
  proj4: string | null;
  bbox: [number, number, number, number] | null; // north, west, south, east
}

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const all = JSON.parse(readFileSync(join(root, 'node_modules/epsg-index/all.json'), 'utf8')) as Record<string, EpsgEntry>;

/**
 * Grids we do not ship, replaced by the Helmert transformation PROJ 9 itself picks
 * when the grid is missing, so results equal MapProxy on a PROJ without that grid.
 */
const GRID_REPLACEMENTS: Record<string, string> = {
  // OSGB36 to WGS 84 (6), EPSG:1314; OSTN15 is ~15 MB
  'OSTN15_NTv2_OSGBtoETRS.gsb': '+towgs84=446.448,-125.157,542.06,0.15,0.247,0.842,-20.489',
};

/**
 * Axis orders that the rules in axisFlag() get wrong, checked against pyproj 3.4 /
 * PROJ 9.1 for every code in the table. epsg-index has no WKT (so no axis hint) for
 * these, or they are polar CRSs whose first axis points "south" along a meridian,
 * which MapProxy does not count as north/east.
 */
const EN_OVERRIDES = new Set([
  // no WKT in epsg-index, EPSG says easting first
  3561, 3562, 3563, 3564, 3565, 5221, 5329, 5330, 5331, 6201, 6202, 6966, 8857, 8858, 8859, 20790,
  20791, 21780, 27561, 27562, 27563, 27564, 27571, 27572, 27573, 27574,
  // polar: first axis "south" (towards the pole's antimeridian)
  3413, 3571, 3572, 3573, 3574, 3575, 3576, 3995, 3996, 5041, 5936, 5937, 5938, 5939, 5940, 6931, 32661,
  // Ferro grids: south, west
  8044, 8045,
]);

/** 1 when the first axis is north, derived from what epsg-index offers. */
function axisFlag(code: number, e: EpsgEntry, def: string): 0 | 1 {
  if (EN_OVERRIDES.has(code)) return 0;
  const axis = /\+axis=(\w)/.exec(def);
  if (axis) return axis[1] === 'n' ? 1 : 0;
  // epsg.io's WKT1 names the axes only when they are not EPSG's north/east default
  const wktAxis = e.wkt ? /AXIS\["[^"]*",(\w+)\]/.exec(e.wkt) : null;
  if (e.kind === 'CRS-GEOGCRS') {
    if (wktAxis) return wktAxis[1] === 'NORTH' ? 1 : 0;
    return /\(lon-lat\)/.test(e.name) ? 0 : 1;
  }
  if (wktAxis) return wktAxis[1] === 'NORTH' ? 1 : 0;
  return 1;
}

/** Drops tokens proj4js ignores anyway, to keep the table small. */
function cleanDef(def: string): string {
  let d = def
    .split(/\s+/)
    .filter((t) => t && t !== '+type=crs' && t !== '+no_defs' && t !== '+wktext' && !t.startsWith('+title='))
    .join(' ');
  for (const [grid, repl] of Object.entries(GRID_REPLACEMENTS)) d = d.replace(`+nadgrids=${grid}`, repl);
  return d;
}

const out: Record<string, [string, 0 | 1]> = {};
const skipped: string[] = [];
const warnSilent = console.log;
for (const e of Object.values(all)) {
  const code = Number(e.code);
  // codes above 32767 are ESRI's, which MapProxy (pyproj's EPSG database) does not know
  if (!e.proj4 || code > 32767) continue;
  if (e.kind !== 'CRS-PROJCRS' && e.kind !== 'CRS-GEOGCRS') continue;
  const def = cleanDef(e.proj4);
  try {
    const conv = proj4('+proj=longlat +datum=WGS84', def);
    // a forward transform of the area-of-use centre proves proj4js supports the projection
    if (e.bbox && !/\+nadgrids=(?!@null)/.test(def)) {
      const [n, w, s, east] = e.bbox;
      const lon = w <= east ? (w + east) / 2 : (w + east + 360) / 2;
      // proj4js reports failures by logging; keep the output readable
      console.log = () => {};
      const p = conv.forward([lon > 180 ? lon - 360 : lon, (n + s) / 2]);
      console.log = warnSilent;
      if (!p || !Number.isFinite(p[0]) || !Number.isFinite(p[1])) throw new Error('no result');
    }
  } catch (err) {
    console.log = warnSilent;
    skipped.push(`${e.code} ${e.name}: ${(err as Error).message}`);
    continue;
  }
  out[e.code] = [def, axisFlag(code, e, def)];
}

const target = join(root, 'src/srs/epsg-defs.json');
const json = JSON.stringify(out);
writeFileSync(target, json + '\n');
console.log(`wrote ${Object.keys(out).length} definitions, ${json.length} bytes to ${target}`);
console.log(`skipped ${skipped.length}:`);
for (const s of skipped) console.log('  ' + s);
