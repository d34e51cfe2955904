/**
 * `seed_only: true` on a source: outside seeding (`mapproxy seed`, the jobs
 * of the seeding API) the source is replaced by this one, as MapProxy's
 * loader replaces it by its DummySource. It never asks upstream and answers
 * "nothing here" for every query: a cache with only this source creates and
 * stores no tile (services answer the empty transparent tile; tiles seeded
 * before are served from the cache as usual), a cache that merges it with
 * other sources merges only those, a direct WMS layer draws nothing.
 * Feature info and legends of the source are not affected (MapProxy replaces
 * only the map source).
 */
import type { MapExtent, MapQuery, Source, SourceImage } from './source.ts';

/** The stand-in for a seed_only source while serving. */
export class SeedOnlySource implements Source {
  readonly type = 'seed_only';
  // MapProxy's DummySource declares meta tile support, whatever source it stands for
  readonly supportsMetaTiles = true;
  readonly transparent = true;

  /** `extent`: the source's coverage (MapProxy: the coverage bbox, else the whole world). */
  constructor(
    readonly name: string,
    readonly extent?: MapExtent,
  ) {}

  /** Always blank, as DummySource raises BlankImage: the tile manager stores nothing for a lone blank source. */
  async getMap(_q: MapQuery): Promise<SourceImage> {
    return { kind: 'blank', cacheable: true };
  }
}
