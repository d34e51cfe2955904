import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pngPredictor } from '../helpers/png-filter.ts';
import { MAX_BYTES, wasmUnfilter } from '../../src/image/wasm/unfilter.ts';
import { describeCommittedModule } from '../helpers/wasm-module.ts';

// The WebAssembly unfilter against the PNG specification's definition,
// written out here byte by byte.

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s >>> 24;
  };
}

/** Unfilters scanlines (filter byte + stride bytes each) as the PNG spec says. */
function reference(raw: Uint8Array, height: number, stride: number, bpp: number): Uint8Array {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const f = raw[y * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i];
      const a = i >= bpp ? out[y * stride + i - bpp] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = i >= bpp && y > 0 ? out[(y - 1) * stride + i - bpp] : 0;
      const pred = pngPredictor(f, a, b, c);
      out[y * stride + i] = (x + pred) & 255;
    }
  }
  return out;
}

/** Scanlines with every filter type in turn (starting at `first`), random samples; `smooth` makes ties in Paeth common. */
function scanlines(height: number, stride: number, seed: number, first = 0, smooth = false): Uint8Array {
  const rand = rng(seed);
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (stride + 1)] = (first + y) % 5;
    for (let i = 1; i <= stride; i++) raw[y * (stride + 1) + i] = smooth ? rand() & 3 : rand();
  }
  return raw;
}

/** wasmUnfilter's strips joined, and where each began; undefined when it declined. */
function unfilterAll(raw: Uint8Array, height: number, stride: number, bpp: number, rgbToRgba = false): { rows: Uint8Array; strips: number[] } | undefined {
  const rowBytes = rgbToRgba ? (stride / 3) * 4 : stride;
  const rows = new Uint8Array(rowBytes * height);
  const strips: number[] = [];
  let next = 0;
  const ok = wasmUnfilter(raw, height, stride, bpp, rgbToRgba, (px, first, count) => {
    // strips come in order, one after another, each its own rows only
    assert.equal(first, next);
    assert.equal(px.length, rowBytes * count);
    strips.push(first);
    rows.set(px, first * rowBytes);
    next = first + count;
  });
  if (ok) assert.equal(next, height);
  return ok ? { rows, strips } : undefined;
}

