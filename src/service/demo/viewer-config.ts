/**
 * What a viewer page hands its browser script, as JSON in a
 * <script type="application/json"> block: shared by the server, which
 * computes it from the layer's grid, and by browser/viewer.ts.
 */

/** An SRS as the browser needs it to draw and transform. */
export interface ViewerProjection {
  code: string;
  /** proj4 definition; datum grids the browser cannot have are replaced or dropped */
  def: string;
  units: 'm' | 'degrees';
  /** north/east axis order: WMS 1.3.0 swaps the BBOX axes for it */
  axisNE: boolean;
}

/** A tiled layer: the grid exactly as the server cuts it, and how to name its tiles in URLs. */
export interface TileViewerConfig {
  type: 'tile';
  projection: ViewerProjection;
  grid: {
    /** corner that tile (0, 0) touches: 'sw' counts rows upwards */
    origin: 'sw' | 'nw';
    extent: [number, number, number, number];
    tileSize: [number, number];
    /** one per zoom level the service publishes, coarsest first */
    resolutions: number[];
  };
  /** per resolution: the level as the URL names it and the number of tile rows */
  levels: { id: number; rows: number }[];
  /** tile URL with {z}, {x} and {y} (row counted from urlOrigin) */
  url: string;
  urlOrigin: 'sw' | 'nw';
  initialExtent: [number, number, number, number];
}

/** A WMS layer drawn as one GetMap image per view. */
export interface WmsViewerConfig {
  type: 'wms';
  projection: ViewerProjection;
  url: string;
  /** GetMap parameters besides BBOX, WIDTH, HEIGHT and SRS/CRS (OpenLayers adds those) */
  params: Record<string, string>;
  initialExtent: [number, number, number, number];
}

/** Either viewer. */
export type ViewerConfig = TileViewerConfig | WmsViewerConfig;

/** id of the JSON block on viewer pages. */
export const VIEWER_CONFIG_ID = 'mapproxy-demo-viewer';

/**
 * The tile URL for an OpenLayers tile coordinate [z, x, y] (undefined outside
 * the grid). OpenLayers counts rows downwards from the grid origin, negative
 * above a south-west origin; the service counts them from its own origin.
 */
export function fillTileUrl(cfg: TileViewerConfig, z: number, x: number, y: number): string | undefined {
  const level = cfg.levels[z];
  if (!level) return undefined;
  const fromOrigin = cfg.grid.origin === 'sw' ? -y - 1 : y;
  const row = cfg.urlOrigin === cfg.grid.origin ? fromOrigin : level.rows - 1 - fromOrigin;
  if (row < 0 || row >= level.rows || x < 0) return undefined;
  const values: Record<string, number> = { z: level.id, x, y: row };
  return cfg.url.replace(/\{([zxy])\}/g, (_, k: string) => String(values[k]));
}
