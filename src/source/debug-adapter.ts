/** The `debug` source as a map source for tile managers. */
import { DebugSource } from './debug.ts';
import type { MapQuery, Source, SourceImage } from './source.ts';

/** Draws MapProxy's debug tile (bbox, resolution, border) for any query. */
export class DebugMapSource implements Source {
  readonly type = 'debug';
  private debug = new DebugSource();
  constructor(readonly name: string) {}

  async getMap(q: MapQuery): Promise<SourceImage> {
    const raster = await this.debug.getMap({ bbox: q.bbox, size: q.size, srs: q.srs.code });
    return { kind: 'raster', raster, cacheable: true };
  }
}
