/** What the demo pages are built from: the services of one proxy and its tile layers. */
import type { Proxy } from '../../core/build-proxy.ts';
import type { TileLayer } from '../../layer/tile-layer.ts';
import type { TmsService } from '../tms/tms-service.ts';
import type { WmsService } from '../wms/wms-service.ts';
import { DEFAULT_RESTFUL_TEMPLATE, tileExtension, type TileEntry, type TileKind, type TileUrlOptions } from './tile-urls.ts';

/** The WMTS service as far as the demo needs to know it. */
export interface DemoWmts {
  kvp: boolean;
  restful: boolean;
  restfulTemplate: string;
}

/** Services and layers of the proxy, resolved once. */
export interface DemoContext {
  wms?: WmsService;
  tms?: TmsService;
  wmts?: DemoWmts;
  /** every tile layer (TMS name paths where TMS runs, else layer/grid) */
  tiles: TileEntry[];
  urls: TileUrlOptions;
}

/** Build the context from a proxy; `wmts` defaults to the proxy's WMTS service. */
export function demoContext(proxy: Proxy, wmtsOption?: DemoWmts): DemoContext {
  const tms = proxy.services.tms;
  const wmts: DemoWmts | undefined = wmtsOption ?? proxy.services.wmts;
  const tiles: TileEntry[] = tms
    ? tms.opts.index.layers.map((e) => ({ layer: e.layer, namePath: e.namePath }))
    : proxy.tileLayers.map((l) => ({ layer: l, namePath: [l.name, l.gridName] as const }));
  return {
    wms: proxy.services.wms,
    tms,
    wmts: wmts && (wmts.kvp || wmts.restful) ? { ...wmts, restfulTemplate: wmts.restfulTemplate || DEFAULT_RESTFUL_TEMPLATE } : undefined,
    tiles,
    urls: { tilesOrigin: tms?.opts.origin, restfulTemplate: wmts?.restfulTemplate || DEFAULT_RESTFUL_TEMPLATE },
  };
}

/** How each tile viewer is named and addressed. */
export const KINDS: Record<TileKind, { label: string; param: string; encoding?: 'rest' | 'kvp' }> = {
  tms: { label: 'TMS', param: 'tms_layer' },
  tiles: { label: 'Tiles (/tiles)', param: 'tiles_layer' },
  'wmts-rest': { label: 'WMTS RESTful', param: 'wmts_layer', encoding: 'rest' },
  'wmts-kvp': { label: 'WMTS KVP', param: 'wmts_layer', encoding: 'kvp' },
};

/** The tile viewers this configuration offers. */
export function availableKinds(ctx: DemoContext): TileKind[] {
  const out: TileKind[] = [];
  if (ctx.tms) out.push('tms', 'tiles');
  if (ctx.wmts?.restful) out.push('wmts-rest');
  if (ctx.wmts?.kvp) out.push('wmts-kvp');
  return out;
}

/**
 * Whether the service publishes the layer, as MapProxy's demo decides: TMS
 * needs a grid that can be counted from the south-west, WMTS from the north-west.
 */
export function kindSupports(kind: TileKind, layer: TileLayer): boolean {
  if (kind === 'tms') return layer.grid.supportsAccessWithOrigin('sw');
  if (kind === 'wmts-rest' || kind === 'wmts-kvp') return layer.grid.supportsAccessWithOrigin('nw');
  return true;
}

/** The link (relative to /demo/) of a tile viewer. */
export function tileViewerHref(kind: TileKind, e: TileEntry): string {
  const k = KINDS[kind];
  const params = new URLSearchParams({ [k.param]: e.layer.name, format: tileExtension(e.layer), srs: e.layer.grid.srs.code, grid: e.layer.gridName });
  if (k.encoding) params.set('encoding', k.encoding);
  return `./?${params}`;
}

/**
 * The tile layer a viewer request means: by name, then grid name, else SRS
 * (MapProxy's demo links carry only the SRS), else the first of that name.
 */
export function findTileEntry(ctx: DemoContext, name: string, grid: string | null, srs: string | null): TileEntry | undefined {
  const named = ctx.tiles.filter((e) => e.layer.name === name);
  if (grid !== null) return named.find((e) => e.layer.gridName === grid);
  if (srs !== null) return named.find((e) => e.layer.grid.srs.code.toUpperCase() === srs.trim().toUpperCase());
  return named[0];
}
