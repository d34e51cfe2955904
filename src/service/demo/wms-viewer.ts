/** The WMS side of the demo: which SRS and formats to offer per layer, and the viewer config. */
import { CacheMapLayer, ResolutionConditionalLayer } from '../../layer/cache-layer.ts';
import { layerExtent, type WmsLayer } from '../../layer/wms-layer.ts';
import type { TileGrid } from '../../grid/tile-grid.ts';
import type { Source } from '../../source/source.ts';
import { TileSource } from '../../source/tile.ts';
import { WmsSource } from '../../source/wms.ts';
import { getSrs, isSameSrs, type Srs } from '../../srs/srs.ts';
import type { Bbox } from '../../srs/types.ts';
import type { WmsService } from '../wms/wms-service.ts';
import type { WmsViewerConfig } from './viewer-config.ts';
import { viewerProjection } from './viewer-srs.ts';

/** One SRS choice of a layer; native ones are served without reprojection (MapProxy marks them with *). */
export interface SrsChoice {
  code: string;
  native: boolean;
}

/** Sources that draw the layer: its own, else its children's (a group layer). */
function drawingSources(l: WmsLayer): Source[] {
  if (l.mapLayers.length || !l.children.length) return l.mapLayers;
  return l.children.flatMap(drawingSources);
}

/** Grids of the caches behind the layer. */
function layerGrids(l: WmsLayer): TileGrid[] {
  const out: TileGrid[] = [];
  for (const s of drawingSources(l)) {
    const cache = s instanceof ResolutionConditionalLayer ? s.cached : s;
    if (cache instanceof CacheMapLayer) out.push(...cache.opts.managers.map((m) => m.grid));
  }
  return out;
}

/** SRS the layer's sources answer directly: cache grids, tile source grids, WMS supported_srs. */
function nativeSrs(l: WmsLayer): Srs[] {
  const out: Srs[] = layerGrids(l).map((g) => g.srs);
  for (const s of drawingSources(l)) {
    if (s instanceof TileSource) out.push(s.opts.grid.srs);
    else if (s instanceof WmsSource) out.push(...s.opts.supportedSrs);
  }
  return out;
}

/** The WMS SRS for a layer, native ones first, each group by EPSG number (as MapProxy's demo sorts them). */
export function layerSrsChoices(wms: WmsService, l: WmsLayer): SrsChoice[] {
  const natives = nativeSrs(l);
  const choices = wms.opts.srs.map((code) => {
    let native = false;
    try {
      const srs = getSrs(code);
      native = natives.some((n) => n.code === srs.code);
    } catch {
      // the config loader rejects unknown codes; nothing to mark
    }
    return { code, native };
  });
  const key = (c: string) => {
    const m = /(\d+)$/.exec(c);
    return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
  };
  return choices.sort((a, b) => Number(b.native) - Number(a.native) || key(a.code) - key(b.code));
}

/** Offered GetMap formats the viewer can show: PNG and JPEG, as MapProxy's demo filters them. */
export function demoImageFormats(wms: WmsService): string[] {
  return [...wms.opts.imageFormats.keys()].filter((f) => /^image\/(png|jpeg)\b/i.test(f));
}

function finite(b: Bbox): boolean {
  return b.every(Number.isFinite) && b[0] < b[2] && b[1] < b[3];
}

function transformTo(bbox: Bbox, from: Srs, to: Srs): Bbox | undefined {
  try {
    const b = isSameSrs(from, to) ? bbox : from.transformBbox(bbox, to);
    return finite(b) ? b : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Where the viewer starts: the layer's extent if it is in that SRS, else a
 * fixed bbox_srs extent, else a grid of its caches in that SRS, else the
 * layer's extent (the world without one) transformed; in a zone projection
 * (UTM, Gauss-Krüger) only the part within the zone, see zoneWindow.
 */
export function wmsInitialExtent(wms: WmsService, l: WmsLayer, srs: Srs): Bbox {
  const ext = layerExtent(l);
  if (ext && isSameSrs(ext.srs, srs)) return [ext.bbox[0], ext.bbox[1], ext.bbox[2], ext.bbox[3]];
  for (const [code, fixed] of wms.opts.srsExtents) {
    if (!fixed || code.toUpperCase() !== srs.code.toUpperCase()) continue;
    const b = transformTo(fixed.bbox, fixed.srs, srs);
    if (b) return b;
  }
  const grid = layerGrids(l).find((g) => isSameSrs(g.srs, srs));
  if (grid) return [grid.bbox[0], grid.bbox[1], grid.bbox[2], grid.bbox[3]];
  const wgs84 = getSrs('EPSG:4326');
  const world: Bbox = [-180, -90, 180, 90];
  const zone = zoneWindow(srs);
  if (zone) {
    const ll = ext ? transformTo(ext.bbox, ext.srs, wgs84) : world;
    const clipped: Bbox | undefined = ll && [Math.max(ll[0], zone[0]), Math.max(ll[1], zone[1]), Math.min(ll[2], zone[2]), Math.min(ll[3], zone[3])];
    // a layer outside the zone: show the zone, the map is empty there either way
    const b = transformTo(clipped && finite(clipped) ? clipped : zone, wgs84, srs);
    if (b) return b;
  }
  return (ext && transformTo(ext.bbox, ext.srs, srs)) ?? transformTo(world, wgs84, srs) ?? world;
}

/**
 * The lon/lat box where a transverse Mercator zone (UTM, Gauss-Krüger) is
 * meant to be used: three degrees either side of its meridian. The whole
 * world in such a projection is a distorted band thousands of km wide.
 */
export function zoneWindow(srs: Srs): Bbox | undefined {
  const def = srs.proj4def;
  const proj = /\+proj=(\w+)/.exec(def)?.[1];
  let lon0: number;
  let south: boolean;
  if (proj === 'utm') {
    const zone = Number(/\+zone=(\d+)/.exec(def)?.[1]);
    if (!(zone >= 1 && zone <= 60)) return undefined;
    lon0 = -183 + 6 * zone;
    south = /\+south\b/.test(def);
  } else if (proj === 'tmerc' || proj === 'etmerc') {
    lon0 = Number(/\+lon_0=(-?[\d.]+)/.exec(def)?.[1] ?? 0);
    // national grids keep northings positive: a false northing of 10000 km means the south
    south = Number(/\+y_0=(-?[\d.]+)/.exec(def)?.[1] ?? 0) >= 5_000_000;
  } else return undefined;
  return south ? [lon0 - 3, -80, lon0 + 3, 0] : [lon0 - 3, 0, lon0 + 3, 84];
}

/** The WMS version the viewer asks for: 1.1.1 as MapProxy's demo, else the newest offered. */
function viewerVersion(wms: WmsService): string {
  const v = wms.opts.versions;
  return v.includes('1.1.1') ? '1.1.1' : v[v.length - 1];
}

/** The browser config of a WMS viewer (single GetMap image, exceptions drawn into it). */
export function wmsViewerConfig(wms: WmsService, l: WmsLayer, srs: Srs, format: string): WmsViewerConfig {
  const params: Record<string, string> = {
    LAYERS: l.name ?? '',
    FORMAT: format,
    VERSION: viewerVersion(wms),
    STYLES: '',
    EXCEPTIONS: 'application/vnd.ogc.se_inimage',
  };
  if (/^image\/png/i.test(format)) params.TRANSPARENT = 'TRUE';
  const [x0, y0, x1, y1] = wmsInitialExtent(wms, l, srs);
  return { type: 'wms', projection: viewerProjection(srs), url: '../service', params, initialExtent: [x0, y0, x1, y1] };
}
