import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { crc32, inflateSync } from 'node:zlib';
import { rasterToBmp } from '../../src/image/bmp.ts';
import { decodeImage, encodeImage } from '../../src/image/codec.ts';
import type { Raster } from '../../src/image/raster.ts';
import { storedPng } from '../../src/image/stored-png.ts';
import { packScanlines } from '../../src/image/wasm/unfilter.ts';

// The uncompressed PNG that carries pixels into Bun.Image: its scanlines and
// adler-32 (WebAssembly) against definitions written out here, its chunks
// against zlib, and what Bun.Image makes of it against the BMP it replaces.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s >>> 24;
  };
}

function noise(width: number, height: number, seed: number): Raster {
  const rand = rng(seed);
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = rand();
  return { width, height, data };
}

/** Filter type 0 scanlines as the PNG specification has them: a 0 byte, then RGB or RGBA samples. */
function referenceScanlines(r: Raster, alpha: boolean): Uint8Array {
  const bpp = alpha ? 4 : 3;
  const line = r.width * bpp + 1;
  const out = new Uint8Array(line * r.height);
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      for (let c = 0; c < bpp; c++) out[y * line + 1 + x * bpp + c] = r.data[(y * r.width + x) * 4 + c];
    }
  }
  return out;
}

/** zlib's adler-32 as RFC 1950 defines it, one byte at a time. */
function referenceAdler(b: Uint8Array): number {
  let s1 = 1;
  let s2 = 0;
  for (const x of b) {
    s1 = (s1 + x) % 65521;
    s2 = (s2 + s1) % 65521;
  }
  return ((s2 << 16) | s1) >>> 0;
}

function packed(r: Raster, alpha: boolean): { lines: Uint8Array; adler: number; strips: number } {
  const line = r.width * (alpha ? 4 : 3) + 1;
  const lines = new Uint8Array(line * r.height);
  let next = 0;
  let strips = 0;
  const adler = packScanlines(r.data, r.width, r.height, !alpha, (part, first, count) => {
    assert.equal(first, next, 'strips in order, each its own rows');
    assert.equal(part.length, line * count);
    lines.set(part, first * line);
    next = first + count;
    strips++;
  });
  assert.ok(adler !== undefined, 'WebAssembly is there under the test runtime');
  assert.equal(next, r.height);
  return { lines, adler, strips };
}

/** The chunks of a PNG, each checked against its CRC. */
function chunks(png: Uint8Array): { type: string; data: Uint8Array }[] {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: { type: string; data: Uint8Array }[] = [];
  for (let p = 8; p < png.length; ) {
    const len = v.getUint32(p);
    const type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    assert.equal(v.getUint32(p + 8 + len), crc32(png.subarray(p + 4, p + 8 + len)) >>> 0, `CRC of ${type}`);
    out.push({ type, data: png.subarray(p + 8, p + 8 + len) });
    p += 12 + len;
  }
  return out;
}

/** The PNG storedPng should write, built here from the definitions: whole scanlines per stored block. */
function referencePng(r: Raster, alpha: boolean): Uint8Array {
  const lines = referenceScanlines(r, alpha);
  const line = r.width * (alpha ? 4 : 3) + 1;
  const perBlock = Math.floor(65535 / line);
  const z: number[] = [0x78, 0x01];
  for (let y = 0; y < r.height; y += perBlock) {
    const len = Math.min(perBlock, r.height - y) * line;
    z.push(y + perBlock >= r.height ? 1 : 0, len & 255, len >>> 8, ~len & 255, (~len >>> 8) & 255, ...lines.subarray(y * line, y * line + len));
  }
  const adler = referenceAdler(lines);
  z.push(adler >>> 24, (adler >>> 16) & 255, (adler >>> 8) & 255, adler & 255);
  const chunk = (type: string, data: number[]): number[] => {
    const body = [...type].map((c) => c.charCodeAt(0)).concat(data);
    const crc = crc32(new Uint8Array(body)) >>> 0;
    const n = data.length;
    return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, ...body, crc >>> 24, (crc >>> 16) & 255, (crc >>> 8) & 255, crc & 255];
  };
  const be = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
  return new Uint8Array([
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ...chunk('IHDR', [...be(r.width), ...be(r.height), 8, alpha ? 6 : 2, 0, 0, 0]),
    ...chunk('IDAT', z),
    ...chunk('IEND', []),
  ]);
}

describe('packScanlines (WebAssembly)', () => {
  it('writes RGB and RGBA scanlines with filter type 0 and their adler-32, for any width', () => {
    // widths around the 4-pixel vector step, and heights that end in every byte position of a 16-byte step
    for (const [w, h] of [[1, 1], [1, 7], [3, 5], [4, 4], [5, 3], [7, 2], [16, 9], [17, 13], [255, 3], [1024, 7]]) {
      const r = noise(w, h, w * 31 + h);
      for (const alpha of [false, true]) {
        const { lines, adler } = packed(r, alpha);
        assert.deepEqual(lines, referenceScanlines(r, alpha), `${w}x${h} ${alpha ? 'RGBA' : 'RGB'}`);
        assert.equal(adler, referenceAdler(lines), `adler-32 of ${w}x${h} ${alpha ? 'RGBA' : 'RGB'}`);
      }
    }
  });

  it('goes through large images a strip at a time, the adler-32 running on across strips and past 5552-byte blocks', () => {
    const r = noise(1000, 700, 7);
    for (const alpha of [false, true]) {
      const { lines, adler, strips } = packed(r, alpha);
      assert.ok(strips > 1, `${strips} strip(s)`);
      assert.deepEqual(lines, referenceScanlines(r, alpha));
      assert.equal(adler, referenceAdler(lines));
    }
  });

  it('keeps the adler-32 sums exact for bytes of 255 (the largest sums a block can reach)', () => {
    const r: Raster = { width: 600, height: 40, data: new Uint8ClampedArray(600 * 40 * 4).fill(255) };
    const { lines, adler } = packed(r, true);
    assert.equal(adler, referenceAdler(lines));
  });
});

