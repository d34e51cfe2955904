/**
 * Generates src/srs/epsg-defs.json from the epsg-index package.
 *
 * Run only when upgrading epsg-index: `npx bun scripts/gen-epsg.ts`.
 * The output is committed so the runtime never reads files (esbuild embeds the JSON).
 *
 * Datum shifts: epsg-index's +towgs84 values are one generic (sometimes wrong:
 * EPSG:28992's rotations are in the wrong unit) transformation per datum, while
 * MapProxy gets whatever PROJ picks for the area. So when pyproj is available
 * (Debian's /usr/bin/python3 has it, MapProxy depends on it) the datum part of
 * every definition is replaced by the transformation PROJ uses at the centre of
 * the CRS's area of use, as +towgs84 (or BETA2007, the one grid we ship).
 * `--no-pyproj` keeps epsg-index's datum parameters.
 *
 * Output: { "<code>": [proj4 string, axis flag] } where the axis flag is 1 when
 * MapProxy (pyproj `axis_info[0].direction == 'north'`) treats the CRS as
 * north/east ordered (WMS 1.3.0 BBOX, WMTS TopLeftCorner).
 */
import { spawnSync } from 'node:child_process';
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
 * Without pyproj: grids we do not ship, replaced by the Helmert transformation
 * PROJ 9 itself picks when the grid is missing.
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

/**
 * Asks PROJ which datum transformation to WGS 84 it uses for each code. Prints
 * `code<TAB>datum tokens` lines; the tokens may be empty (PROJ does no shift).
 */
const PY_DATUMS = String.raw`
import sys, re, math, warnings
warnings.simplefilter('ignore')
from pyproj import CRS, Transformer
from pyproj.transformer import TransformerGroup

WGS84 = CRS.from_epsg(4326)
NUM = r'(-?[0-9.eE+-]+)'

def helmert(defn):
    steps = [s.strip() for s in defn.split('step') if 'proj=helmert' in s or 'proj=molodensky' in s]
    if len(steps) != 1:
        return None
    st = steps[0]
    inv = st.startswith('inv ')
    vals = []
    for k in ('x', 'y', 'z', 'rx', 'ry', 'rz', 's'):
        m = re.search(r'(?:^| )' + ('d' + k if 'molodensky' in st and k in 'xyz' else k) + '=' + NUM, st)
        vals.append(float(m.group(1)) if m else 0.0)
    if 'molodensky' in st:
        vals[3:] = [0.0] * 4
    if 'convention=coordinate_frame' in st:
        vals[3:6] = [-v for v in vals[3:6]]
    if inv:
        # first-order inverse; the error is far below a millimetre for datum shifts
        vals = [-v for v in vals]
    if re.search(r't_epoch|dx=|drx=', st):
        return None
    vals = [0.0 if v == 0 else v for v in vals]
    if all(v == 0 for v in vals[3:]):
        vals = vals[:3]
    return '+towgs84=' + ','.join(repr(v).rstrip('0').rstrip('.') if v != int(v) else str(int(v)) for v in vals)

def datum(code):
    crs = CRS.from_epsg(code)
    geod = crs.geodetic_crs
    if geod is None or geod.equals(WGS84):
        return ''
    aou = crs.area_of_use
    w, s, e, n = aou.west, aou.south, aou.east, aou.north
    lon = (w + e) / 2 if w <= e else ((w + e + 360) / 2 + 180) % 360 - 180
    lat = (s + n) / 2
    t = Transformer.from_crs(geod, WGS84, always_xy=True)
    ref = t.transform(lon, lat)
    group = TransformerGroup(geod, WGS84, always_xy=True).transformers
    # the op from_crs picked is the one in the group that gives its result
    dist = lambda g: sum(abs(a - b) for a, b in zip(g.transform(lon, lat), ref))
    chosen = min(group, key=dist) if group else None
    if chosen is not None and not dist(chosen) < 1e-9:
        chosen = None
    cands = ([chosen] if chosen else []) + group
    for g in cands:
        d = g.definition
        if 'grids=' in d:
            if 'BETA2007' in d:
                return '+nadgrids=BETA2007.gsb'
            continue
        if 'helmert' in d or 'molodensky' in d:
            # a chain of shifts (e.g. via a newer national datum) becomes the translation
            # that reproduces it at the centre: exact there, close nearby
            return helmert(d) or fit3(g, geod, lon, lat)
        if g is chosen or 'Ballpark' in g.description or 'null' in d:
            return ''
    return fit3(chosen, geod, lon, lat) if chosen else ''

def cart(ell, lon, lat):
    a = ell.semi_major_metre
    es = 1 - (ell.semi_minor_metre / a) ** 2
    phi, lam = math.radians(lat), math.radians(lon)
    n = a / math.sqrt(1 - es * math.sin(phi) ** 2)
    return (n * math.cos(phi) * math.cos(lam), n * math.cos(phi) * math.sin(lam), n * (1 - es) * math.sin(phi))

def fit3(op, geod, lon, lat):
    lon2, lat2 = op.transform(lon, lat)
    if not (math.isfinite(lon2) and math.isfinite(lat2)):
        return ''
    p1 = cart(geod.ellipsoid, lon, lat)
    p2 = cart(WGS84.ellipsoid, lon2, lat2)
    return '+towgs84=' + ','.join('%.3f' % (b - a) for a, b in zip(p1, p2))

for line in sys.stdin:
    code = int(line)
    try:
        print('%d\t%s' % (code, datum(code)))
    except Exception as ex:
        print('%d\t!%s' % (code, str(ex).replace('\n', ' ')[:100]))
`;

