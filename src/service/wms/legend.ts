/**
 * Legend graphics: stacking the legends of several sources into one image
 * (MapProxy's image/merge.py concat_legends) and the file names of the legend
 * cache under <cache.base_dir>/legends (MapProxy's cache/legend.py).
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseColor } from '../../image/parse-color.ts';
import { createRaster, type Raster, type Rgba } from '../../image/raster.ts';
import { pyFloat } from '../../util/py-format.ts';

/** Background of the stacked image: MapProxy's defaults are white and transparent. */
export interface ConcatLegendOptions {
  /** '#rrggbb' or an RGB(A) colour; its alpha is ignored, `transparent` decides. */
  bgcolor?: Rgba | string;
  transparent?: boolean;
}

/**
 * Stacks legends vertically, left aligned, as wide as the widest. The list is in
 * MapProxy's order (bottom layer first), so the last legend ends up on top.
 * No legend gives a 1x1 background pixel; a single legend is returned as it is.
 */
export function concatLegends(images: readonly Raster[], opts: ConcatLegendOptions = {}): Raster {
  const transparent = opts.transparent ?? true;
  const bg = (typeof opts.bgcolor === 'string' ? parseColor(opts.bgcolor) : opts.bgcolor) ?? [255, 255, 255, 255];
  const fill: Rgba = [bg[0], bg[1], bg[2], transparent ? 0 : 255];
  if (images.length === 0) return createRaster(1, 1, fill);
  if (images.length === 1) return images[0];
  const ordered = [...images].reverse();
  const width = Math.max(...ordered.map((r) => r.width));
  const height = ordered.reduce((h, r) => h + r.height, 0);
  const out = createRaster(width, height, fill);
  let top = 0;
  for (const img of ordered) {
    pasteWithAlphaMask(out, img, top, transparent);
    top += img.height;
  }
  return out;
}

/** PIL's DIV255: x / 255 rounded, in integers, so pixel values match Pillow exactly. */
function div255(v: number): number {
  const t = v + 128;
  return ((t >> 8) + t) >> 8;
}

/**
 * Image.paste(img, (0, top), img) as MapProxy calls it: every channel, alpha
 * included, is blended with the legend's alpha as mask. On a transparent
 * background that squares partial alpha (128 -> 64), which is kept for equal
 * output; on an opaque background the alpha stays 255.
 */
function pasteWithAlphaMask(dst: Raster, src: Raster, top: number, blendAlpha: boolean): void {
  const d = dst.data;
  const s = src.data;
  const channels = blendAlpha ? 4 : 3;
  for (let y = 0; y < src.height; y++) {
    let si = y * src.width * 4;
    let di = ((top + y) * dst.width) * 4;
    for (let x = 0; x < src.width; x++, si += 4, di += 4) {
      const m = s[si + 3];
      if (m === 0) continue;
      if (m === 255) {
        d[di] = s[si]; d[di + 1] = s[si + 1]; d[di + 2] = s[si + 2];
        if (blendAlpha) d[di + 3] = 255;
        continue;
      }
      for (let c = 0; c < channels; c++) d[di + c] = div255(d[di + c] * (255 - m) + s[si + c] * m);
    }
  }
}

/** One legend request: the source's URL and the layer it asks for (none for a static legendurl). */
export type LegendSourceId = string | readonly [url: string, layer?: string | null];

/**
 * MapProxy's legend cache key: md5 of the concatenated URLs and layer names
 * followed by str(scale) ('None' without a scale, so static legends share one file).
 */
export function legendCacheKey(urls: readonly LegendSourceId[], scale?: number | null): string {
  let id = '';
  for (const u of urls) {
    if (typeof u === 'string') {
      id += u;
    } else {
      id += u[0];
      if (u[1]) id += u[1];
    }
  }
  // MapProxy parses SCALE with float(), so 5000 is hashed as '5000.0'
  const scaleText = scale === undefined || scale === null ? 'None' : pyFloat(scale);
  return createHash('md5').update(id, 'utf8').update(scaleText, 'utf8').digest('hex');
}

/** Path of a cached legend: <cache.base_dir>/legends/<key>.<ext>, where MapProxy stores it. */
export function legendCacheFile(cacheBaseDir: string, key: string, ext = 'png'): string {
  return join(cacheBaseDir, 'legends', `${key}.${ext}`);
}
