/**
 * The floor under `mapproxy serve` for bench/serve.ts: a bare Bun.serve that
 * answers the bench's TMS URLs from the same tile files with the same work a
 * cache hit cannot avoid (open, fstat, read, close; ETag, Last-Modified and
 * the other hit headers) and nothing else: no config, services, metrics,
 * limits or logging. bench/serve.ts compiles it like dist/mapproxy and runs
 * as many processes as workers on one port (reusePort), so the gap between
 * this and mapproxy-ts is our own per-request cost and the gap between this
 * and nginx is the runtime's.
 *
 *   bun bench/serve-floor.ts PORT CACHE_DIR
 */
import * as fs from 'node:fs';
import { tileRelPath } from '../src/cache/file-layout.ts';
import { pythonMtime } from '../src/cache/file-cache.ts';
import { httpDate, tileEtag } from '../src/server/http.ts';
import { tileCacheControl } from '../src/service/tile-response.ts';

const [port, cacheDir] = [Number(process.argv[2]), process.argv[3]];
if (!Number.isInteger(port) || !cacheDir) {
  console.error('usage: serve-floor PORT CACHE_DIR');
  process.exit(2);
}
const prefix = `${cacheDir.replace(/\/+$/, '')}/`;
// the bench's URLs: /tms/1.0.0/osm/EPSG900913/Z/X/Y.png, TMS level Z is internal level Z+1
const TILE = /^\/tms\/1\.0\.0\/osm\/EPSG900913\/(\d+)\/(\d+)\/(\d+)\.png$/;
const cacheControl = tileCacheControl(259200);
const notFound = () => new Response('not found\n', { status: 404 });

Bun.serve({
  hostname: '127.0.0.1',
  port,
  reusePort: true,
  fetch(req) {
    const url = req.url;
    const m = TILE.exec(url.slice(url.indexOf('/', url.indexOf('//') + 2)));
    if (!m) return notFound();
    let fd: number;
    try {
      fd = fs.openSync(prefix + tileRelPath('tc', [Number(m[2]), Number(m[3]), Number(m[1]) + 1], 'png'), 'r');
    } catch {
      return notFound();
    }
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      const bytes = new Uint8Array(Number(st.size));
      fs.readSync(fd, bytes, 0, bytes.length, 0);
      const mtime = pythonMtime(st.mtimeNs);
      return new Response(bytes, {
        headers: {
          'Content-Type': 'image/png',
          ETag: tileEtag(mtime, bytes.length),
          'Last-Modified': httpDate(mtime),
          'Cache-Control': cacheControl,
          'Content-Length': String(bytes.length),
          'Access-Control-Allow-Origin': '*',
          'X-Cache': 'HIT',
        },
      });
    } finally {
      fs.closeSync(fd);
    }
  },
});
