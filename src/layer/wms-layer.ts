/**
 * WMS layers: the named (and unnamed group) layers of the `layers:` tree,
 * each rendering its sources bottom to top, groups rendering their children
 * unless they have sources of their own (as MapProxy's WMSGroupLayer).
 */
import { isSameSrs, getSrs, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { resRangeContains, type MapExtent, type MapQuery, type ResRange, type Source } from '../source/source.ts';
import type { Dimensions } from './dimensions.ts';

/** One feature info source of a layer (a wms source with featureinfo: true). */
export interface InfoSource {
  readonly name: string;
  getFeatureInfo(q: InfoQuery): Promise<{ body: Uint8Array; mime: string }>;
  readonly extent?: MapExtent;
}

/** A GetFeatureInfo as sources are asked: the map query plus the pixel. */
export interface InfoQuery {
  bbox: Bbox;
  size: [number, number];
  srs: Srs;
  pos: [number, number];
  infoFormat: string;
  featureCount?: number;
  format?: string;
}

/** One legend source of a layer (GetLegendGraphic upstream or a static legendurl). */
export interface LegendSource {
  readonly name: string;
  getLegend(q: { format: string; scale?: number }): Promise<Uint8Array | undefined>;
}

/** A node of the layer tree. */
export interface WmsLayer {
  name?: string;
  title: string;
  md: Record<string, unknown>;
  /** own sources, bottom to top */
  mapLayers: Source[];
  infoSources: InfoSource[];
  legendSources: LegendSource[];
  /** static legendurl of the layer, overriding source legends */
  legendUrl?: string;
  resRange?: ResRange;
  /** `dimensions:` of the layer (TIME, ELEVATION, dim_*): checked, defaulted and passed to its own sources */
  dimensions?: Dimensions;
  children: WmsLayer[];
}

/** Whether the layer draws anything at the query's resolution. */
export function rendersQuery(layer: WmsLayer, q: MapQuery): boolean {
  return resRangeContains(layer.resRange, q.bbox, q.size, q.srs.isLatLong);
}

/** Sources that render this layer for the query (groups: their own sources, else their children's). */
export function renderSources(layer: WmsLayer, q: MapQuery): Source[] {
  if (!rendersQuery(layer, q)) return [];
  if (layer.mapLayers.length || !layer.children.length) return layer.mapLayers;
  return layer.children.flatMap((c) => renderSources(c, q));
}

/**
 * renderSources grouped by the layer whose own sources they are, so each
 * layer's dimension values go to its sources only (children of a group keep
 * their own dimensions).
 */
export function renderLayerSources(layer: WmsLayer, q: MapQuery): { layer: WmsLayer; sources: Source[] }[] {
  if (!rendersQuery(layer, q)) return [];
  if (layer.mapLayers.length || !layer.children.length) return layer.mapLayers.length ? [{ layer, sources: layer.mapLayers }] : [];
  return layer.children.flatMap((c) => renderLayerSources(c, q));
}

/** Info sources for the query, as renderSources. */
export function infoSources(layer: WmsLayer, q: MapQuery): InfoSource[] {
  if (!rendersQuery(layer, q)) return [];
  if (layer.mapLayers.length || layer.infoSources.length || !layer.children.length) return layer.infoSources;
  return layer.children.flatMap((c) => infoSources(c, q));
}

/** True when one of the sources surely covers the whole query with opaque pixels (lower layers are hidden). */
export function isOpaque(layer: WmsLayer, q: MapQuery): boolean {
  return renderSources(layer, q).some((s) => sourceIsOpaque(s, q));
}

/** MapProxy's MapLayer.is_opaque for one source. */
export function sourceIsOpaque(s: Source, q: MapQuery): boolean {
  if (s.transparent) return false;
  if (s.opacity !== undefined && s.opacity > 0 && s.opacity < 0.99) return false;
  if (!resRangeContains(s.resRange, q.bbox, q.size, q.srs.isLatLong)) return false;
  if (!s.extent) return true;
  let b = s.extent.bbox;
  if (!isSameSrs(s.extent.srs, q.srs)) {
    try {
      b = s.extent.srs.transformBbox(b, q.srs);
    } catch {
      return false;
    }
  }
  return b[0] <= q.bbox[0] && b[1] <= q.bbox[1] && b[2] >= q.bbox[2] && b[3] >= q.bbox[3];
}

const WGS84 = (): Srs => getSrs('EPSG:4326');

/** The layer's extent: the union (in EPSG:4326) of its sources' extents; undefined = whole world. */
export function layerExtent(layer: WmsLayer): MapExtent | undefined {
  const sources = layer.mapLayers.length || !layer.children.length ? layer.mapLayers : [];
  const extents: MapExtent[] = [];
  let whole = sources.length === 0 && layer.children.length === 0;
  for (const s of sources) {
    if (s.extent) extents.push(s.extent);
    else whole = true;
  }
  if (!sources.length) {
    for (const c of layer.children) {
      const e = layerExtent(c);
      if (e) extents.push(e);
      else whole = true;
    }
  }
  if (whole || !extents.length) return undefined;
  return mergeExtents(extents);
}

/** Union of extents: as it is for one, else in EPSG:4326 (as MapProxy adds MapExtents). */
export function mergeExtents(extents: readonly MapExtent[]): MapExtent {
  if (extents.length === 1) return extents[0];
  const wgs = WGS84();
  let u: Bbox | undefined;
  for (const e of extents) {
    const b = isSameSrs(e.srs, wgs) ? e.bbox : e.srs.transformBbox(e.bbox, wgs);
    u = u ? [Math.min(u[0], b[0]), Math.min(u[1], b[1]), Math.max(u[2], b[2]), Math.max(u[3], b[3])] : [b[0], b[1], b[2], b[3]];
  }
  return { bbox: u!, srs: wgs };
}

/** Every named layer of the tree by name (MapProxy's layers dict). */
export function namedLayers(root: WmsLayer[]): Map<string, WmsLayer> {
  const out = new Map<string, WmsLayer>();
  const visit = (l: WmsLayer) => {
    if (l.name) out.set(l.name, l);
    l.children.forEach(visit);
  };
  root.forEach(visit);
  return out;
}
