// Encoding and decoding of tile images. Two backends with one behaviour:
//  - native: Bun.Image (libspng, libjpeg-turbo), reached through an
//    uncompressed PNG (stored-png.ts; a BMP where that cannot be built) going
//    in and a level-0 PNG coming out, because it has no raw-pixel interface;
//    it runs on Bun's worker threads, so it never blocks the event loop.
//    Most PNGs skip it (png-decode.ts's directDecodes says which);
//  - wasm: the portable path for Deno and Node: @jsquash/jpeg (MozJPEG) and
//    the @jsquash/png decoder, loaded on first use only, so a Bun process
//    never compiles them. PNG encoding there is ours (png-encode.ts over
//    node:zlib): @jsquash/png's encoder writes map tiles ~5x larger.
// Cache hits never come through here: stored bytes are served as they are.

import { rasterToBmp } from './bmp.ts';
import { storedPng } from './stored-png.ts';
import { sniffImageFormat } from './format.ts';
import { decodePng, decodePngDirect, decodePngInto, decodePngTiles, directDecodes, type ClipRect } from './png-decode.ts';
import { encodePng } from './png-encode.ts';
import { releaseBuffer, type Raster, type Rgba } from './raster.ts';
import { copyRect } from './resample.ts';
import { defaultCodecBackend, nativeTranscoder, type CodecBackend } from '../runtime/runtime.ts';

export { mimeOf, sniffImageFormat, type ImageFormat, type SniffedFormat } from './format.ts';

/** The formats encodeImage can write. */
export type EncodableFormat = 'png' | 'jpeg';

export interface EncodeOptions {
  format: EncodableFormat;
  /** 1..100; MapProxy's default jpeg_quality is 90. */
  jpegQuality?: number;
  /** zlib level 0..9 (default 6). */
  pngCompression?: number;
}

export const DEFAULT_JPEG_QUALITY = 90;
export const DEFAULT_PNG_COMPRESSION = 6;

let forcedBackend: CodecBackend | undefined;

/** Forces a codec backend (tests, benchmarks); undefined restores the runtime default. */
export function setCodecBackend(backend: CodecBackend | undefined): void {
  if (backend === 'native' && !nativeTranscoder()) {
    throw new Error('native image codecs are not available on this runtime');
  }
  forcedBackend = backend;
}

let directPngDecode = true;

/** Turns the direct (zlib) PNG decoder of the native backend on or off (tests, benchmarks). */
export function setDirectPngDecode(on: boolean): void {
  directPngDecode = on;
}

/** Whether the native backend's direct PNG reader takes these bytes (png-decode.ts's directDecodes); format is their sniffed format. */
function directPng(bytes: Uint8Array, format: string | undefined): boolean {
  return directPngDecode && format === 'png' && directDecodes(bytes);
}

/** The backend encodeImage/decodeImage will use now. */
export function codecBackend(): CodecBackend {
  return forcedBackend ?? defaultCodecBackend();
}

/** Encodes a raster as 8-bit PNG or as JPEG (alpha dropped). */
export async function encodeImage(r: Raster, opts: EncodeOptions): Promise<Uint8Array<ArrayBuffer>> {
  const quality = clampInt(opts.jpegQuality ?? DEFAULT_JPEG_QUALITY, 1, 100);
  const level = clampInt(opts.pngCompression ?? DEFAULT_PNG_COMPRESSION, 0, 9);
  const native = codecBackend() === 'native' ? nativeTranscoder() : undefined;
  if (native) {
    // Pixels go in as an uncompressed PNG (stored-png.ts; the same bytes come
    // out as from a BMP, ~8 ms sooner for a 1024x768 JPEG), or as a BMP where
    // that cannot be built.
    if (opts.format === 'png') {
      return native.transcode(storedPng(r, true) ?? rasterToBmp(r, true), { format: 'png', compressionLevel: level });
    }
    // RGB only, or an unused alpha mask that tells the BMP reader the pixels
    // are opaque: the JPEG gets the raw RGB (what PIL's convert('RGB') gives), never a blend.
    return native.transcode(storedPng(r, false) ?? rasterToBmp(r, false), { format: 'jpeg', quality });
  }
  if (opts.format === 'png') return encodePng(r, level);
  if (opts.format === 'jpeg') return (await import('./wasm/jpeg.ts')).wasmEncodeJpeg(r, quality);
  throw new Error(`cannot encode ${String(opts.format)}`);
}

