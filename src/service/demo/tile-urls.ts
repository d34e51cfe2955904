/**
 * How each tile service names the tiles of a layer: the levels it publishes
 * (with MapProxy's TMS profile shift), the row origin and the URL template,
 * as the viewer config the browser draws from.
 */
import type { TileLayer } from '../../layer/tile-layer.ts';
import { isSameSrs } from '../../srs/srs.ts';
import { tileServiceGrid } from '../tms/tile-service-grid.ts';
import { formatExt } from '../wmts/capabilities.ts';
import type { TileViewerConfig } from './viewer-config.ts';
import { viewerProjection } from './viewer-srs.ts';

/** The tile services a layer can be viewed through. */
export type TileKind = 'tms' | 'tiles' | 'wmts-rest' | 'wmts-kvp';

/** A tile layer with the two URL segments TMS and /tiles address it by. */
export interface TileEntry {
  layer: TileLayer;
  namePath: readonly [string, string];
}

/** MapProxy's default WMTS RESTful template. */
export const DEFAULT_RESTFUL_TEMPLATE = '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}';

/** Service settings the URLs depend on. */
export interface TileUrlOptions {
  /** origin of /tiles (services.tms.origin); unset, /tiles counts rows as the grid does */
  tilesOrigin?: 'sw' | 'nw';
  restfulTemplate: string;
}

/** The URL extension of a layer's tiles (mixed caches answer PNG URLs too). */
export function tileExtension(layer: TileLayer): string {
  return layer.format === 'mixed' ? 'png' : String(layer.format);
}

/**
 * Internal grid levels the service publishes, in order: TMS skips level 0 of
 * global profiles, TMS and /tiles show every second level of sqrt(2) grids
 * (MapProxy's TileServiceGrid), WMTS publishes every level.
 */
export function publishedLevels(kind: TileKind, layer: TileLayer): number[] {
  const levels = layer.grid.levels;
  if (kind === 'wmts-rest' || kind === 'wmts-kvp') return Array.from({ length: levels }, (_, i) => i);
  const sg = tileServiceGrid(layer.grid);
  const shift = kind === 'tms' && sg.skipFirstLevel ? 1 : 0;
  const step = sg.skipOddLevel ? 2 : 1;
  const out: number[] = [];
  for (let pub = 0; (pub + shift) * step < levels; pub++) out.push((pub + shift) * step);
  return out;
}

/** The URL template of one tile, relative to /demo/, with {z}, {x} and {y} left for the browser. */
export function tileUrlTemplate(kind: TileKind, e: TileEntry, opts: TileUrlOptions): string {
  const ext = tileExtension(e.layer);
  const path = e.namePath.map(encodeURIComponent).join('/');
  switch (kind) {
    case 'tms':
      return `../tms/1.0.0/${path}/{z}/{x}/{y}.${ext}`;
    case 'tiles':
      return `../tiles/${path}/{z}/{x}/{y}.${ext}`;
    case 'wmts-kvp': {
      const q = new URLSearchParams({
        SERVICE: 'WMTS', REQUEST: 'GetTile', VERSION: '1.0.0', LAYER: e.layer.name, STYLE: 'default',
        TILEMATRIXSET: e.layer.gridName, TILEMATRIX: '{z}', TILEROW: '{y}', TILECOL: '{x}', FORMAT: e.layer.formatMime,
      });
      // URLSearchParams encodes the braces of the placeholders; the browser fills them in
      return `../service?${q.toString().replace(/%7B([zxy])%7D/g, '{$1}')}`;
    }
    case 'wmts-rest': {
      const values: Record<string, string> = {
        Layer: encodeURIComponent(e.layer.name),
        TileMatrixSet: encodeURIComponent(e.layer.gridName),
        TileMatrix: '{z}',
        TileCol: '{x}',
        TileRow: '{y}',
        Format: formatExt(e.layer),
        Style: 'default',
      };
      // one pass, so a substituted value is never substituted again; any other
      // variable is a dimension, and 'default' selects its default value
      const template = opts.restfulTemplate.replace(/\{\{(\w+)\}\}/g, '{$1}');
      return `../wmts${template.replace(/\{(\w+)\}/g, (_, k: string) => values[k] ?? 'default')}`;
    }
  }
}

/** Which way the service counts rows: TMS bottom-up, WMTS top-down, /tiles as configured, else as the grid. */
export function urlOrigin(kind: TileKind, layer: TileLayer, opts: TileUrlOptions): 'sw' | 'nw' {
  if (kind === 'tms') return 'sw';
  if (kind === 'tiles') return opts.tilesOrigin ?? layer.grid.origin;
  return 'nw';
}

/** The label of published level i in URLs: TMS and /tiles count published levels, WMTS names internal levels. */
function levelId(kind: TileKind, index: number, internal: number): number {
  return kind === 'tms' || kind === 'tiles' ? index : internal;
}

/** The complete browser config of a tile viewer. */
export function tileViewerConfig(kind: TileKind, e: TileEntry, opts: TileUrlOptions): TileViewerConfig {
  const g = e.layer.grid;
  const levels = publishedLevels(kind, e.layer);
  const bbox: [number, number, number, number] = [g.bbox[0], g.bbox[1], g.bbox[2], g.bbox[3]];
  return {
    type: 'tile',
    projection: viewerProjection(g.srs),
    grid: {
      origin: g.origin,
      extent: bbox,
      tileSize: [g.tileSize[0], g.tileSize[1]],
      resolutions: levels.map((z) => g.resolutions[z]),
    },
    levels: levels.map((z, i) => ({ id: levelId(kind, i, z), rows: g.gridSizes[z][1] })),
    url: tileUrlTemplate(kind, e, opts),
    urlOrigin: urlOrigin(kind, e.layer, opts),
    initialExtent: initialExtent(e.layer),
  };
}

/** Where the viewer starts: the layer's data extent within the grid (MapProxy's demo zooms to it), else the grid. */
function initialExtent(layer: TileLayer): [number, number, number, number] {
  const g = layer.grid.bbox;
  const ext = layer.extent;
  try {
    const b = isSameSrs(ext.srs, layer.grid.srs) ? ext.bbox : ext.srs.transformBbox(ext.bbox, layer.grid.srs);
    const i: [number, number, number, number] = [Math.max(b[0], g[0]), Math.max(b[1], g[1]), Math.min(b[2], g[2]), Math.min(b[3], g[3])];
    if (i.every(Number.isFinite) && i[0] < i[2] && i[1] < i[3]) return i;
  } catch {
    // an extent that cannot be transformed: show the grid
  }
  return [g[0], g[1], g[2], g[3]];
}
