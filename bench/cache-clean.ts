/**
 * cache-clean and cache-stats on a big file cache: creates N small tile files
 * (default 1,000,000, tc layout, levels 0-9 full and level 10 as far as N
 * reaches) in a temp dir, makes a share of them old, then times cache-stats,
 * a --dry-run and the real clean by age, then --all for the rest. The temp
 * dir is removed at the end, also on errors and Ctrl-C.
 *
 *   npx bun bench/cache-clean.ts [--tiles 1000000] [--old 0.5] [--layout tc]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../src/config/loader.ts';
import { buildProxy } from '../src/core/build-proxy.ts';
import { cleanCache } from '../src/cache/cache-clean.ts';
import { cacheStats } from '../src/cache/cache-stats.ts';
import { DIRECTORY_LAYOUTS, tileRelPath, type DirectoryLayout } from '../src/cache/file-layout.ts';
import type { TileCoord } from '../src/grid/tile-grid.ts';

const MAX_TILES = 5_000_000;
/** Creating the tiles gives up after this long (the bench reports what it has). */
const CREATE_DEADLINE_MS = 20 * 60 * 1000;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def;
}

const tiles = Math.min(MAX_TILES, Math.max(1, Math.floor(Number(arg('tiles', '1000000')))));
const oldShare = Math.min(1, Math.max(0, Number(arg('old', '0.5'))));
const layout = arg('layout', 'tc') as DirectoryLayout;
if (!DIRECTORY_LAYOUTS.includes(layout)) throw new Error(`unknown layout ${layout}`);

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-bench-clean-'));
let removed = false;
const removeRoot = () => {
  if (removed) return;
  removed = true;
  const t = performance.now();
  fs.rmSync(root, { recursive: true, force: true });
  console.log(`temp dir removed in ${((performance.now() - t) / 1000).toFixed(1)} s`);
};
process.on('SIGINT', () => {
  removeRoot();
  process.exit(130);
});

/** Coordinates of a pyramid, level by level, until n tiles. */
function* pyramid(n: number): Generator<TileCoord> {
  let count = 0;
  for (let z = 0; z < 24; z++) {
    const size = 2 ** z;
    for (let x = 0; x < size; x++) {
      for (let y = 0; y < size; y++) {
        if (count++ >= n) return;
        yield [x, y, z];
      }
    }
  }
}

const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (n: number, ms: number) => `${Math.round(n / (ms / 1000)).toLocaleString('en')} tiles/s`;

try {
  const dir = path.join(root, 'tiles');
  fs.writeFileSync(
    path.join(root, 'mapproxy.yaml'),
    `services:\n  tms:\nlayers:\n  - name: osm\n    title: OSM\n    sources: [osm_cache]\ncaches:\n  osm_cache:\n    grids: [GLOBAL_WEBMERCATOR]\n    sources: []\n    cache:\n      type: file\n      directory: ${dir}\n      directory_layout: ${layout}\n`,
  );
  const proxy = buildProxy(loadConfig(path.join(root, 'mapproxy.yaml')));

  const bytes = new Uint8Array(103).fill(42);
  const now = Date.now() / 1000;
  const old = now - 60 * 86400;
  const every = oldShare > 0 ? 1 / oldShare : Infinity;
  let made = 0;
  let madeOld = 0;
  let lastDir = '';
  const t0 = performance.now();
  for (const c of pyramid(tiles)) {
    const p = path.join(dir, tileRelPath(layout, c, 'png'));
    const d = path.dirname(p);
    if (d !== lastDir) {
      fs.mkdirSync(d, { recursive: true });
      lastDir = d;
    }
    fs.writeFileSync(p, bytes);
    // spread the old tiles over all levels and directories
    if (madeOld < (made + 1) / every) {
      fs.utimesSync(p, old, old);
      madeOld++;
    }
    made++;
    if ((made & 0xffff) === 0 && performance.now() - t0 > CREATE_DEADLINE_MS) {
      console.log(`creation stopped at the deadline after ${made} tiles`);
      break;
    }
  }
  const tCreate = performance.now() - t0;
  console.log(`created ${made.toLocaleString('en')} tiles (${madeOld.toLocaleString('en')} old) in ${dir} [${layout}]: ${secs(tCreate)} (${rate(made, tCreate)})`);

  let t = performance.now();
  const stats = cacheStats(proxy, 'osm_cache');
  let ms = performance.now() - t;
  console.log(`cache-stats: ${stats.total.tiles.toLocaleString('en')} tiles, ${stats.total.bytes.toLocaleString('en')} bytes: ${secs(ms)} (${rate(stats.total.tiles, ms)})`);

  t = performance.now();
  const dry = await cleanCache(proxy, { cache: 'osm_cache', maxAge: '30d', dryRun: true, now });
  ms = performance.now() - t;
  console.log(`cache-clean --max-age 30d --dry-run: would remove ${dry.removed.tiles.toLocaleString('en')}, keep ${dry.kept.tiles.toLocaleString('en')}: ${secs(ms)} (${rate(dry.removed.tiles + dry.kept.tiles, ms)})`);

  t = performance.now();
  const real = await cleanCache(proxy, { cache: 'osm_cache', maxAge: '30d', now });
  ms = performance.now() - t;
  console.log(`cache-clean --max-age 30d: removed ${real.removed.tiles.toLocaleString('en')}, kept ${real.kept.tiles.toLocaleString('en')}: ${secs(ms)} (${rate(real.removed.tiles + real.kept.tiles, ms)} walked)`);
  if (real.removed.tiles !== madeOld || real.kept.tiles !== made - madeOld || real.errors.length) throw new Error(`unexpected result: ${JSON.stringify({ removed: real.removed, kept: real.kept, errors: real.errors })}`);

  t = performance.now();
  const after = cacheStats(proxy, 'osm_cache');
  ms = performance.now() - t;
  console.log(`cache-stats after: ${after.total.tiles.toLocaleString('en')} tiles: ${secs(ms)}`);
  t = performance.now();
  const rest = await cleanCache(proxy, { cache: 'osm_cache', all: true });
  ms = performance.now() - t;
  console.log(`cache-clean --all: removed ${rest.removed.tiles.toLocaleString('en')}: ${secs(ms)} (${rate(rest.removed.tiles, ms)})`);
  console.log(`RSS at the end ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
} finally {
  removeRoot();
}
