/** Parsing of /kml URLs: MapProxy's KMLInitRequest (`/kml/LAYER[/SPEC]`) and KMLRequest (`/kml/LAYER[/SPEC]/z/x/y.ext`). */
import { RequestError } from '../../errors.ts';
import type { TileCoord } from '../../grid/tile-grid.ts';

/** A parsed /kml request; coords are KML ones (sw origin, internal levels) and may lie outside the grid. */
export interface KmlRequest {
  /** 'kml' for super-overlay documents, else the image extension asked for. */
  ext: string;
  /** First path segment (decoded): the layer name, or `layer_EPSGxxxx`. */
  layer: string;
  /** Second segment (decoded) when given: SRS path name or grid name. */
  spec?: string;
  /** [x, y, z]; undefined when a number is too large to be a tile of any grid. */
  coord: TileCoord | undefined;
}

// the initial document is level 0 of the tile pyramid, as in MapProxy
const INIT_RE = /^\/([^/]+)(?:\/([^/]+))?\/?$/;
// anchored at the end (MapProxy's is not), so nothing can follow the extension
const TILE_RE = /^\/([^/]+)\/(?:([^/]+)\/)?(-?\d+)\/(-?\d+)\/(-?\d+)\.(\w+)$/;

/** Parses the path below /kml (`rest` = path without the '/kml' prefix); throws a 404 RequestError if it is none of ours. */
export function parseKmlPath(rest: string): KmlRequest {
  const init = INIT_RE.exec(rest);
  if (init) return { ext: 'kml', layer: segment(init[1]), spec: optSegment(init[2]), coord: [0, 0, 0] };
  const m = TILE_RE.exec(rest);
  if (!m) throw invalid(rest);
  const xyz = [m[4], m[5], m[3]].map(Number);
  const coord = xyz.every(Number.isSafeInteger) ? (xyz as TileCoord) : undefined;
  return { ext: m[6], layer: segment(m[1]), spec: optSegment(m[2]), coord };
}

function optSegment(s: string | undefined): string | undefined {
  return s === undefined ? undefined : segment(s);
}

/** A decoded path segment; dot segments and control characters are refused before any lookup. */
function segment(raw: string): string {
  let s: string;
  try {
    s = decodeURIComponent(raw);
  } catch {
    throw invalid(raw);
  }
  // layer names never look like this; refusing them early keeps odd names away from every later step
  if (s === '.' || s === '..' || /[\u0000-\u001f\u007f]/.test(s)) throw invalid(raw);
  return s;
}

function invalid(what: string): RequestError {
  return new RequestError(`invalid request (/kml${what})`, 404);
}
