/**
 * Band merging: a cache whose `sources:` is a mapping of output bands
 * (r, g, b, a or l) to lists of {source, band, factor}, as MapProxy's
 * BandMerger (mapproxy/image/merge.py) and _sources_for_band_merge
 * (mapproxy/config/loader.py). Each output band is built from bands of the
 * source images; MapProxy's arithmetic is kept to the pixel, quirks included:
 *
 * - an entry with factor 1 replaces what earlier entries put into the band;
 *   any other factor adds int(float32(value) * float32(factor)), the factor
 *   first printed with six decimals ('%f'), clamped to 0..255;
 * - output mode L when there is an `l` band, RGBA when there is an `a` band,
 *   else RGB; bands nothing writes are 0, alpha 255;
 * - when any source has nothing (blank), the whole result is blank.
 *
 * Source images are read as RGBA (band 0..3 = r, g, b, a; images without
 * alpha have alpha 255, grey images r = g = b), as MapProxy converts them
 * when band 3 is asked. One deliberate difference: a merge of a source answer
 * that must not be cached (on_error without cache) is not stored, where
 * MapProxy's merged image is always cacheable.
 */
import { createRaster, type Raster } from './raster.ts';

/** Output mode of the merged image. */
export type BandMergeMode = 'RGB' | 'RGBA' | 'L';

/** One term of an output band: `srcBand` of source image `srcImg` times `factor`. */
export interface BandOp {
  /** output band: 0 r (or l), 1 g, 2 b, 3 a */
  dstBand: number;
  /** index into the merger's source list */
  srcImg: number;
  /** band of the source image, 0..3 */
  srcBand: number;
  factor: number;
}

/** Output band indexes by config key, as MapProxy's available_bands. */
const BAND_INDEX: Record<string, number> = { r: 0, g: 1, b: 2, a: 3, l: 0 };

type Fail = (path: string, msg: string) => never;

/** Merges source images band by band into one image. */
export class BandMerger {
  constructor(
    readonly mode: BandMergeMode,
    readonly ops: readonly BandOp[],
    /** sources the ops read, in order of first use */
    readonly sourceCount: number,
  ) {}

  /**
   * The merged image; `images` are the sources' rasters in the order of the
   * source list, null where a source had nothing (then the result is null:
   * the caller answers a blank image, as MapProxy's BlankImageSource).
   */
  merge(images: readonly (Raster | null)[], size: [number, number]): Raster | null {
    if (images.length < this.sourceCount || images.some((r) => r === null)) return null;
    const [w, h] = size;
    const n = w * h;
    for (const r of images) {
      if (r!.width !== w || r!.height !== h) throw new RangeError(`source image has size ${r!.width}x${r!.height}, expected ${w}x${h}`);
    }
    // bands nothing writes: 0, alpha opaque
    const out = createRaster(w, h, [0, 0, 0, 255]);
    const d = out.data;
    const written = new Set<number>();
    for (const op of this.ops) {
      const src = images[op.srcImg]!.data;
      const s = op.srcBand;
      const t = op.dstBand;
      if (op.factor === 1) {
        // MapProxy assigns the source band here, dropping earlier terms
        for (let i = 0; i < n; i++) d[i * 4 + t] = src[i * 4 + s];
      } else {
        const lut = factorTable(op.factor);
        // the first term of a band sets it, later ones add (ImageChops.add clamps at 255)
        if (!written.has(t)) for (let i = 0; i < n; i++) d[i * 4 + t] = lut[src[i * 4 + s]];
        else for (let i = 0; i < n; i++) d[i * 4 + t] = Math.min(255, d[i * 4 + t] + lut[src[i * 4 + s]]);
      }
      written.add(t);
    }
    if (this.mode === 'L') {
      // grey: the l band in r, g and b
      for (let i = 0; i < n * 4; i += 4) d[i + 1] = d[i + 2] = d[i];
    }
    return out;
  }
}

/**
 * int(float(a) * %f) of PIL's ImageMath for a = 0..255: float32 product of
 * the value and the factor as printed with six decimals, truncated towards
 * zero, converted to L (clamped to 0..255).
 */
export function factorTable(factor: number): Uint8Array {
  const f = Math.fround(pyFixed6(factor));
  const lut = new Uint8Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.max(0, Math.min(255, Math.trunc(Math.fround(v * f))));
  return lut;
}

/**
 * Python's float('%f' % x): x rounded to six decimals, exact ties to even
 * (toFixed rounds ties up). A tie needs x * 10^6 to end in exactly .5, which
 * for a binary fraction means x is an odd multiple of 1/128.
 */
export function pyFixed6(x: number): number {
  const a = Math.abs(x);
  if (Number.isInteger(a * 128) && !Number.isInteger(a * 64)) {
    const lo = Math.floor(a * 1e6);
    return (Math.sign(x) * (lo % 2 === 0 ? lo : lo + 1)) / 1e6;
  }
  return Number(x.toFixed(6));
}

/** What a cache's `sources:` mapping configures. */
export interface BandMergeConfig {
  merger: BandMerger;
  /** the sources (or caches) the merger reads, in order of first use */
  sourceNames: string[];
  /** key path of each source's first use (`caches.c.sources.r[0].source`), for errors about it */
  sourcePaths: string[];
}

/** The band merger of a cache's `sources:` mapping (`p` is its key path); bad keys and values fail naming their path. */
export function bandMergerFromConfig(conf: Record<string, unknown>, p: string, fail: Fail): BandMergeConfig {
  const names: string[] = [];
  const paths: string[] = [];
  const ops: BandOp[] = [];
  const keys = Object.keys(conf);
  const mode: BandMergeMode = keys.includes('l') ? 'L' : keys.includes('a') ? 'RGBA' : 'RGB';
  for (const [band, list] of Object.entries(conf)) {
    const bp = `${p}.${band}`;
    const dst = BAND_INDEX[band];
    if (dst === undefined) fail(bp, `unsupported band '${band}' (one of r, g, b, a, l)`);
    // MapProxy fails on these only when the first tile is merged (its L image has one band)
    if (mode === 'L' && band !== 'l') fail(bp, `band '${band}' cannot be combined with band 'l'`);
    if (!Array.isArray(list)) fail(bp, 'expected a list of {source, band, factor}');
    for (const [i, entry] of list.entries()) {
      const ep = `${bp}[${i}]`;
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail(ep, 'expected {source, band, factor}');
      const e = entry as Record<string, unknown>;
      if (typeof e.source !== 'string' || !e.source) fail(`${ep}.source`, 'expected the name of a source or cache');
      const srcBand = e.band;
      if (!Number.isInteger(srcBand) || (srcBand as number) < 0 || (srcBand as number) > 3) {
        fail(`${ep}.band`, `band index ${JSON.stringify(srcBand)} out of range (0..3: r, g, b, a of the source image)`);
      }
      const factor = e.factor ?? 1;
      if (typeof factor !== 'number' || !Number.isFinite(factor)) fail(`${ep}.factor`, `expected a number, got ${JSON.stringify(factor)}`);
      let idx = names.indexOf(e.source);
      if (idx < 0) {
        idx = names.push(e.source) - 1;
        paths.push(`${ep}.source`);
      }
      ops.push({ dstBand: dst, srcImg: idx, srcBand: srcBand as number, factor });
    }
  }
  return { merger: new BandMerger(mode, ops, names.length), sourceNames: names, sourcePaths: paths };
}
