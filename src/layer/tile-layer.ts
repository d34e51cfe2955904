/** Tile layers: one per (named layer, cache grid), as MapProxy publishes them to tile services. */
import type { TileManager } from '../cache/tile-manager.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import type { ImageFormat } from '../image/format.ts';

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