describe('WebAssembly PNG unfilter', () => {
  it('matches the specification for every filter and pixel size', () => {
    for (const bpp of [1, 2, 3, 4, 6, 8]) {
      for (const width of [1, 2, 5, 17, 64]) {
        for (const smooth of [false, true]) {
          for (const first of [0, 1, 2, 3, 4]) {
            const stride = width * bpp;
            const raw = scanlines(7, stride, bpp * 1000 + width, first, smooth);
            const got = unfilterAll(raw, 7, stride, bpp);
            assert.ok(got, 'unfiltered');
            assert.deepEqual(Array.from(got.rows), Array.from(reference(raw, 7, stride, bpp)), `bpp ${bpp} width ${width} first filter ${first} smooth ${smooth}`);
          }
        }
      }
    }
  });

  it('unfilters runs of 4 to 9 Paeth rows (done four at a time, then two, then one), every row of a run checked', () => {
    for (const bpp of [3, 4]) {
      for (let width = 1; width <= 40; width++) {
        for (let run = 4; run <= 9; run++) {
          // a row of another filter above and below the run; `smooth` on every other width for Paeth ties
          const height = run + 2;
          const stride = width * bpp;
          const raw = scanlines(height, stride, width * 17 + run * 5 + bpp, 0, width % 2 === 0);
          for (let y = 0; y < height; y++) raw[y * (stride + 1)] = y === 0 ? 1 : y === height - 1 ? 2 : 4;
          const got = unfilterAll(raw, height, stride, bpp);
          assert.ok(got);
          assert.deepEqual(Array.from(got.rows), Array.from(reference(raw, height, stride, bpp)), `bpp ${bpp} width ${width} run ${run}`);
        }
      }
    }
  });

  it('unfilters consecutive Paeth rows (done four or two at a time) as the specification says', () => {
    // every other test's rows change filter each row: here runs of Paeth rows, odd and even, between others
    const rand = rng(77);
    for (const bpp of [3, 4]) {
      for (let width = 1; width <= 40; width++) {
        for (const smooth of [false, true]) {
          const height = 2 + (width % 7);
          const stride = width * bpp;
          const raw = scanlines(height, stride, width * 31 + bpp, 0, smooth);
          for (let y = 0; y < height; y++) raw[y * (stride + 1)] = rand() < 200 ? 4 : rand() % 4;
          const got = unfilterAll(raw, height, stride, bpp);
          assert.ok(got);
          assert.deepEqual(Array.from(got.rows), Array.from(reference(raw, height, stride, bpp)), `bpp ${bpp} width ${width} smooth ${smooth}`);
        }
      }
    }
  });

  it('widens RGB to RGBA with opaque alpha', () => {
    const width = 19, height = 6, stride = width * 3;
    const raw = scanlines(height, stride, 5);
    const rgb = reference(raw, height, stride, 3);
    const got = unfilterAll(raw, height, stride, 3, true)?.rows;
    assert.ok(got);
    assert.equal(got.length, width * height * 4);
    for (let p = 0; p < width * height; p++) {
      assert.deepEqual(Array.from(got.subarray(p * 4, p * 4 + 4)), [rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2], 255], `pixel ${p}`);
    }
  });

  it('unfilters only the rows asked for, and a small image after a larger one', () => {
    const big = scanlines(300, 1200, 9);
    const want = reference(big, 300, 1200, 4);
    assert.deepEqual(Array.from(unfilterAll(big, 300, 1200, 4)!.rows), Array.from(want));
    // the first 40 rows only: the same as the first 40 rows of the whole
    assert.deepEqual(Array.from(unfilterAll(big, 40, 1200, 4)!.rows), Array.from(want.subarray(0, 40 * 1200)));
    // a small one after it: stale bytes of the larger image must not leak in (the row above row 0 is zeros)
    const small = scanlines(3, 12, 11, 2);
    assert.deepEqual(Array.from(unfilterAll(small, 3, 12, 4)!.rows), Array.from(reference(small, 3, 12, 4)));
  });

  it('takes images larger than its memory a strip of rows at a time, each strip seeing the row above it', () => {
    // 1500x1000 RGBA: 12 MB of scanlines and rows, three times MAX_BYTES
    const width = 1500, height = 1000, stride = width * 4;
    const raw = scanlines(height, stride, 21, 0, true);
    // mostly Paeth and Up, the filters that read the row above, at strip edges too
    for (let y = 0; y < height; y++) raw[y * (stride + 1)] = y % 3 === 2 ? 2 : 4;
    const got = unfilterAll(raw, height, stride, 4);
    assert.ok(got);
    assert.ok(got.strips.length > 3, `${got.strips.length} strips`);
    assert.deepEqual(got.rows, reference(raw, height, stride, 4));
    // RGB widened to RGBA, in strips as well
    const rgbStride = width * 3;
    const rgb = scanlines(height, rgbStride, 22, 0, true);
    for (let y = 0; y < height; y++) rgb[y * (rgbStride + 1)] = 4;
    const wide = unfilterAll(rgb, height, rgbStride, 3, true);
    assert.ok(wide && wide.strips.length > 1);
    const want = reference(rgb, height, rgbStride, 3);
    for (let p = 0; p < width * height; p += 997) {
      assert.deepEqual(Array.from(wide.rows.subarray(p * 4, p * 4 + 4)), [want[p * 3], want[p * 3 + 1], want[p * 3 + 2], 255], `pixel ${p}`);
    }
  });

  it('rejects a filter type outside 0..4, naming it, in any strip', () => {
    const raw = scanlines(4, 8, 3);
    raw[2 * 9] = 7;
    assert.throws(() => unfilterAll(raw, 4, 8, 4), /PNG filter type 7 is invalid/);
    const stride = 4000;
    const big = scanlines(600, stride, 4);
    big[555 * (stride + 1)] = 9;
    assert.throws(() => unfilterAll(big, 600, stride, 4), /PNG filter type 9 is invalid/);
  });

  it('declines rows too wide for its memory, and scanlines shorter than promised', () => {
    const stride = (MAX_BYTES >> 1) + 16;
    assert.equal(unfilterAll(new Uint8Array(stride + 1), 1, stride, 4), undefined);
    assert.equal(unfilterAll(new Uint8Array(10), 2, 8, 4), undefined);
  });
});

describeCommittedModule('unfilter', 'the committed WebAssembly module');
