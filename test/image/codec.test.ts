import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  codecBackend,
  decodeImage,
  encodeImage,
  mimeOf,
  setCodecBackend,
  sniffImageFormat,
} from '../../src/image/codec.ts';
import { createRaster, fillRect, getPixel, type Raster } from '../../src/image/raster.ts';
import { nativeTranscoder, runtimeName } from '../../src/runtime/runtime.ts';

/** A raster with flat areas, a gradient and partial alpha, so codecs have something to do. */
function sample(w = 64, h = 48): Raster {
  const r = createRaster(w, h, [20, 40, 60, 255]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      r.data[i] = (x * 4) & 0xff;
      r.data[i + 1] = (y * 5) & 0xff;
    }
  }
  fillRect(r, 8, 8, 16, 16, [250, 10, 10, 128]);
  fillRect(r, 40, 20, 10, 10, [0, 0, 255, 0]);
  return r;
}

function maxChannelDiff(a: Raster, b: Raster, channels = 4): number {
  let max = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let k = 0; k < channels; k++) max = Math.max(max, Math.abs(a.data[i + k] - b.data[i + k]));
  }
  return max;
}

function meanDiff(a: Raster, b: Raster): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i += 4) {
    for (let k = 0; k < 3; k++) { sum += Math.abs(a.data[i + k] - b.data[i + k]); n++; }
  }
  return sum / n;
}

const backends = (['native', 'wasm'] as const).filter((b) => b === 'wasm' || nativeTranscoder());

after(() => setCodecBackend(undefined));

describe('codec backend selection', () => {
  it('defaults to native codecs on Bun and WASM elsewhere', () => {
    setCodecBackend(undefined);
    assert.equal(codecBackend(), runtimeName() === 'bun' && nativeTranscoder() ? 'native' : 'wasm');
  });

  it('can be forced to WASM on any runtime', () => {
    setCodecBackend('wasm');
    assert.equal(codecBackend(), 'wasm');
    setCodecBackend(undefined);
  });
});

for (const backend of backends) {
  describe(`${backend} codecs`, () => {
    it('round-trips PNG losslessly, alpha included', async () => {
      setCodecBackend(backend);
      const src = sample();
      const png = await encodeImage(src, { format: 'png' });
      assert.equal(sniffImageFormat(png), 'png');
      const back = await decodeImage(png);
      assert.equal(back.width, src.width);
      assert.equal(back.height, src.height);
      assert.deepEqual(back.data, src.data);
    });

    it('round-trips JPEG closely and drops alpha as PIL convert("RGB") does', async () => {
      setCodecBackend(backend);
      const src = sample();
      const jpg = await encodeImage(src, { format: 'jpeg', jpegQuality: 95 });
      assert.equal(sniffImageFormat(jpg), 'jpeg');
      const back = await decodeImage(jpg);
      assert.equal(back.width, src.width);
      assert.equal(back.height, src.height);
      assert.ok(meanDiff(back, src) < 4, `mean diff ${meanDiff(back, src)}`);
      // A fully transparent blue area keeps its colour, not a blend with black.
      const p = getPixel(back, 45, 25);
      assert.ok(p[2] > 200 && p[0] < 40, `pixel ${p}`);
      assert.equal(p[3], 255);
    });

    it('makes smaller JPEGs at lower quality', async () => {
      setCodecBackend(backend);
      const src = sample(128, 128);
      const hi = await encodeImage(src, { format: 'jpeg', jpegQuality: 95 });
      const lo = await encodeImage(src, { format: 'jpeg', jpegQuality: 30 });
      assert.ok(lo.length < hi.length, `q30 ${lo.length} >= q95 ${hi.length}`);
    });

    it('encodes a raster that is a view into a larger buffer', async () => {
      setCodecBackend(backend);
      const big = new Uint8ClampedArray(16 + 8 * 8 * 4);
      const view = big.subarray(16);
      view.fill(200);
      const r: Raster = { width: 8, height: 8, data: view };
      const back = await decodeImage(await encodeImage(r, { format: 'png' }));
      assert.deepEqual(back.data, view);
    });

    it('decodes PNGs of other colour types and filters', async () => {
      setCodecBackend(backend);
      // 2x2 8-bit RGB PNG with Sub/Up filters and a compressed IDAT, made by zlib.
      const png = Uint8Array.from(atob(RGB_2X2_PNG), (c) => c.charCodeAt(0));
      const r = await decodeImage(png);
      assert.deepEqual([...getPixel(r, 0, 0)], [255, 0, 0, 255]);
      assert.deepEqual([...getPixel(r, 1, 0)], [0, 255, 0, 255]);
      assert.deepEqual([...getPixel(r, 0, 1)], [0, 0, 255, 255]);
      assert.deepEqual([...getPixel(r, 1, 1)], [255, 255, 255, 255]);
    });

    it('honours the PNG compression level', async () => {
      setCodecBackend(backend);
      const src = sample(128, 128);
      const l0 = await encodeImage(src, { format: 'png', pngCompression: 0 });
      const l9 = await encodeImage(src, { format: 'png', pngCompression: 9 });
      assert.ok(l0.length > l9.length, `level 0 ${l0.length} <= level 9 ${l9.length}`);
      assert.deepEqual((await decodeImage(l0)).data, (await decodeImage(l9)).data);
    });

    it('round-trips an opaque raster', async () => {
      setCodecBackend(backend);
      const src = createRaster(33, 17, [12, 34, 56, 255]);
      fillRect(src, 3, 3, 9, 9, [200, 100, 0, 255]);
      const back = await decodeImage(await encodeImage(src, { format: 'png' }));
      assert.deepEqual(back.data, src.data);
    });
  });
}

describe('sniffImageFormat', () => {
  const cases: [string, number[], string | undefined][] = [
    ['png', [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'png'],
    ['jpeg', [0xff, 0xd8, 0xff, 0xe0], 'jpeg'],
    ['gif', [...'GIF89a'].map((c) => c.charCodeAt(0)), 'gif'],
    ['tiff le', [0x49, 0x49, 0x2a, 0x00], 'tiff'],
    ['tiff be', [0x4d, 0x4d, 0x00, 0x2a], 'tiff'],
    ['webp', [...'RIFF\0\0\0\0WEBPVP8 '].map((c) => c.charCodeAt(0)), 'webp'],
    ['bmp', [0x42, 0x4d, 0, 0, 0, 0], 'bmp'],
    ['xml', [...'<?xml version'].map((c) => c.charCodeAt(0)), undefined],
    ['short', [0xff], undefined],
  ];
  for (const [name, bytes, want] of cases) {
    it(`recognises ${name}`, () => assert.equal(sniffImageFormat(Uint8Array.from(bytes)), want));
  }

  it('maps formats to MIME types', () => {
    assert.equal(mimeOf('png'), 'image/png');
    assert.equal(mimeOf('jpeg'), 'image/jpeg');
    assert.equal(mimeOf('jpg'), 'image/jpeg');
    assert.equal(mimeOf('image/png; mode=8bit'), 'image/png');
  });
});

// 2x2 RGB (red, green / blue, white), rows filtered Sub then Up, IDAT zlib level 9 (made with Python zlib).
const RGB_2X2_PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR42mP8z8DA+J+BiZHh/3+G/wAeHAUBOZpDMAAAAABJRU5ErkJggg==';