describe('storedPng', () => {
  it('is a valid PNG: chunks with their CRCs, stored blocks zlib inflates (adler-32 checked) to the scanlines', () => {
    // 1024 RGB pixels a row: 21 scanlines a block, 37 blocks with a shorter last one
    for (const [w, h, alpha] of [[1024, 768, false], [333, 45, true], [1, 1, false], [7, 3, true]] as const) {
      const r = noise(w, h, w + h);
      const png = storedPng(r, alpha)!;
      const cs = chunks(png);
      assert.deepEqual(cs.map((c) => c.type), ['IHDR', 'IDAT', 'IEND']);
      const ihdr = new DataView(cs[0].data.buffer, cs[0].data.byteOffset, 13);
      assert.deepEqual([ihdr.getUint32(0), ihdr.getUint32(4), cs[0].data[8], cs[0].data[9], cs[0].data[10], cs[0].data[11], cs[0].data[12]], [w, h, 8, alpha ? 6 : 2, 0, 0, 0]);
      assert.deepEqual(new Uint8Array(inflateSync(cs[1].data)), referenceScanlines(r, alpha), `${w}x${h}`);
      assert.equal(cs[2].data.length, 0);
    }
  });

  it('writes every byte itself: into memory full of junk, the same PNG as built from the definitions', () => {
    // the buffer comes from Buffer.allocUnsafeSlow, unzeroed; make sure it holds junk
    const real = Buffer.allocUnsafeSlow;
    Buffer.allocUnsafeSlow = (n: number) => real(n).fill(0xa5);
    try {
      // one block, several blocks with a short last one, a block per scanline, strips ending inside blocks
      for (const [w, h] of [[1, 1], [5, 3], [1024, 50], [21_000, 2], [1000, 300], [13, 5000]]) {
        const r = noise(w, h, w ^ h);
        for (const alpha of [false, true]) {
          if (w * 4 + 1 > 65535 && alpha) continue;
          assert.deepEqual(storedPng(r, alpha), referencePng(r, alpha), `${w}x${h} ${alpha ? 'RGBA' : 'RGB'}`);
        }
      }
    } finally {
      Buffer.allocUnsafeSlow = real;
    }
  });

  it('decodes to the raster: RGB with alpha 255, RGBA as it was', async () => {
    const r = noise(257, 130, 3);
    for (const alpha of [false, true]) {
      const back = await decodeImage(storedPng(r, alpha)!);
      const want = new Uint8ClampedArray(r.data);
      if (!alpha) for (let i = 3; i < want.length; i += 4) want[i] = 255;
      assert.deepEqual([back.width, back.height], [257, 130]);
      assert.deepEqual(back.data, want);
    }
  });

  it('declines scanlines too long for one stored block (the caller then goes through a BMP)', () => {
    const r = (w: number): Raster => ({ width: w, height: 1, data: new Uint8ClampedArray(w * 4) });
    assert.ok(storedPng(r(21_844), false));
    assert.equal(storedPng(r(21_845), false), undefined);
    assert.ok(storedPng(r(16_383), true));
    assert.equal(storedPng(r(16_384), true), undefined);
  });
});

describe('encodeImage through Bun.Image', { skip: typeof Bun === 'undefined' || typeof Bun.Image !== 'function' }, () => {
  const viaBmp = async (r: Raster, format: 'jpeg' | 'png', alpha: boolean) => {
    const img = new Bun.Image(rasterToBmp(r, alpha), { autoOrient: false });
    return new Uint8Array(await (format === 'jpeg' ? img.jpeg({ quality: 90 }) : img.png({ compressionLevel: 6 })).bytes());
  };

  it('gives the bytes the BMP it replaced gave: JPEG (alpha ignored) and PNG (alpha kept)', async () => {
    const withAlpha = (r: Raster, a: number): Raster => {
      const data = new Uint8ClampedArray(r.data);
      for (let i = 3; i < data.length; i += 4) data[i] = a;
      return { ...r, data };
    };
    for (const [w, h] of [[1024, 768], [256, 256], [5, 3]]) {
      for (const r of [noise(w, h, w * h), withAlpha(noise(w, h, w + h), 255), withAlpha(noise(w, h, w - h), 0)]) {
        assert.deepEqual(new Uint8Array(await encodeImage(r, { format: 'jpeg', jpegQuality: 90 })), await viaBmp(r, 'jpeg', false), `${w}x${h} JPEG`);
        assert.deepEqual(new Uint8Array(await encodeImage(r, { format: 'png', pngCompression: 6 })), await viaBmp(r, 'png', true), `${w}x${h} PNG`);
      }
    }
  });

  it('still encodes images wider than a stored block holds, through the BMP', async () => {
    const r = noise(22_000, 2, 9);
    const jpeg = await encodeImage(r, { format: 'jpeg' });
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    const back = await decodeImage(jpeg);
    assert.deepEqual([back.width, back.height], [22_000, 2]);
  });
});
