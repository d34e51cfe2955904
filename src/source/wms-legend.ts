/**
 * Legend graphics of WMS layers, as MapProxy's WMSLegendSource with its
 * WMSLegendClient (wms_opts.legendgraphic: one GetLegendGraphic per source
 * layer) and WMSLegendURLClient (wms_opts.legendurl or a layer's legendurl).
 * Legends are kept in MapProxy's legend cache, <cache.base_dir>/legends/<md5>.png,
 * so an existing MapProxy cache directory is reused and upstreams are asked once.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ConfigError, SourceError } from '../errors.ts';
import { decodeImage, encodeImage, sniffImageFormat } from '../image/codec.ts';
import { mimeFromFormat } from '../image/format.ts';
import type { Raster } from '../image/raster.ts';
import type { LegendSource } from '../layer/wms-layer.ts';
import { getLogger } from '../log/logger.ts';
import { readFileBytes } from '../runtime/runtime.ts';
import { concatLegends, legendCacheFile, legendCacheKey, type LegendSourceId } from '../service/wms/legend.ts';
import { pyFloat } from '../util/py-format.ts';
import type { Semaphore } from '../util/semaphore.ts';
import { HttpClient, splitAuth } from './http-client.ts';

const log = getLogger('mapproxy.source.wms');

/** What a legend source is asked (the shape of LegendSource.getLegend's argument). */
export interface LegendQuery {
  format: string;
  scale?: number;
}

/** One upstream legend: its cache identity and how to get its bytes. */
interface LegendPart {
  id: LegendSourceId;
  fetch(q: LegendQuery): Promise<Uint8Array>;
}

let tmpCounter = 0;

/**
 * The shared cache-then-fetch logic. Static legends are cached without a scale
 * (MapProxy: "prevent caching of static legends for different scales").
 */
abstract class CachedLegendSource implements LegendSource {
  private inflight = new Map<string, Promise<Uint8Array | undefined>>();
  private cachedSize?: [number, number];

  constructor(
    readonly name: string,
    private readonly cacheBaseDir: string,
    private readonly isStatic: boolean,
  ) {}

  protected abstract parts(): readonly LegendPart[];

  /** The cache file for a scale (static legends: one file for all scales). */
  cacheFile(scale?: number): string {
    const ids = this.parts().map((p) => p.id);
    return legendCacheFile(this.cacheBaseDir, legendCacheKey(ids, this.isStatic ? undefined : scale));
  }

  /** The legend as PNG bytes, from the cache or the upstream(s); undefined when the source has no legend. */
  async getLegend(query: LegendQuery): Promise<Uint8Array | undefined> {
    if (this.parts().length === 0) return undefined;
    // an unparsable SCALE must not end up as 'nan' in the cache key
    const q = { ...query, scale: Number.isFinite(query.scale) ? query.scale : undefined };
    const file = this.cacheFile(q.scale);
    const cached = await readCached(file);
    if (cached) return cached;
    // concurrent requests for one legend (capabilities + GetLegendGraphic) share one upstream round
    let p = this.inflight.get(file);
    if (!p) {
      p = this.fetchAndStore(q, file).finally(() => this.inflight.delete(file));
      this.inflight.set(file, p);
    }
    return p;
  }

  /** Legend width and height for WMS 1.1.x capabilities; undefined when there is none or the upstream fails. */
  async size(): Promise<[number, number] | undefined> {
    if (this.cachedSize) return this.cachedSize;
    let png: Uint8Array | undefined;
    try {
      png = await this.getLegend({ format: 'image/png' });
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      log.warn(`no legend size for '${this.name}': ${e.message}`);
      return undefined;
    }
    if (!png) return undefined;
    const s = await imageSize(png);
    if (s) this.cachedSize = s;
    return s;
  }

  private async fetchAndStore(q: LegendQuery, file: string): Promise<Uint8Array | undefined> {
    const parts = this.parts();
    const results = await Promise.allSettled(parts.map((p) => p.fetch(q)));
    const images: Uint8Array[] = [];
    const errors: unknown[] = [];
    for (const r of results) {
      if (r.status === 'fulfilled') images.push(r.value);
      else errors.push(r.reason);
    }
    for (const e of errors) {
      if (!(e instanceof SourceError)) throw e;
      log.error(e.message);
    }
    // MapProxy shows the legends it got; with none at all there is nothing worth a 1x1 pixel
    if (images.length === 0) throw errors[0];
    const png = await combine(images, this.name);
    // a partial legend is served but not cached, so the missing part is asked again next time
    if (errors.length === 0) await writeAtomic(file, png);
    return png;
  }
}

