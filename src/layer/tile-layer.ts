/** Tile layers: one per (named layer, cache grid), as MapProxy publishes them to tile services. */
import type { TileManager } from '../cache/tile-manager.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import type { ImageFormat } from '../image/format.ts';
import type { MapExtent } from '../source/source.ts';
import { mergeExtents, type InfoSource } from './wms-layer.ts';
import { checkedDimensions, type Dimensions } from './dimensions.ts';

/** A layer as TMS, /tiles, WMTS and KML see it. */
export interface TileLayer {
  /** Layer name from the config. */
  name: string;
  title: string;
  /** Name of the cache behind it. */
  cacheName: string;
  grid: TileGrid;
  /** The grid's config name (`name:` or the key). */
  gridName: string;
  /** Storage format extension ('png', 'jpeg'); the tile URL extension must match it. */
  format: ImageFormat;
  /** Mime type advertised in capabilities. */
  formatMime: string;
  tileManager: TileManager;
  /** Layer dimensions (TIME, ELEVATION, dim_*); tiles are cached per value combination. */
  dimensions?: Dimensions;
  /** Feature info sources (WMTS GetFeatureInfo). */
  infoSources: InfoSource[];
  /** Where the layer has data: its sources' extents merged, else the grid bbox. */
  extent: MapExtent;
  /** Static legend URLs from the layer config (legendurl, wmts_rest_legendurl, wmts_kvp_legendurl). */
  legendUrls?: { rest?: string; kvp?: string };
  /** The WMS layer of the same name can draw a legend (GetLegendGraphic). */
  hasWmsLegend?: boolean;
}

/** The tile manager that serves a request's dimension values (defaults where absent); throws RequestError for a value not allowed. */
export function tileManagerFor(layer: TileLayer, requested: ReadonlyMap<string, string> = new Map()): TileManager {
  if (!layer.dimensions?.size) return layer.tileManager;
  return layer.tileManager.forDimensions(checkedDimensions(layer.dimensions, requested));
}

/** MapProxy's tile layer extent: the union of the sources' extents when all have one, else the grid's bbox. */
export function tileLayerExtent(tm: TileManager): MapExtent {
  const g = tm.grid;
  const exts = tm.opts.sources.map((s) => s.extent);
  if (!exts.length || exts.some((e) => !e)) return { bbox: [g.bbox[0], g.bbox[1], g.bbox[2], g.bbox[3]], srs: g.srs };
  return mergeExtents(exts as MapExtent[]);
}

/** MapProxy's URL segment for a grid without use_grid_names: the SRS code without ':' ('EPSG900913'). */
export function srsPathName(srsCode: string): string {
  return srsCode.replace(/:/g, '').toUpperCase();
}

/** Index of tile layers by the two URL segments MapProxy accepts (layer + grid segment). */
export class TileLayerIndex {
  private byKey = new Map<string, TileLayer>();
  readonly layers: { layer: TileLayer; namePath: [string, string] }[] = [];

  constructor(
    layers: TileLayer[],
    readonly useGridNames: boolean,
  ) {
    for (const l of layers) {
      const namePath: [string, string] = [l.name, useGridNames ? l.gridName : srsPathName(l.grid.srs.code)];
      const key = useGridNames ? `${namePath[0]}\u0000${namePath[1]}` : `${namePath[0]}_${namePath[1]}`;
      if (this.byKey.has(key)) {
        const i = this.layers.findIndex((e) => e.layer === this.byKey.get(key));
        this.layers.splice(i, 1);
      }
      this.byKey.set(key, l);
      this.layers.push({ layer: l, namePath });
    }
  }

  /** MapProxy's lookup: `layer/spec` or `layer_EPSGxxxx`, falling back to the EPSG900913 / EPSG4326 layer. */
  find(layer: string, spec: string | undefined): TileLayer | undefined {
    if (this.useGridNames) return this.byKey.get(`${layer}\u0000${spec ?? ''}`);
    const name = spec !== undefined ? `${layer}_${spec}` : layer;
    return this.byKey.get(name) ?? this.byKey.get(`${name}_EPSG900913`) ?? this.byKey.get(`${name}_EPSG4326`);
  }
}
