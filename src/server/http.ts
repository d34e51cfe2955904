/** Small HTTP helpers shared by the services: base URLs, caching headers, conditional requests. */
import { createHash } from 'node:crypto';
import { pyFloat } from '../util/py-format.ts';

/**
 * The URL prefix this app is served under, e.g. 'http://localhost:8080/mapproxy'
 * (no trailing slash), as MapProxy derives it: X-Forwarded-Proto and
 * X-Forwarded-Host (first value) over the request's own scheme and Host,
 * plus X-Script-Name as the path prefix.
 */
export function baseUrl(req: Request): string {
  const url = new URL(req.url);
  const h = req.headers;
  const proto = firstValue(h.get('x-forwarded-proto'))?.toLowerCase();
  const scheme = proto === 'http' || proto === 'https' ? `${proto}:` : url.protocol;
  const host = cleanHost(firstValue(h.get('x-forwarded-host'))) ?? cleanHost(h.get('host')) ?? url.host;
  const script = (h.get('x-script-name') ?? '').trim().replace(/\/+$/, '');
  const prefix = script && /^\/[\w\-./~%]*$/.test(script) ? script : '';
  return `${scheme}//${host}${prefix}`;
}

function firstValue(v: string | null): string | undefined {
  const first = v?.split(',')[0].trim();
  return first ? first : undefined;
}

/** A Host value that cannot inject markup or paths into generated URLs (else undefined). */
function cleanHost(v: string | null | undefined): string | undefined {
  const t = v?.trim();
  return t && /^[A-Za-z0-9.\-_:[\]]+$/.test(t) ? t : undefined;
}

/** Memos of the cache-hit headers: a cache serves the same tiles again and again. */
const MEMO_LIMIT = 65536;
const dates = new Map<number, string>();
/** mtime -> the ETag of the last size seen with it (keyed by number: no string is built on a hit). */
const etags = new Map<number, { size: number; etag: string }>();

function remember<K, V>(memo: Map<K, V>, key: K, value: V): V {
  // dropped wholesale when full: cheaper than LRU bookkeeping on the hot path
  if (memo.size >= MEMO_LIMIT) memo.clear();
  memo.set(key, value);
  return value;
}

/** RFC 7231 date of a timestamp in seconds. */
export function httpDate(seconds: number): string {
  const s = Math.floor(seconds);
  return dates.get(s) ?? remember(dates, s, new Date(s * 1000).toUTCString());
}

/** MapProxy's tile ETag: md5 of str(timestamp) + str(size). */
export function tileEtag(mtime: number, size: number): string {
  const known = etags.get(mtime);
  if (known !== undefined && known.size === size) return known.etag;
  const etag = createHash('md5').update(`${pyFloat(mtime)}${size}`).digest('hex');
  return remember(etags, mtime, { size, etag }).etag;
}

/** Whether If-None-Match / If-Modified-Since make this a 304, MapProxy's make_conditional rules. */
export function notModified(req: Request, etag: string, mtime: number): boolean {
  const inm = req.headers.get('if-none-match');
  if (inm !== null) {
    // MapProxy compares the raw header; accept the quoted and weak forms browsers send too.
    for (const part of inm.split(',')) {
      const v = part.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
      if (v === etag || v === '*') return true;
    }
    return false;
  }
  const ims = req.headers.get('if-modified-since');
  if (ims) {
    const t = Date.parse(ims);
    if (!Number.isNaN(t) && Math.floor(mtime) <= t / 1000) return true;
  }
  return false;
}

/** Headers MapProxy sends on errors so that no cache keeps them. */
export const NO_CACHE_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-cache, no-store',
  Pragma: 'no-cache',
  Expires: '-1',
};