/** Options of a GetLegendGraphic legend source (wms_opts.legendgraphic). */
export interface WmsLegendSourceOptions {
  name: string;
  /** The source's req.url: may carry query parameters and user:pass@ (not part of the cache key). */
  url: string;
  /** `req` minus url: layers (one request each), styles, transparent and any extra parameter, as written. */
  params: Record<string, string>;
  /** wms_opts.version; GetLegendGraphic exists for 1.1.1 and 1.3.0 only, older versions ask as 1.1.1. */
  version: string;
  client: HttpClient;
  /** globals.cache.base_dir (absolute). */
  cacheBaseDir: string;
  /** req.format / request_format; otherwise the query's format. */
  format?: string;
  /** concurrent_requests, shared with the map source of the same host. */
  limiter?: Semaphore;
}

// Keys this source writes itself; a same-named req entry must not be sent twice.
const LEGEND_OWN_KEYS = new Set(['service', 'request', 'version', 'sld_version', 'layers', 'layer', 'format', 'scale', 'styles']);

/** GetLegendGraphic of every layer of a wms source, stacked into one legend. */
export class WmsLegendSource extends CachedLegendSource {
  private readonly layerParts: LegendPart[];
  private readonly given: Map<string, readonly [string, string]>;

  constructor(readonly opts: WmsLegendSourceOptions) {
    super(opts.name, opts.cacheBaseDir, false);
    this.given = new Map(Object.entries(opts.params).map(([k, v]) => [k.toLowerCase(), [k, String(v)] as const]));
    const layers = (this.given.get('layers')?.[1] ?? '').split(',').map((l) => l.trim()).filter(Boolean);
    // MapProxy identifies a legend by the URL without credentials, so they never reach the md5
    const idUrl = splitAuth(opts.url).url;
    this.layerParts = layers.map((layer) => ({
      id: [idUrl, layer] as const,
      fetch: (q: LegendQuery) => this.fetchLayer(layer, q),
    }));
  }

  protected parts(): readonly LegendPart[] {
    return this.layerParts;
  }

  /** The upstream GetLegendGraphic URL for one layer. */
  getLegendUrl(layer: string, q: LegendQuery): string {
    const o = this.opts;
    const version = o.version === '1.3.0' ? '1.3.0' : '1.1.1';
    const format = this.given.get('format')?.[1] ?? o.format ?? (q.format ? mimeFromFormat(q.format) : 'image/png');
    const p: [string, string][] = [
      ['service', 'WMS'],
      ['request', 'GetLegendGraphic'],
      ['version', version],
      // MapProxy's fixed parameter for both versions: servers that follow SLD 1.1 require it
      ['sld_version', '1.1.0'],
      ['layer', layer],
      ['format', format],
      ['styles', this.given.get('styles')?.[1] ?? ''],
    ];
    for (const [lk, [k, v]] of this.given) {
      if (!LEGEND_OWN_KEYS.has(lk)) p.push([k, v]);
    }
    if (q.scale) p.push(['scale', pyFloat(q.scale)]);
    const qs = p.map(([k, v]) => `${encodeParam(k)}=${encodeParam(v)}`).join('&');
    const sep = o.url.includes('?') ? (/[?&]$/.test(o.url) ? '' : '&') : '?';
    return o.url + sep + qs;
  }

  private async fetchLayer(layer: string, q: LegendQuery): Promise<Uint8Array> {
    const url = this.getLegendUrl(layer, q);
    const run = () => this.opts.client.get(url);
    const res = await (this.opts.limiter ? this.opts.limiter.run(run) : run());
    return checkImage(res.contentType, res.body, `no legend image returned from source WMS '${this.name}' for layer '${layer}'`);
  }
}

/** Options of a static legend (wms_opts.legendurl or a layer's legendurl). */
export interface StaticLegendSourceOptions {
  name: string;
  /** http(s):// URL, file:///absolute/path or file://path/relative/to/the/config. */
  url: string;
  /** For http(s) URLs; MapProxy uses a client with default settings here, so that is the fallback. */
  client?: HttpClient;
  /** Directory of the mapproxy.yaml, for relative file:// URLs. */
  configDir: string;
  /** globals.cache.base_dir (absolute). */
  cacheBaseDir: string;
}

/** A legend image at a fixed URL or file, cached like any other legend. */
export class StaticLegendSource extends CachedLegendSource {
  /** The URL as MapProxy resolves it (relative file:// made absolute); the legend's cache identity. */
  readonly url: string;
  private readonly filePath?: string;
  private readonly client?: HttpClient;
  private readonly part: LegendPart;

