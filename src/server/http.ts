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
/**
 * mtime -> size -> ETag (numbers as keys: no string is built on a hit). Both
 * keys: tiles written within one clock tick share their mtime (a seeded meta
 * tile's 16, thousands of a fast seed), and only the size tells them apart.
 */
const etags = new Map<number, Map<number, string>>();
let etagCount = 0;

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
  let bySize = etags.get(mtime);
  const known = bySize?.get(size);
  if (known !== undefined) return known;
  const etag = createHash('md5').update(`${pyFloat(mtime)}${size}`).digest('hex');
  // dropped wholesale when full, as remember() does
  if (etagCount >= MEMO_LIMIT) {
    etags.clear();
    etagCount = 0;
    bySize = undefined;
  }
  if (bySize === undefined) etags.set(mtime, (bySize = new Map()));
  bySize.set(size, etag);
  etagCount++;
  return etag;
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
