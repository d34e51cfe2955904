/** What every source answers and how the tile manager asks it. */
import type { Coverage } from '../geo/coverage.ts';
import type { Bbox } from '../srs/types.ts';
import type { Srs } from '../srs/srs.ts';
import type { Raster } from '../image/raster.ts';
import type { ImageFormat } from '../image/format.ts';

/** One map request to a source: an extent, a pixel size, an SRS and the wanted format. */
export interface MapQuery {
  bbox: Bbox;
  size: [number, number];
  srs: Srs;
  format: ImageFormat;
  /** Dimension values (TIME, ELEVATION, dim_*) forwarded to sources that accept them. */
  dimensions?: Record<string, string>;
}

/** Encoded bytes straight from upstream (stored without re-encoding when the format fits). */
export interface EncodedImage {
  kind: 'encoded';
  bytes: Uint8Array;
  format: ImageFormat;
  cacheable: boolean;
}

/** Pixels a source drew (debug source, on_error colour tiles). */
export interface RasterImage {
  kind: 'raster';
  raster: Raster;
  cacheable: boolean;
  /** An on_error substitute that a stale cached tile may replace (on_error.authorize_stale). */
  authorizeStale?: boolean;
}

/** Nothing there (outside coverage or resolution range): a transparent tile. */
export interface BlankImage {
  kind: 'blank';
  cacheable: boolean;
}

/** A source's answer. */
export type SourceImage = EncodedImage | RasterImage | BlankImage;

/** Where a source has data: a bbox in an SRS (capabilities extents, sub-requests). */
export interface MapExtent {
  bbox: Bbox;
  srs: Srs;
  /** The area itself when it is not just the bbox (polygons), or when images are clipped to it (clip: true). */
  coverage?: Coverage;
}

/** A map source (tile, debug, wms, a cache used as a layer ...). */
export interface Source {
  readonly name: string;
  readonly type: string;
  /** Render or fetch the query; throws SourceError when upstream fails. */
  getMap(q: MapQuery): Promise<SourceImage>;
  /** Whether any bbox and size may be asked (meta tiles); tile sources answer only their own tiles. */
  readonly supportsMetaTiles?: boolean;
  /** Data extent, when known (coverage or grid); undefined = the whole world. */
  readonly extent?: MapExtent;
  /** Visible resolution range (min/max res or scale). */
  readonly resRange?: ResRange;
  /** Opacity when merged over lower layers (image.opacity); undefined = as is. */
  readonly opacity?: number;
  /** True when the answer may have transparent pixels (transparent: true, coverage outside). */
  readonly transparent?: boolean;
}

/** min_res / max_res of a source in metres per pixel (scales converted), as MapProxy's ResolutionRange. */
export interface ResRange {
  minRes?: number;
  maxRes?: number;
}

const METERS_PER_DEGREE = (2 * Math.PI * 6378137) / 360;

/** MapProxy's ResolutionRange.contains: res < min_res (+1e-6) and res >= max_res, both axes, in metres. */
export function resRangeContains(range: ResRange | undefined, bbox: Bbox, size: [number, number], isLatLong: boolean): boolean {
  if (!range) return true;
  let w = bbox[2] - bbox[0];
  let h = bbox[3] - bbox[1];
  if (isLatLong) {
    w *= METERS_PER_DEGREE;
    h *= METERS_PER_DEGREE;
  }
  const xr = w / size[0];
  const yr = h / size[1];
  if (range.minRes) {
    const min = range.minRes + 1e-6;
    if (min <= xr || min <= yr) return false;
  }
  if (range.maxRes) {
    if (range.maxRes > xr || range.maxRes > yr) return false;
  }
  return true;
}

/** OGC scale denominator (0.28 mm pixel) to resolution in metres, as MapProxy converts min_scale/max_scale. */
export function scaleToRes(scale: number): number {
  return scale * 0.00028;
}
