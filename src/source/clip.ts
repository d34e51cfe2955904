/**
 * Polygon coverages and `clip: true` on sources, as MapProxy: a request
 * outside the coverage's area is blank (no upstream request), and with clip
 * the pixels outside the area become transparent white (255, 255, 255, 0)
 * before the image is merged, cached or answered.
 */
import type { Coverage } from '../geo/coverage.ts';
import { coverageMask } from '../geo/mask.ts';
import { decodeImage } from '../image/codec.ts';
import type { Raster } from '../image/raster.ts';
import { SourceError } from '../errors.ts';
import type { Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import type { SourceImage } from './source.ts';

/** False when the coverage's area (not just its bbox) misses the request. */
export function coverageHits(cov: Coverage | undefined, bbox: Bbox, srs: Srs): boolean {
  if (!cov) return true;
  try {
    return cov.intersects(bbox, srs);
  } catch {
    // not transformable (e.g. beyond the projection's domain): let the bbox checks decide
    return true;
  }
}

/** The image with the pixels outside a clip coverage made transparent; unchanged without clip or inside. */
export async function clipToCoverage(img: SourceImage, cov: Coverage | undefined, bbox: Bbox, srs: Srs, size: [number, number]): Promise<SourceImage> {
  if (!cov?.clip || img.kind === 'blank' || cov.contains(bbox, srs)) return img;
  let raster: Raster;
  if (img.kind === 'raster') raster = img.raster;
  else {
    try {
      raster = await decodeImage(img.bytes);
    } catch (e) {
      throw new SourceError(`unreadable image from source: ${(e as Error).message}`);
    }
  }
  if (raster.width !== size[0] || raster.height !== size[1]) return img;
  const mask = coverageMask(cov, bbox, srs, size);
  // a raster from a source is made for this request: changed in place
  const d = raster.data;
  for (let i = 0; i < mask.length; i++) {
    if (mask[i]) continue;
    const o = i * 4;
    d[o] = 255;
    d[o + 1] = 255;
    d[o + 2] = 255;
    d[o + 3] = 0;
  }
  return { kind: 'raster', raster, cacheable: img.cacheable, authorizeStale: img.kind === 'raster' ? img.authorizeStale : undefined };
}
