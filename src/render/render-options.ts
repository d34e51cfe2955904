/**
 * The config of background rendering, read by core:
 *
 * globals.render: { concurrency, max_seed_share | keep_free, max_prefetch }
 *   the process's render queue (see queue.ts).
 * caches.NAME:
 *   stale_while_revalidate: DURATION | { duration, levels: [from, to], max_age }
 *   stale_if_error: DURATION | { duration, levels, max_age }
 *     both measured past the cache's refresh_before (an expired tile whose
 *     mtime is less than DURATION before the refresh threshold).
 *   waiting_image: { after: DURATION, color | file, cache_control }
 *   prefetch: { levels: 1..3, max_queue }
 *
 * DURATION: seconds as a number, or '500ms', '30s', '5m', '2h', '1d', '1w'.
 */
import * as fs from 'node:fs';
import { sniffImageFormat } from '../image/format.ts';
import { createRaster, type Raster, type Rgba } from '../image/raster.ts';
import { parseColor } from '../image/parse-color.ts';
import type { PrefetchOptions, StaleWindow } from '../cache/tile-manager.ts';
import type { RenderQueueOptions } from './queue.ts';

type Dict = Record<string, any>;
type Fail = (path: string, msg: string) => never;

/** Default creations per process. */
export const DEFAULT_RENDER_CONCURRENCY = 32;
/** Default share of them that seeding and prefetching may hold. */
export const DEFAULT_MAX_SEED_SHARE = 0.75;
/** Default max-age of stale answers. */
export const DEFAULT_STALE_MAX_AGE = 30;

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800 };

/** A duration in seconds: a number, or a number with ms/s/m/h/d/w. */
export function parseConfigDuration(v: unknown, p: string, fail: Fail): number {
  if (typeof v === 'number') {
    if (!(v >= 0) || !Number.isFinite(v)) fail(p, `expected a duration >= 0, got ${v}`);
    return v;
  }
  const m = typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$/.exec(v) : null;
  if (!m) fail(p, `expected a duration like 30s, 5m, 2h or 1d, got '${v}'`);
  return Number(m[1]) * UNITS[m[2] ?? 's'];
}

/** globals.render as queue options. */
export function renderQueueOptions(render: Dict | undefined, fail: Fail): RenderQueueOptions {
  const r = render ?? {};
  const concurrency = r.concurrency ?? DEFAULT_RENDER_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) fail('globals.render.concurrency', `expected an integer >= 1, got ${concurrency}`);
  if (r.max_seed_share != null && r.keep_free != null) fail('globals.render', 'use either max_seed_share or keep_free, not both');
  let backgroundSlots: number;
  if (r.keep_free != null) {
    const k = r.keep_free;
    if (!Number.isInteger(k) || k < 0 || k >= concurrency) fail('globals.render.keep_free', `expected an integer 0..${concurrency - 1} (below concurrency), got ${k}`);
    backgroundSlots = concurrency - k;
  } else {
    const share = r.max_seed_share ?? DEFAULT_MAX_SEED_SHARE;
    if (!(share > 0 && share <= 1)) fail('globals.render.max_seed_share', `expected a share above 0 and at most 1, got ${share}`);
    backgroundSlots = Math.max(1, Math.floor(concurrency * share));
  }
  const maxPrefetch = r.max_prefetch ?? 256;
  if (!Number.isInteger(maxPrefetch) || maxPrefetch < 0) fail('globals.render.max_prefetch', `expected an integer >= 0, got ${maxPrefetch}`);
  return { concurrency, backgroundSlots, maxPrefetch };
}

/** One process's part of the group's queue: concurrency and background slots divided by `n`, rounded up. */
export function shareOf(q: RenderQueueOptions, n: number): RenderQueueOptions {
  if (!(n > 1)) return q;
  const concurrency = Math.max(1, Math.ceil(q.concurrency / n));
  const backgroundSlots = Math.min(concurrency, Math.max(1, Math.ceil((q.backgroundSlots ?? q.concurrency) / n)));
  return { ...q, concurrency, backgroundSlots };
}