/** Decodes PNG or JPEG bytes (and, on the native backend, GIF, BMP, WebP) into an RGBA raster. */
export async function decodeImage(bytes: Uint8Array): Promise<Raster> {
  const format = sniffImageFormat(bytes);
  const native = codecBackend() === 'native' ? nativeTranscoder() : undefined;
  if (native) {
    if (directPng(bytes, format)) {
      // Cached tiles are mostly paletted PNGs: zlib's native inflate plus one
      // table lookup a pixel takes half the wall time of the Bun.Image round
      // trip (decode, re-encode, parse) and no worker-thread time. 8-bit
      // RGB(A) rows are unfiltered in WebAssembly (wasm/unfilter.ts), a strip
      // at a time: ~0.4 against ~0.7 ms for 256x256, ~7-8 against ~12 ms CPU
      // for a 1024x1024 upstream image, which then runs on this thread rather
      // than Bun's pool. Anything the direct reader declines or fails on goes
      // the Bun.Image way, errors included.
      try {
        const r = decodePngDirect(bytes);
        if (r) return r;
      } catch {
        // fall through to Bun.Image
      }
    }
    // A level-0 PNG is the cheapest lossless way out of Bun.Image; our reader
    // copies its stored blocks without inflating.
    const png = await native.transcode(bytes, { format: 'png', compressionLevel: 0 });
    const r = await decodePng(png);
    // the uncompressed PNG (4 bytes a pixel and more) is ours alone and copied out
    releaseBuffer(png);
    return r;
  }
  switch (format) {
    case 'png':
      return (await import('./wasm/png.ts')).wasmDecodePng(bytes);
    case 'jpeg':
      return (await import('./wasm/jpeg.ts')).wasmDecodeJpeg(bytes);
    default:
      throw new Error(`cannot decode ${format ?? 'unknown'} images on ${codecBackend()} codecs`);
  }
}

/**
 * Image bytes decoded straight into tileW x tileH tiles, one per crop (its
 * top-left pixel in the image; outside the image: `fill`), as decodeImage
 * and splitRaster would give them but without the whole image in between:
 * 8-bit RGB(A) PNGs of `size` on the native backend (upstream WMS answers
 * for meta tiles). Undefined for anything else, errors included: decode and
 * split those, which also says what is wrong.
 */
export function decodeImageTiles(
  bytes: Uint8Array, size: readonly [number, number], tileW: number, tileH: number, crops: readonly (readonly [number, number])[], fill?: Rgba,
): Raster[] | undefined {
  if (codecBackend() !== 'native' || !nativeTranscoder() || !directPngDecode || sniffImageFormat(bytes) !== 'png') return undefined;
  try {
    return decodePngTiles(bytes, size, tileW, tileH, crops, fill);
  } catch {
    return undefined;
  }
}

/**
 * Decodes image bytes into `dst` with the image's top-left at (x, y),
 * writing only inside `clip` (dst coordinates x0, y0, x1, y1, end
 * exclusive): how cached tiles are stitched. Paletted and grey PNGs on the
 * native backend are written in place; everything else is decoded by
 * decodeImage and copied.
 */
export async function decodeImageInto(bytes: Uint8Array, dst: Raster, x: number, y: number, clip: ClipRect): Promise<void> {
  if (codecBackend() === 'native' && nativeTranscoder() && directPng(bytes, sniffImageFormat(bytes))) {
    try {
      if (decodePngInto(bytes, dst, x, y, clip)) return;
    } catch {
      // fall through: decodeImage decodes it natively, or says why it cannot
    }
  }
  const r = await decodeImage(bytes);
  const x0 = Math.max(x, clip[0]);
  const y0 = Math.max(y, clip[1]);
  copyRect(r, dst, x0 - x, y0 - y, x0, y0, Math.min(x + r.width, clip[2]) - x0, Math.min(y + r.height, clip[3]) - y0);
}

function clampInt(v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v)) return lo;
  return Math.min(hi, Math.max(lo, Math.round(v)));
}
