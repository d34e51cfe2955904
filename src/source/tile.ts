/** The `tile` source: XYZ/TMS/TileCache/ArcGIS/quadkey tile servers and cascaded MapProxies. */
import type { Coverage } from '../geo/coverage.ts';
import { clipToCoverage, coverageHits } from './clip.ts';
import { SourceError } from '../errors.ts';
import type { Bbox } from '../srs/types.ts';
import { isSameSrs } from '../srs/srs.ts';
import type { TileGrid } from '../grid/tile-grid.ts';
import { sniffImageFormat } from '../image/codec.ts';
import { createRaster } from '../image/raster.ts';
import type { HttpClient } from './http-client.ts';
import { errorResponseFor, type OnError } from './on-error.ts';
import { resRangeContains, type MapQuery, type ResRange, type Source, type SourceImage } from './source.ts';
import { substituteTileUrl, type TileCoord } from './tile-url.ts';

/** Options of a tile source after config parsing. */
export interface TileSourceOptions {
  name: string;
  url: string;
  grid: TileGrid;
  client: HttpClient;
  /** Format for %(format)s when the cache asks none (the source's request format). */
  format?: string;
  transparent: boolean;
  coverageBbox?: Bbox;
  /** The coverage's area when it is more than its bbox (polygons) or clips (clip: true). */
  coverage?: Coverage;
  resRange?: ResRange;
  onError?: OnError;
}

/** Fetches exactly one upstream tile per query; queries must align with the source grid. */
export class TileSource implements Source {
  readonly type = 'tile';
  readonly name: string;
  constructor(readonly opts: TileSourceOptions) {
    this.name = opts.name;
  }

  /** The source tile that covers exactly this bbox at this size, or an error saying why not. */
  tileFor(bbox: Bbox, size: [number, number]): TileCoord {
    const g = this.opts.grid;
    if (g.tileSize[0] !== size[0] || g.tileSize[1] !== size[1]) {
      throw new SourceError(`tile size of cache and tile source do not match: ${g.tileSize} != ${size}`);
    }
    const res = (bbox[2] - bbox[0]) / size[0];
    let z = -1;
    for (let i = 0; i < g.resolutions.length; i++) {
      if (Math.abs(g.resolutions[i] - res) <= res * 1e-9) {
        z = i;
        break;
      }
    }
    if (z < 0) throw new SourceError(`BBOX does not align to tile (no level with resolution ${res})`);
    const tw = g.resolutions[z] * size[0];
    const th = g.resolutions[z] * size[1];
    const x = Math.round((bbox[0] - g.bbox[0]) / tw);
    const y = g.origin === 'nw' ? Math.round((g.bbox[3] - bbox[3]) / th) : Math.round((bbox[1] - g.bbox[1]) / th);
    const coord: TileCoord = [x, y, z];
    const tb = g.tileBbox(coord);
    const eps = tw * 1e-6;
    if (
      Math.abs(tb[0] - bbox[0]) > eps ||
      Math.abs(tb[1] - bbox[1]) > eps ||
      Math.abs(tb[2] - bbox[2]) > eps ||
      Math.abs(tb[3] - bbox[3]) > eps
    ) {
      throw new SourceError('BBOX does not align to tile');
    }
    return coord;
  }

  /** Fetch the one upstream tile of the query (blank outside coverage or resolution range). */
  async getMap(q: MapQuery): Promise<SourceImage> {
    const o = this.opts;
    if (!isSameSrs(o.grid.srs, q.srs)) {
      throw new SourceError(`SRS of cache and tile source do not match: ${q.srs.code} != ${o.grid.srs.code}`);
    }
    if (!resRangeContains(o.resRange, q.bbox, q.size, q.srs.isLatLong)) return { kind: 'blank', cacheable: true };
    if (o.coverageBbox && !intersects(o.coverageBbox, q.bbox)) return { kind: 'blank', cacheable: true };
    if (!coverageHits(o.coverage, q.bbox, q.srs)) return { kind: 'blank', cacheable: true };
    const coord = this.tileFor(q.bbox, q.size);
    const url = substituteTileUrl(o.url, coord, o.format ?? q.format, q.bbox);
    try {
      const res = await o.client.get(url);
      const format = sniffImageFormat(res.body);
      if (!format) {
        const ct = res.contentType ? ` (${res.contentType.split(';')[0]})` : '';
        throw new SourceError(`response is not an image${ct}`);
      }
      return await clipToCoverage({ kind: 'encoded', bytes: res.body, format, cacheable: true }, o.coverage, q.bbox, q.srs, q.size);
    } catch (e) {
      if (!(e instanceof SourceError)) throw e;
      const sub = errorResponseFor(o.onError, e.status);
      if (!sub) throw e;
      const raster = createRaster(q.size[0], q.size[1], sub.color);
      return { kind: 'raster', raster, cacheable: sub.cache };
    }
  }
}

function intersects(a: Bbox, b: Bbox): boolean {
  return a[0] < b[2] && a[2] > b[0] && a[1] < b[3] && a[3] > b[1];
}
