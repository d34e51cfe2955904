/**
 * Tile creation delegated to a renderd (`globals.renderd.address`), speaking
 * MapProxy 1.15's protocol (mapproxy/cache/renderd.py): one POST per meta
 * tile with the JSON message
 * `{"command": "tile", "id": <sha1>, "tiles": [[x, y, z]], "cache_identifier": "<cache>_<grid>", "priority": N}`
 * and the answer `{"status": "ok" | "error" | "lock", "error_message": ...}`.
 * The renderd stores the tiles in the shared cache; the caller reads them
 * from there. The renderd may be MapProxy-Renderd or `mapproxy renderd`.
 */
import { createHash } from 'node:crypto';
import { ConfigError, SourceError } from '../errors.ts';
import type { TileCoord } from '../grid/tile-grid.ts';
import { LockTimeoutError } from '../cache/tile-lock.ts';
import { getLogger } from '../log/logger.ts';
import { metrics } from '../util/metrics.ts';
import type { RenderPriority } from './queue.ts';
import type { Semaphore } from '../util/semaphore.ts';

const requestLog = getLogger('mapproxy.source.request');

/** Creates and stores the meta tile containing a tile somewhere else (a renderd). */
export interface RemoteCreator {
  /**
   * Creates and stores the meta tile containing `coord` of cache `cacheId`
   * (MapProxy's `<cachename>_<gridname>`). Throws SourceError when the
   * renderd failed or could not be asked, LockTimeoutError when it answered
   * that the tile is locked.
   */
  create(cacheId: string, coord: TileCoord, priority: RenderPriority): Promise<void>;
}

/** Options of renderdClient. */
export interface RenderdClientOptions {
  /** Seconds to wait for the renderd's answer (default 300: a busy renderd queues work). */
  timeoutSeconds?: number;
  /** fetch to use (tests). */
  fetch?: typeof fetch;
  /** Held for each request when set: the upstream requests of a seed worker (its share of -c), renderd's included. */
  slots?: Semaphore;
}

/** MapProxy sends 100 on demand and 10 while seeding; refresh and prefetch sit between and below. */
export const RENDERD_PRIORITY: Readonly<Record<RenderPriority, number>> = { ondemand: 100, refresh: 50, seed: 10, prefetch: 5 };

/** The renderd answered `lock`: another creation of the tile held its lock too long. */
export class RenderdLockTimeout extends LockTimeoutError {
  override name = 'RenderdLockTimeout';
  constructor(what: string, detail: string) {
    super(what, 0);
    this.message = `lock timeout from renderd: ${detail}`;
  }
}

/** A RemoteCreator that POSTs MapProxy's renderd message to `address` (an http(s) URL). */
export function renderdClient(address: string, opts: RenderdClientOptions = {}): RemoteCreator {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new ConfigError(`invalid renderd address '${address}': expected an http:// or https:// URL`, { file: '', path: 'globals.renderd.address' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`invalid renderd address '${address}': expected an http:// or https:// URL`, { file: '', path: 'globals.renderd.address' });
  }
  const timeoutMs = Math.max(0.001, opts.timeoutSeconds ?? 300) * 1000;
  const doFetch = opts.fetch ?? fetch;

  const creator: RemoteCreator = {
    async create(cacheId, coord, priority) {
      const body = renderdMessage(cacheId, [coord], RENDERD_PRIORITY[priority]);
      // MapProxy's log line: RENDERD <address>:<cache id>:(x, y, z) <status> - <ms>
      const where = `${address}:${cacheId}:${pyTuple(coord)}`;
      const started = performance.now();
      const done = (status: number | undefined) => {
        const ms = performance.now() - started;
        metrics.upstreamRequests.inc(['renderd', status === undefined ? '-' : String(status)]);
        metrics.upstreamDuration.observe(['renderd'], ms / 1000);
        if (status !== 200) metrics.upstreamErrors.inc(['renderd']);
        if (requestLog.enabled('info')) requestLog.info(`RENDERD ${where.replace(/ /g, '')} ${status ?? '-'} - ${Math.floor(ms)}`);
      };

      let text: string;
      let httpStatus: number;
      try {
        // no Content-Type, as MapProxy's requests.post(data=str) sends it
        const resp = await doFetch(url, { method: 'POST', body, signal: AbortSignal.timeout(timeoutMs) });
        httpStatus = resp.status;
        text = await resp.text();
      } catch (e) {
        done(undefined);
        const err = e as Error;
        const why = err?.name === 'TimeoutError' || err?.name === 'AbortError' ? `no answer within ${timeoutMs / 1000} s` : String(err?.message ?? e);
        throw new SourceError(`error while communicating with renderd at ${address}: ${why}`);
      }

      let answer: unknown;
      try {
        answer = JSON.parse(text);
      } catch {
        done(undefined);
        const http = httpStatus < 200 || httpStatus >= 300 ? `HTTP ${httpStatus}, ` : '';
        throw new SourceError(`error while communicating with renderd at ${address}: ${http}invalid JSON`);
      }
      const status = isObject(answer) ? answer.status : undefined;
      const message = isObject(answer) && typeof answer.error_message === 'string' ? answer.error_message : undefined;
      if (status === 'ok') {
        done(200);
        return;
      }
      if (status === 'lock') {
        done(503);
        throw new RenderdLockTimeout(where, message ?? 'unknown lock timeout error from renderd');
      }
      done(500);
      if (status === 'error') throw new SourceError(`error from renderd: ${message ?? 'unknown error from renderd'}`);
      throw new SourceError(`error from renderd: unexpected answer ${text.slice(0, 200)}`);
    },
  };
  const slots = opts.slots;
  return slots ? { create: (cacheId, coord, priority) => slots.run(() => creator.create(cacheId, coord, priority)) } : creator;
}

/**
 * The request body byte for byte as MapProxy 1.15 sends it: json.dumps()
 * of the message (key order, ', ' and ': ' separators, ASCII escapes), with
 * the id MapProxy computes, sha1(str((cache_identifier, [(x, y, z)]))).
 */
export function renderdMessage(cacheId: string, tiles: readonly TileCoord[], priority: number): string {
  const id = renderdId(cacheId, tiles);
  const list = tiles.map((t) => `[${t[0]}, ${t[1]}, ${t[2]}]`).join(', ');
  return `{"command": "tile", "id": "${id}", "tiles": [${list}], "cache_identifier": ${pyJsonString(cacheId)}, "priority": ${priority}}`;
}

/** MapProxy's message id: sha1 hex of Python's str() of the (cache_identifier, tile list) tuple. */
export function renderdId(cacheId: string, tiles: readonly TileCoord[]): string {
  const repr = `(${pyStrRepr(cacheId)}, [${tiles.map(pyTuple).join(', ')}])`;
  return createHash('sha1').update(repr, 'utf8').digest('hex');
}

function pyTuple(t: readonly number[]): string {
  return `(${t.join(', ')})`;
}

/** Python's repr() of a str (ASCII identifiers are what MapProxy can send at all: it encodes the repr as ASCII). */
function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || ch === quote) out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}

/** JSON string as Python's json.dumps writes it (ensure_ascii). */
function pyJsonString(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\uffff]/g, (ch) => '\\u' + ch.charCodeAt(0).toString(16).padStart(4, '0'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
