import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeImage, sniffImageFormat } from '../../src/image/codec.ts';
import {
  applyOpacity, encodeGif, encodeIndexedPng, encodeWithOptions, makeColorTransparent,
} from '../../src/image/encode.ts';
import { resolveImageOptions, type ImageOptions } from '../../src/image/image-options.ts';
import { exactPalette, octreeQuantize } from '../../src/image/palette.ts';
import { decodePng } from '../../src/image/png-decode.ts';
import { createRaster, fillRect, getPixel, isOpaque, type Raster } from '../../src/image/raster.ts';
import { nativeTranscoder } from '../../src/runtime/runtime.ts';

interface Chunk {
  type: string;
  data: Uint8Array;
}

function chunks(png: Uint8Array): Chunk[] {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: Chunk[] = [];
  for (let p = 8; p + 8 <= png.length;) {
    const len = v.getUint32(p);
    out.push({ type: String.fromCharCode(...png.subarray(p + 4, p + 8)), data: png.subarray(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  return out;
}

/** IHDR colour type and bit depth. */
function ihdr(png: Uint8Array): { colorType: number; depth: number } {
  const h = chunks(png)[0];
  assert.equal(h.type, 'IHDR');
  return { colorType: h.data[9], depth: h.data[8] };
}

function has(png: Uint8Array, type: string): boolean {
  return chunks(png).some((c) => c.type === type);
}

/** Map-like: fills, one translucent box, one fully transparent corner. */
function tile(w = 37, h = 23): Raster {
  const r = createRaster(w, h, [242, 239, 233, 255]);
  fillRect(r, 0, 15, w, 8, [170, 211, 223, 255]);
  fillRect(r, 3, 3, 8, 8, [200, 250, 204, 255]);
  fillRect(r, 15, 2, 6, 6, [10, 20, 30, 128]);
  fillRect(r, w - 5, 0, 5, 5, [0, 0, 0, 0]);
  return r;
}

/** Thousands of colours, so the quantizer has to work. */
function ramps(w = 64, h = 64, alpha = false): Raster {
  const r = createRaster(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) r.data.set([x * 4, y * 4, 255 - x * 2 - y, alpha ? 255 - ((x + y) % 200) : 255], (y * w + x) * 4);
  }
  return r;
}

function opts(local: object, format = 'image/png', globalsImage?: object): ImageOptions {
  return resolveImageOptions(globalsImage, local, format, 'caches.test.image');
}

function assertSamePixels(a: Raster, b: Raster): void {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) assert.deepEqual([...getPixel(b, x, y)], [...getPixel(a, x, y)], `${x},${y}`);
  }
}

function meanError(a: Raster, b: Raster): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

describe('paletted PNG (MapProxy default for PNG)', () => {
  it('stores a few-colour tile losslessly with PLTE and tRNS when transparent', async () => {
    const r = tile();
    const png = await encodeWithOptions(r, opts({ transparent: true }));
    assert.equal(sniffImageFormat(png), 'png');
    assert.equal(ihdr(png).colorType, 3);
    assert.ok(has(png, 'PLTE'));
    assert.ok(has(png, 'tRNS'));
    const back = await decodePng(png);
    const want = createRaster(r.width, r.height);
    want.data.set(r.data);
    fillRect(want, r.width - 5, 0, 5, 5, [0, 0, 0, 0]);
    assertSamePixels(want, back);
  });

  it('drops alpha without blending when transparent is not set, as PIL convert("RGB") does', async () => {
    const png = await encodeWithOptions(tile(), opts({}));
    assert.equal(ihdr(png).colorType, 3);
    assert.equal(has(png, 'tRNS'), false);
    const back = await decodePng(png);
    assert.ok(isOpaque(back));
    assert.deepEqual([...getPixel(back, 16, 3)], [10, 20, 30, 255]);
  });

  it('quantizes many colours to at most `colors`, close to the original', async () => {
    const r = ramps();
    const png = await encodeWithOptions(r, opts({ colors: 64 }));
    assert.equal(ihdr(png).colorType, 3);
    const plte = chunks(png).find((c) => c.type === 'PLTE')!;
    assert.ok(plte.data.length / 3 <= 64);
    assert.ok(meanError(r, await decodePng(png)) < 10);
  });

  it('quantizes with alpha into tRNS entries', async () => {
    const r = ramps(64, 64, true);
    const png = await encodeWithOptions(r, opts({ transparent: true }));
    assert.ok(has(png, 'tRNS'));
    assert.ok(meanError(r, await decodePng(png)) < 6);
  });

  it('honours encoding_options.quantizer: mediancut', async () => {
    const r = ramps();
    const png = await encodeWithOptions(r, opts({ colors: 32, encoding_options: { quantizer: 'mediancut' } }));
    assert.equal(ihdr(png).colorType, 3);
    assert.ok(meanError(r, await decodePng(png)) < 10);
  });

  it('uses 1, 2 and 4 bit pixels for small palettes, on odd widths too', async () => {
    for (const [n, depth] of [[2, 1], [3, 2], [4, 2], [9, 4], [17, 8]] as const) {
      const r = createRaster(13, 5, [0, 0, 0, 255]);
      for (let i = 0; i < 13 * 5; i++) r.data.set([(i % n) * 10, 0, 0, 255], i * 4);
      const img = exactPalette(r, 256, false)!;
      const png = encodeIndexedPng(img);
      assert.equal(ihdr(png).depth, depth, `${n} colours`);
      assertSamePixels(r, await decodePng(png));
    }
  });

  it('packs 1, 2 and 4 bit pixels in place when quantizing straight into scanlines', async () => {
    for (const n of [2, 3, 4, 9, 16, 17]) {
      for (const w of [1, 7, 13, 256]) {
        const r = createRaster(w, 5, [0, 0, 0, 255]);
        const used = new Set<number>();
        for (let i = 0; i < w * 5; i++) {
          used.add((i * 5) % n);
          r.data.set([((i * 5) % n) * 10, 0, 0, 255], i * 4);
        }
        const depth = used.size <= 2 ? 1 : used.size <= 4 ? 2 : used.size <= 16 ? 4 : 8;
        const png = await encodeWithOptions(r, opts({ colors: 256 }));
        assert.equal(ihdr(png).depth, depth, `${n} colours, width ${w}`);
        assertSamePixels(r, await decodePng(png));
        // the same bytes as quantizing into an index buffer of its own
        assert.deepEqual(png, encodeIndexedPng(exactPalette(r, 256, false)!), `${n} colours, width ${w}`);
      }
    }
  });

  it('gives the same PNG as quantize + encodeIndexedPng, tile after tile of other sizes', async () => {
    const { quantize } = await import('../../src/image/palette.ts');
    for (const [r, transparent] of [[ramps(300, 200), false], [tile(), true], [ramps(64, 64, true), true], [ramps(10, 3), false], [tile(256, 256), false]] as const) {
      const got = await encodeWithOptions(r, opts({ colors: 255, transparent }));
      const want = encodeIndexedPng(quantize(r, { colors: 255, alpha: transparent }));
      assert.deepEqual(got, want, `${r.width}x${r.height}`);
    }
  });

  it('writes tRNS only up to the last translucent entry', () => {
    const png = encodeIndexedPng(exactPalette(tile(), 256, true)!);
    const trns = chunks(png).find((c) => c.type === 'tRNS')!;
    assert.equal(trns.data.length, 2); // the half-transparent box and the transparent corner
  });

  it('writes no tRNS for an opaque quantized image', () => {
    const png = encodeIndexedPng(octreeQuantize(ramps(), 256, false));
    assert.equal(has(png, 'tRNS'), false);
  });

  it('quantizes to 255 colours at encode time when colors is unset and paletted is on (img_to_buf)', async () => {
    const o: ImageOptions = { format: 'image/png', resampling: 'bicubic', encoding: { jpegQuality: 90 } };
    const png = await encodeWithOptions(ramps(), o);
    assert.equal(ihdr(png).colorType, 3);
    const plte = chunks(png).find((c) => c.type === 'PLTE')!;
    assert.ok(plte.data.length / 3 <= 255);
    const full = await encodeWithOptions(ramps(), o, { paletted: false });
    assert.equal(ihdr(full).colorType, 2);
  });

  it("treats 'image/png; mode=8bit' as paletted PNG", async () => {
    const png = await encodeWithOptions(ramps(), opts({}, 'image/png; mode=8bit'));
    assert.equal(ihdr(png).colorType, 3);
  });

  it('is much smaller than full colour for a map-like tile', async () => {
    const r = tile(256, 256);
    const pal = await encodeWithOptions(r, opts({}));
    const full = await encodeWithOptions(r, opts({ colors: 0 }));
    assert.ok(pal.length < full.length, `${pal.length} >= ${full.length}`);
  });
});

describe('full-colour PNG (colors: 0)', () => {
  it('writes RGB for opaque images', async () => {
    const r = ramps();
    const png = await encodeWithOptions(r, opts({ colors: 0 }));
    assert.equal(ihdr(png).colorType, 2);
    assertSamePixels(r, await decodePng(png));
  });

  it('keeps RGBA when there is transparency', async () => {
    const r = ramps(64, 64, true);
    const png = await encodeWithOptions(r, opts({ colors: 0, transparent: true }));
    assert.equal(ihdr(png).colorType, 6);
    assertSamePixels(r, await decodeImage(png));
  });

  it('drops alpha for mode RGB', async () => {
    const r = ramps(64, 64, true);
    const png = await encodeWithOptions(r, opts({ colors: 0, mode: 'RGB' }));
    assert.equal(ihdr(png).colorType, 2);
    const back = await decodePng(png);
    assert.ok(isOpaque(back));
    assert.deepEqual([...getPixel(back, 10, 20)].slice(0, 3), [...getPixel(r, 10, 20)].slice(0, 3));
  });
});

describe('JPEG and mixed', () => {
  it('encodes JPEG with the configured quality', async () => {
    const r = ramps();
    const q90 = await encodeWithOptions(r, opts({}, 'image/jpeg'));
    const q30 = await encodeWithOptions(r, opts({ encoding_options: { jpeg_quality: 30 } }, 'image/jpeg'));
    assert.equal(sniffImageFormat(q90), 'jpeg');
    assert.ok(q30.length < q90.length);
    const back = await decodeImage(q90);
    assert.ok(isOpaque(back));
    assert.ok(meanError(r, back) < 3);
  });

  it('writes mixed tiles as PNG when transparent and JPEG when opaque', async () => {
    const mixed = opts({}, 'mixed');
    assert.equal(mixed.format, 'mixed');
    assert.equal(sniffImageFormat(await encodeWithOptions(tile(), { ...mixed, transparent: true })), 'png');
    assert.equal(sniffImageFormat(await encodeWithOptions(ramps(), mixed)), 'jpeg');
  });

  it('refuses formats it cannot write', async () => {
    await assert.rejects(encodeWithOptions(ramps(), opts({}, 'image/webp')), /cannot encode/);
  });
});

describe('GIF', () => {
  it('writes a GIF89a with a transparent index for transparent pixels', () => {
    const gif = encodeGif(tile());
    assert.equal(sniffImageFormat(gif), 'gif');
    assert.equal(String.fromCharCode(...gif.subarray(0, 6)), 'GIF89a');
    assert.equal(gif[gif.length - 1], 0x3b);
    assert.ok(gif.some((b, i) => b === 0x21 && gif[i + 1] === 0xf9)); // graphic control extension
  });

  it('decodes to the same pixels (alpha made binary)', { skip: !nativeTranscoder() && 'needs native GIF decoding' }, async () => {
    // Noise from 200 colours: lossless in a palette, and enough codes for the LZW table to fill and clear.
    const r = tile(300, 40);
    let seed = 1;
    for (let i = 0; i < r.width * r.height; i += 2) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      r.data.set([(seed >>> 16) % 200, 100, 50, 255], i * 4);
    }
    const back = await decodeImage(await encodeWithOptions(r, opts({}, 'image/gif')));
    const want = createRaster(r.width, r.height);
    want.data.set(r.data);
    for (let i = 3; i < want.data.length; i += 4) {
      if (want.data[i] < 128) want.data.set([0, 0, 0, 0], i - 3);
      else want.data[i] = 255;
    }
    // Lossless apart from alpha; decoders differ in the RGB of transparent pixels.
    for (let i = 0; i < want.data.length; i += 4) {
      if (want.data[i + 3] === 0) {
        assert.equal(back.data[i + 3], 0);
        continue;
      }
      assert.deepEqual([...back.data.subarray(i, i + 4)], [...want.data.subarray(i, i + 4)], `pixel ${i / 4}`);
    }
  });
});

