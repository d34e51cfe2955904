/** The HTTP answer for one tile, shared by TMS, /tiles, WMTS and KML: caching headers, ETag and 304 as MapProxy sends them. */
import type { Tile } from '../cache/tile-manager.ts';
import { RequestError, SourceError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { mimeFromFormat } from '../image/format.ts';
import { httpDate, notModified, NO_CACHE_HEADERS, tileEtag } from '../server/http.ts';

/** The tile's response: no-cache headers for substitute tiles, else ETag, Last-Modified, Cache-Control and a 304 when the client has it. */
export function tileResponse(req: Request, tile: Tile, cacheControl: string, corsOrigin: string): Response {
  if (!tile.cacheable) {
    const headers: Record<string, string> = { 'Content-Type': mimeFromFormat(tile.format), ...NO_CACHE_HEADERS };
    if (corsOrigin) headers['Access-Control-Allow-Origin'] = corsOrigin;
    if (tile.status) headers['X-Cache'] = tile.status;
    if (tile.cacheControl) headers['Cache-Control'] = tile.cacheControl;
    headers['Content-Length'] = String(tile.bytes.length);
    return new Response(tile.bytes as Uint8Array<ArrayBuffer>, { headers });
  }
  const etag = tileEtag(tile.mtime, tile.bytes.length);
  // one object literal in a fixed shape: this runs for every cache hit
  const headers: Record<string, string> = {
    'Content-Type': mimeFromFormat(tile.format),
    ETag: etag,
    'Last-Modified': httpDate(tile.mtime),
    // stale tiles get a short max-age: the refreshed one is there soon
    'Cache-Control': tile.cacheControl ?? cacheControl,
    // lets `serve --access-log` log the size without reading the body again
    'Content-Length': String(tile.bytes.length),
  };
  if (corsOrigin) headers['Access-Control-Allow-Origin'] = corsOrigin;
  if (tile.status) headers['X-Cache'] = tile.status;
  if (notModified(req, etag, tile.mtime)) {
    delete headers['Content-Type'];
    delete headers['Content-Length'];
    return new Response(null, { status: 304, headers });
  }
  return new Response(tile.bytes as Uint8Array<ArrayBuffer>, { headers });
}

/** MapProxy's Cache-Control for tiles of a given max age in seconds. */
export function tileCacheControl(maxAge: number): string {
  return `public, max-age=${maxAge}, s-maxage=${maxAge}`;
}

/**
 * Status and client message of a failed request: a RequestError as it says,
 * upstream trouble (SourceError) 502, anything else 500 with the stack only in
 * the log. `code` is the OGC exception code where one applies.
 */
export function failure(e: unknown, log: Logger): { status: number; msg: string; code?: string } {
  if (e instanceof RequestError) return { status: e.status, msg: e.message, code: e.code };
  if (e instanceof SourceError) {
    log.warn(`source error: ${e.message}`);
    return { status: 502, msg: e.message };
  }
  log.error(`internal error: ${(e as Error)?.stack ?? e}`);
  return { status: 500, msg: 'internal error' };
}