  constructor(readonly opts: StaticLegendSourceOptions) {
    super(opts.name, opts.cacheBaseDir, true);
    const raw = opts.url;
    if (/^file:\/\//i.test(raw)) {
      const rest = raw.slice('file://'.length);
      // MapProxy: 'file://' + abspath(rest) unless it is already 'file:///...'
      const abs = rest.startsWith('/') ? rest : resolve(opts.configDir, rest);
      this.url = rest.startsWith('/') ? raw : `file://${abs}`;
      let p: string;
      try {
        p = decodeURIComponent(abs);
      } catch {
        p = abs;
      }
      if (!isAbsolute(p)) throw new ConfigError(`legendurl '${raw}' does not name a file`);
      this.filePath = p;
    } else if (/^https?:\/\//i.test(raw)) {
      this.url = raw;
      this.client = opts.client ?? new HttpClient({ clientTimeout: 60, headers: {}, hideErrorDetails: false });
    } else {
      throw new ConfigError(`legendurl '${raw}' is neither http(s):// nor file://`);
    }
    this.part = { id: [this.url, null] as const, fetch: () => this.fetchStatic() };
  }

  protected parts(): readonly LegendPart[] {
    return [this.part];
  }

  private async fetchStatic(): Promise<Uint8Array> {
    if (this.filePath) {
      let bytes: Uint8Array;
      try {
        bytes = await readFileBytes(this.filePath);
      } catch (e) {
        throw new SourceError(`could not read static legend '${this.name}': ${(e as Error).message}`);
      }
      return checkImage('', bytes, `no image in static legend file of '${this.name}'`);
    }
    const res = await this.client!.get(this.url);
    return checkImage(res.contentType, res.body, `no image returned from static LegendURL of '${this.name}'`);
  }
}

/** Width and height of a legend source's image, for WMS 1.1.x LegendURL (MapProxy fetches the legend to know it). */
export async function legendSize(source: LegendSource): Promise<[number, number] | undefined> {
  const s = source as LegendSource & { size?: () => Promise<[number, number] | undefined> };
  if (typeof s.size === 'function') return s.size();
  let bytes: Uint8Array | undefined;
  try {
    bytes = await source.getLegend({ format: 'image/png' });
  } catch (e) {
    if (!(e instanceof SourceError)) throw e;
    return undefined;
  }
  return bytes ? imageSize(bytes) : undefined;
}

/** The image bytes, or SourceError for anything that is not an image (exception XML, HTML, error pages). */
function checkImage(contentType: string, body: Uint8Array, message: string): Uint8Array {
  const ct = contentType.toLowerCase();
  if ((ct && !ct.startsWith('image/')) || !sniffImageFormat(body)) {
    const text = new TextDecoder().decode(body.subarray(0, 500)).replace(/\s+/g, ' ').trim();
    log.warn(`${message}, response was: '${text.slice(0, 200)}'`);
    throw new SourceError(message);
  }
  return body;
}

/** One PNG from the legends: a single PNG passes unchanged (no re-encode), the rest is decoded and stacked. */
async function combine(images: readonly Uint8Array[], name: string): Promise<Uint8Array> {
  if (images.length === 1 && sniffImageFormat(images[0]) === 'png') return images[0];
  const rasters: Raster[] = [];
  for (const img of images) {
    try {
      rasters.push(await decodeImage(img));
    } catch (e) {
      throw new SourceError(`unreadable legend image of '${name}': ${(e as Error).message}`);
    }
  }
  return encodeImage(concatLegends(rasters), { format: 'png' });
}

/** Size from the PNG header without decoding; other formats are decoded. */
async function imageSize(bytes: Uint8Array): Promise<[number, number] | undefined> {
  if (sniffImageFormat(bytes) === 'png' && bytes.length >= 24) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return [dv.getUint32(16), dv.getUint32(20)];
  }
  try {
    const r = await decodeImage(bytes);
    return [r.width, r.height];
  } catch {
    return undefined;
  }
}

/** A cached legend, or undefined when there is none (or it is unusable and must be fetched again). */
async function readCached(file: string): Promise<Uint8Array | undefined> {
  try {
    const bytes = await readFileBytes(file);
    return sniffImageFormat(bytes) ? bytes : undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code !== 'ENOENT') log.warn(`could not read cached legend ${file}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Temp file + rename, so a reader never sees half a legend; a failed write only costs a refetch later. */
async function writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${++tmpCounter}.tmp`;
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(tmp, bytes);
    await rename(tmp, file);
  } catch (e) {
    log.warn(`could not store legend ${file}: ${(e as Error).message}`);
    await unlink(tmp).catch(() => {});
  }
}

/** Python's quote(v, safe=','), as MapProxy encodes request parameters. */
function encodeParam(v: string): string {
  return encodeURIComponent(v)
    .replace(/%2C/gi, ',')
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