/** Datum tokens per code from PROJ, or undefined when pyproj is not usable. */
function projDatums(codes: string[]): Map<string, string> | undefined {
  const r = spawnSync('/usr/bin/python3', ['-c', PY_DATUMS], { input: codes.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    console.error(r.stderr || r.error?.message);
    return undefined;
  }
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const [code, d] = line.split('\t');
    if (code && d !== undefined && !d.startsWith('!')) out.set(code, d);
  }
  return out;
}

/** Drops tokens proj4js ignores anyway, to keep the table small; swaps in PROJ's datum shift if known. */
function cleanDef(def: string, projDatum: string | undefined): string {
  // one epsg-index grid name contains spaces: "National 84 (02.07.01).gsb"
  let tokens = def
    .replace(/\+nadgrids="[^"]*"/, '+nadgrids=National_84_(02.07.01).gsb')
    .split(/\s+/)
    .filter((t) => t && t !== '+type=crs' && t !== '+no_defs' && t !== '+wktext' && !t.startsWith('+title='));
  if (projDatum !== undefined) {
    tokens = tokens.filter((t) => !t.startsWith('+towgs84=') && !t.startsWith('+nadgrids='));
    // proj4js's NAD27 would pull in grids; PROJ's choice replaces them
    tokens = tokens.map((t) => (t === '+datum=NAD27' ? '+ellps=clrk66' : t));
    if (projDatum) tokens.push(projDatum);
    return tokens.join(' ');
  }
  let d = tokens.join(' ');
  for (const [grid, repl] of Object.entries(GRID_REPLACEMENTS)) d = d.replace(`+nadgrids=${grid}`, repl);
  return d;
}

// codes above 32767 are ESRI's, which MapProxy (pyproj's EPSG database) does not know
const entries = Object.values(all).filter(
  (e) => e.proj4 && Number(e.code) <= 32767 && (e.kind === 'CRS-PROJCRS' || e.kind === 'CRS-GEOGCRS'),
);
const datums = process.argv.includes('--no-pyproj') ? undefined : projDatums(entries.map((e) => e.code));
if (!datums && !process.argv.includes('--no-pyproj')) {
  console.error('pyproj (/usr/bin/python3) is needed for PROJ datum shifts; run with --no-pyproj to use epsg-index only');
  process.exit(1);
}

const out: Record<string, [string, 0 | 1]> = {};
const skipped: string[] = [];
const warnSilent = console.log;
for (const e of entries) {
  const code = Number(e.code);
  const def = cleanDef(e.proj4!, datums?.get(e.code));
  // proj4js and PROJ disagree on west/south axes (South African Lo, Krovak S-W); better unknown than wrong
  if (/\+axis=(?!enu)/.test(def)) {
    skipped.push(`${e.code} ${e.name}: axis ${/\+axis=(\w+)/.exec(def)![1]} not supported`);
    continue;
  }
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
