/** A cache used as the source of another cache with the same grid: tiles are copied, not re-rendered. */
import { SourceError } from '../errors.ts';
import type { TileManager } from '../cache/tile-manager.ts';
import type { MapQuery, Source, SourceImage } from './source.ts';

/** Answers a query with the matching tile of another cache (created there if missing). */
export class CacheSource implements Source {
  readonly type = 'cache';
  constructor(
    readonly name: string,
    readonly manager: TileManager,
  ) {}

  async getMap(q: MapQuery): Promise<SourceImage> {
    const g = this.manager.grid;
    const res = (q.bbox[2] - q.bbox[0]) / q.size[0];
    const z = g.resolutions.findIndex((r) => Math.abs(r - res) <= res * 1e-9);
    if (z < 0) throw new SourceError(`cache '${this.name}' has no level with resolution ${res}`);
    const affected = g.affectedTiles(q.bbox, q.size, q.srs);
    const coords = [...affected.tiles];
    if (coords.length !== 1 || !coords[0]) throw new SourceError(`query does not align with a tile of cache '${this.name}'`);
    const tile = await this.manager.getTile(coords[0]);
    return { kind: 'encoded', bytes: tile.bytes, format: tile.format, cacheable: tile.cacheable };
  }
}
