// An RGBA raster in straight (not premultiplied) alpha, rows top to bottom.
// Straight alpha because PNG stores it that way and most tiles are opaque:
// the common path (decode, crop, encode) then needs no conversion at all.

import { Buffer } from 'node:buffer';

/** Red, green, blue, alpha, each 0..255. */
export type Rgba = readonly [number, number, number, number];

/** An RGBA image in memory: 4 bytes per pixel, row-major, no row padding. */
export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

/** Fully transparent black, the fill of a new raster. */
export const TRANSPARENT: Rgba = [0, 0, 0, 0];

/** Allocates a width x height raster filled with one colour (transparent by default). */
export function createRaster(width: number, height: number, fill: Rgba = TRANSPARENT): Raster {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`invalid raster size ${width}x${height}`);
  }
  const data = new Uint8ClampedArray(width * height * 4);
  if (fill[0] !== 0 || fill[1] !== 0 || fill[2] !== 0 || fill[3] !== 0) {
    // One 32-bit store per pixel: 4x fewer writes than per channel.
    new Uint32Array(data.buffer).fill(packRgba(fill));
  }
  return { width, height, data };
}

/**
 * A width x height raster whose bytes are whatever the allocator had: for
 * callers that write every pixel before anything reads one (a meta tile's
 * tiles decoded straight from its image). Skips zeroing memory that is
 * overwritten at once: ~1 ms per 1024x1024 meta tile.
 */
export function uninitializedRaster(width: number, height: number): Raster {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new RangeError(`invalid raster size ${width}x${height}`);
  }
  const b = Buffer.allocUnsafeSlow(width * height * 4);
  return { width, height, data: new Uint8ClampedArray(b.buffer, b.byteOffset, b.byteLength) };
}

/** Wraps existing RGBA bytes as a raster, checking the length matches. */
export function rasterFromData(width: number, height: number, data: Uint8ClampedArray | Uint8Array): Raster {
  if (data.length !== width * height * 4) {
    throw new RangeError(`RGBA data of ${data.length} bytes does not fit ${width}x${height}`);
  }
  const clamped = data instanceof Uint8ClampedArray
    ? data
    : new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength);
  return { width, height, data: clamped };
}

/** Packs a colour into the platform-endian uint32 that a Uint32Array view of the data sees. */
function packRgba(c: Rgba): number {
  const bytes = new Uint8Array([c[0], c[1], c[2], c[3]]);
  return new Uint32Array(bytes.buffer)[0];
}

/** Fills a rectangle with a colour (replacing, not blending), clipped to the raster. */
export function fillRect(r: Raster, x: number, y: number, w: number, h: number, color: Rgba): void {
  const x0 = Math.max(0, Math.floor(x));
  const y0 = Math.max(0, Math.floor(y));
  const x1 = Math.min(r.width, Math.floor(x + w));
  const y1 = Math.min(r.height, Math.floor(y + h));
  if (x1 <= x0 || y1 <= y0) return;
  const aligned = r.data.byteOffset % 4 === 0;
  if (aligned) {
    const px = new Uint32Array(r.data.buffer, r.data.byteOffset, r.width * r.height);
    const v = packRgba(color);
    for (let row = y0; row < y1; row++) px.fill(v, row * r.width + x0, row * r.width + x1);
    return;
  }
  for (let row = y0; row < y1; row++) {
    for (let col = x0; col < x1; col++) writePixel(r, col, row, color);
  }
}

/** Draws a rectangle outline of the given thickness just inside (x, y, w, h). */
export function strokeRect(r: Raster, x: number, y: number, w: number, h: number, color: Rgba, thickness = 1): void {
  const t = Math.max(1, Math.floor(thickness));
  fillRect(r, x, y, w, t, color);
  fillRect(r, x, y + h - t, w, t, color);
  fillRect(r, x, y + t, t, h - 2 * t, color);
  fillRect(r, x + w - t, y + t, t, h - 2 * t, color);
}

/** Sets one pixel, ignoring coordinates outside the raster. */
export function setPixel(r: Raster, x: number, y: number, color: Rgba): void {
  if (x < 0 || y < 0 || x >= r.width || y >= r.height) return;
  writePixel(r, x | 0, y | 0, color);
}

function writePixel(r: Raster, x: number, y: number, c: Rgba): void {
  const i = (y * r.width + x) * 4;
  r.data[i] = c[0];
  r.data[i + 1] = c[1];
  r.data[i + 2] = c[2];
  r.data[i + 3] = c[3];
}

/** Reads one pixel; throws outside the raster because a silent default hides bugs. */
export function getPixel(r: Raster, x: number, y: number): Rgba {
  if (x < 0 || y < 0 || x >= r.width || y >= r.height) {
    throw new RangeError(`pixel ${x},${y} outside ${r.width}x${r.height}`);
  }
  const i = (y * r.width + x) * 4;
  return [r.data[i], r.data[i + 1], r.data[i + 2], r.data[i + 3]];
}

/** Alpha-blends a colour over one pixel ("source over"), for anti-flicker text halos and tints. */
export function blendPixel(r: Raster, x: number, y: number, c: Rgba): void {
  if (x < 0 || y < 0 || x >= r.width || y >= r.height) return;
  const i = ((y | 0) * r.width + (x | 0)) * 4;
  const d = r.data;
  const sa = c[3] / 255;
  if (sa >= 1) {
    d[i] = c[0]; d[i + 1] = c[1]; d[i + 2] = c[2]; d[i + 3] = 255;
    return;
  }
  if (sa <= 0) return;
  const da = d[i + 3] / 255;
  const oa = sa + da * (1 - sa);
  for (let k = 0; k < 3; k++) {
    d[i + k] = Math.round((c[k] * sa + d[i + k] * da * (1 - sa)) / oa);
  }
  d[i + 3] = Math.round(oa * 255);
}

/** True when every pixel has alpha 255, so encoders may drop the alpha channel. */
export function isOpaque(r: Raster): boolean {
  const d = r.data;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 255) return false;
  return true;
}

/**
 * Frees the memory of a buffer now instead of at the next garbage
 * collection, by detaching it (ES2024 `ArrayBuffer.prototype.transfer`).
 * Only for a view the caller owns alone and never touches again: a meta
 * tile's decode buffers are several MB each, and between two collections a
 * seed worker piled them up to 250-340 MB RSS. Does nothing for a view that
 * is only part of its buffer, a buffer that is detached already or cannot be
 * (WebAssembly memory), or where transfer is missing.
 */
export function releaseBuffer(view: ArrayBufferView): void {
  const buf = view.buffer as ArrayBuffer & { detached?: boolean; transfer?: (n: number) => ArrayBuffer };
  if (typeof buf.transfer !== 'function' || buf.detached || view.byteOffset !== 0 || view.byteLength !== buf.byteLength) return;
  try {
    buf.transfer(0);
  } catch {
    // not detachable: the collector frees it as before
  }
}