/** stale_while_revalidate / stale_if_error; undefined when not configured. */
export function staleWindow(v: unknown, p: string, fail: Fail): { window: StaleWindow; maxAge?: number } | undefined {
  if (v == null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) return { window: { seconds: parseConfigDuration(v, p, fail) } };
  const d = v as Dict;
  const seconds = parseConfigDuration(d.duration, `${p}.duration`, fail);
  let levels: [number, number] | undefined;
  if (d.levels != null) {
    const l = d.levels;
    const pair = Array.isArray(l) ? l : [l.from ?? 0, l.to ?? Number.MAX_SAFE_INTEGER];
    if (pair.length !== 2 || pair.some((x: unknown) => !Number.isInteger(x) || (x as number) < 0) || pair[0] > pair[1]) {
      fail(`${p}.levels`, 'expected [from, to] or {from, to} with 0 <= from <= to');
    }
    levels = [pair[0], pair[1]];
  }
  let maxAge: number | undefined;
  if (d.max_age != null) {
    if (!(d.max_age >= 0)) fail(`${p}.max_age`, `expected seconds >= 0, got ${d.max_age}`);
    maxAge = Math.trunc(d.max_age);
  }
  return { window: { seconds, levels }, maxAge };
}

/** The parsed waiting_image: its placeholder is encoded (from the colour) on first use. */
export interface WaitingImageConf {
  afterMs: number;
  cacheControl: string;
  /** encoded file bytes, or a colour to fill a tile with */
  image: { bytes: Uint8Array } | { color: Rgba };
}

/** waiting_image; `resolvePath` makes file names relative to the config. */
export function waitingImage(v: unknown, p: string, fail: Fail, resolvePath: (f: string) => string): WaitingImageConf | undefined {
  if (v == null) return undefined;
  const d = v as Dict;
  const afterMs = Math.round(parseConfigDuration(d.after ?? 2, `${p}.after`, fail) * 1000);
  if (d.color != null && d.file != null) fail(p, 'use either color or file, not both');
  let image: WaitingImageConf['image'];
  if (d.file != null) {
    const file = resolvePath(String(d.file));
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(fs.readFileSync(file));
    } catch (e) {
      fail(`${p}.file`, `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!sniffImageFormat(bytes)) fail(`${p}.file`, `${file} is not a PNG, JPEG or GIF image`);
    image = { bytes };
  } else {
    const c = parseColor(d.color ?? '#ffffff00');
    if (!c) fail(`${p}.color`, `invalid colour '${d.color}'`);
    image = { color: c };
  }
  return { afterMs, cacheControl: d.cache_control != null ? String(d.cache_control) : 'no-store', image };
}

/** The placeholder bytes of a waiting image for tiles of this size, encoded by the cache. */
export function waitingImageLoader(conf: WaitingImageConf, tileSize: readonly [number, number], encode: (r: Raster) => Promise<Uint8Array>): () => Promise<Uint8Array> {
  let bytes: Promise<Uint8Array> | undefined;
  return () => {
    if ('bytes' in conf.image) return Promise.resolve(conf.image.bytes);
    const color = conf.image.color;
    bytes ??= encode(createRaster(tileSize[0], tileSize[1], color));
    return bytes;
  };
}

/** prefetch; undefined when not configured. */
export function prefetchOptions(v: unknown, p: string, fail: Fail): PrefetchOptions | undefined {
  if (v == null) return undefined;
  const d = v as Dict;
  const levels = d.levels ?? 1;
  if (!Number.isInteger(levels) || levels < 1 || levels > 3) fail(`${p}.levels`, `expected 1, 2 or 3, got ${levels}`);
  const maxQueue = d.max_queue ?? 64;
  if (!Number.isInteger(maxQueue) || maxQueue < 1) fail(`${p}.max_queue`, `expected an integer >= 1, got ${maxQueue}`);
  return { levels, maxQueue };
}
