/** Layer lookup for /kml URLs, with the fallback order of MapProxy's KMLServer. */
import type { TileLayer, TileLayerIndex } from '../../layer/tile-layer.ts';

/** A tile layer and the two URL segments its KML links use. */
export interface KmlLayer {
  layer: TileLayer;
  namePath: [string, string];
}

/**
 * The tile layers by KML key. KMLServer falls back to `_EPSG4326` before
 * `_EPSG900913`, the tile services (TileLayerIndex.find) the other way round,
 * so KML keeps its own map built from index.layers.
 */
export class KmlLayerIndex {
  private byKey = new Map<string, KmlLayer>();
  private readonly useGridNames: boolean;

  constructor(index: TileLayerIndex) {
    this.useGridNames = index.useGridNames;
    for (const e of index.layers) this.byKey.set(this.key(e.namePath[0], e.namePath[1]), e);
  }

  private key(layer: string, spec: string): string {
    // NUL cannot occur in URL segments (refused by the parser), so grid-name keys cannot collide
    return this.useGridNames ? `${layer}\u0000${spec}` : `${layer}_${spec}`;
  }

  /** The layer for the URL segments (`layer_EPSGxxxx`, `layer/EPSGxxxx`, `layer` or with use_grid_names `layer/grid`). */
  find(layer: string, spec: string | undefined): KmlLayer | undefined {
    if (this.useGridNames) return spec === undefined ? undefined : this.byKey.get(this.key(layer, spec));
    const name = spec === undefined ? layer : `${layer}_${spec}`;
    return this.byKey.get(name) ?? this.byKey.get(`${name}_EPSG4326`) ?? this.byKey.get(`${name}_EPSG900913`);
  }
}