describe('opacity and transparent_color', () => {
  it('fades alpha like PIL: alpha * int(255 * opacity) / 255, truncated', () => {
    const r = createRaster(3, 1, [10, 20, 30, 255]);
    r.data[7] = 100;
    r.data[11] = 0;
    applyOpacity(r, 0.5);
    assert.deepEqual([r.data[3], r.data[7], r.data[11]], [127, 49, 0]);
    assert.equal(r.data[0], 10); // colour untouched
  });

  it('leaves the image alone for opacity >= 1 or none', () => {
    const r = createRaster(1, 1, [1, 2, 3, 200]);
    applyOpacity(r, undefined);
    applyOpacity(r, 1);
    assert.equal(r.data[3], 200);
    applyOpacity(r, 0);
    assert.equal(r.data[3], 0);
  });

  it('makes colours within the tolerance transparent, bounds included', () => {
    const r = createRaster(4, 1);
    r.data.set([255, 255, 255, 255, 250, 255, 251, 255, 249, 255, 255, 255, 255, 255, 255, 90]);
    makeColorTransparent(r, [255, 255, 255], 5);
    assert.deepEqual([r.data[3], r.data[7], r.data[11], r.data[15]], [0, 0, 255, 0]);
    assert.deepEqual([...r.data.subarray(0, 3)], [255, 255, 255]); // colour kept, only alpha changes
  });

  it('keeps existing alpha of non-matching pixels', () => {
    const r = createRaster(1, 1, [0, 0, 0, 77]);
    makeColorTransparent(r, [255, 255, 255], 10);
    assert.equal(r.data[3], 77);
  });
});
