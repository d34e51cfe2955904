import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRaster, type Raster } from '../../src/image/raster.ts';
import { spanSampler, transformExtent } from '../../src/image/resample.ts';
import { CUBIC_BITS, CUBIC_INT, MAX_BYTES, setWasmResample, wasmBicubicSampler, wasmExtentBicubic, wasmResampleStats } from '../../src/image/wasm/resample.ts';
import type { Bbox } from '../../src/srs/types.ts';
import { describeCommittedModule } from '../helpers/wasm-module.ts';

/** Deterministic noise; opaque unless `alpha`. */
function noise(w: number, h: number, seed: number, alpha = false): Raster {
  const r = createRaster(w, h);
  let v = seed;
  for (let i = 0; i < r.data.length; i++) {
    v = (v * 1103515245 + 12345) >>> 0;
    r.data[i] = (i & 3) === 3 && !alpha ? 255 : v >>> 24;
  }
  return r;
}

/** Runs fn with the WebAssembly path on and off; `used` says whether the first run resampled in WebAssembly. */
function both<T>(fn: () => T, used = true): [T, T] {
  setWasmResample(true);
  const before = wasmResampleStats().uses;
  const wasm = fn();
  assert.equal(wasmResampleStats().uses > before, used, used ? 'the WebAssembly path was not taken' : 'the WebAssembly path was taken');
  setWasmResample(false);
  const js = fn();
  setWasmResample(true);
  return [wasm, js];
}

/** Samples `rows` spans of `n` pixels each (one per row of dst), starting at (sx + y*ax, sy + y*ay). */
function spans(src: Raster, n: number, rows: number, sx: number, sy: number, dx: number, dy: number, ax: number, ay: number): Raster {
  const dst = createRaster(n, rows, [1, 2, 3, 4]);
  const sample = spanSampler(src, dst, 'bicubic');
  for (let y = 0; y < rows; y++) sample(y * n, n, sx + y * ax, sy + y * ay, dx, dy);
  return dst;
}

const clamp = (v: number, max: number) => (v < 0 ? 0 : v > max ? max : v);

afterEach(() => setWasmResample(true));

describe('integer cubic weights', () => {
  it('sum to one on every sub-pixel position and keep the 16-tap sum inside int32', () => {
    const one = 1 << CUBIC_BITS;
    let worst = 0;
    for (let k = 0; k < 256; k++) {
      const w = [...CUBIC_INT.subarray(k * 4, k * 4 + 4)];
      assert.equal(w[0] + w[1] + w[2] + w[3], one, `position ${k}`);
      const t = k / 256;
      // Catmull-Rom rounded; the largest weight also takes the sum's rounding
      const f = [((-0.5 * t + 1) * t - 0.5) * t, (1.5 * t - 2.5) * t * t + 1, ((-1.5 * t + 2) * t + 0.5) * t, (0.5 * t - 0.5) * t * t];
      for (let m = 0; m < 4; m++) assert.ok(Math.abs(w[m] - f[m] * one) <= 2, `position ${k} tap ${m}: ${w[m]} for ${f[m] * one}`);
      worst = Math.max(worst, w.reduce((s, x) => s + Math.abs(x), 0));
    }
    assert.ok(worst * worst * 255 < 2 ** 31, `largest sum ${worst * worst * 255}`);
  });
});

describe('bicubic resampling in WebAssembly', () => {
  it('gives the JS bytes for extent transforms of opaque and translucent sources', () => {
    const cases: [number, number, Bbox, [number, number]][] = [
      [300, 200, [3.3, 2.1, 250.7, 180.2], [256, 256]], // upscale
      [300, 200, [-20, -10, 330, 220], [100, 77]], // downscale, over every edge
      [301, 203, [10.1, 10.2, 11.3, 11.9], [64, 64]], // strong upscale of a few pixels
      [1, 1, [0, 0, 1, 1], [5, 3]],
      [2, 3, [-0.5, 0.25, 2.5, 2.75], [9, 7]],
      [900, 700, [0.37, 1.1, 899.4, 698.2], [1024, 768]],
    ];
    for (const alpha of [false, true]) {
      for (const [i, [w, h, bbox, size]] of cases.entries()) {
        const src = noise(w, h, i + 1, alpha);
        const [wasm, js] = both(() => transformExtent(src, [0, 0, w, h], bbox, size, 'bicubic'), !alpha);
        assert.deepEqual(wasm.data, js.data, `case ${i} alpha ${alpha}`);
      }
    }
  });

  it('gives the JS bytes for spans in every direction, from inside, outside and across the edges', () => {
    const src = noise(97, 61, 7);
    const lines: [number, number, number, number, number, number][] = [
      [0.3, 0.7, 1.3, 0.2, 0.37, 0.81],
      [96.5, 60.5, -0.7, -0.35, -0.2, -0.9],
      [-5, 30, 1.1, 0.05, 0, 0.3],
      [10, -3, 0.9, 0, 0.4, 0.5], // one source row a span: JS takes its row pass
      [50, 30, 0, 0, 0.01, 0.01], // a span standing still
      [0, 0, 3.7, 2.9, 0.5, 0.25], // steps of several pixels, leaving the source
    ];
    for (const [sx, sy, dx, dy, ax, ay] of lines) {
      const [wasm, js] = both(() => spans(src, 140, 40, sx, sy, dx, dy, ax, ay));
      assert.deepEqual(wasm.data, js.data, `start ${sx},${sy} step ${dx},${dy}`);
    }
  });

  it('is Catmull-Rom within one level, at any position including the repeated edges', () => {
    const src = noise(23, 17, 3);
    const at = (x: number, y: number, c: number) => src.data[(clamp(y, 16) * 23 + clamp(x, 22)) * 4 + c];
    const cubic = (t: number) => [((-0.5 * t + 1) * t - 0.5) * t, (1.5 * t - 2.5) * t * t + 1, ((-1.5 * t + 2) * t + 0.5) * t, (0.5 * t - 0.5) * t * t];
    // steps of 32/256 and 20/256 px: the fixed-point walk lands exactly on the positions
    const n = 216;
    const dst = spans(src, n, 1, -1.5, -1.25, 0.125, 0.078125, 0, 0);
    for (let i = 0; i < n; i++) {
      const px = -1.5 + i * 0.125 - 0.5;
      const py = -1.25 + i * 0.078125 - 0.5;
      const xf = Math.floor(px);
      const yf = Math.floor(py);
      const wx = cubic(Math.floor((px - xf) * 256) / 256);
      const wy = cubic(Math.floor((py - yf) * 256) / 256);
      const inside = px + 0.5 >= 0 && px + 0.5 < 23 && py + 0.5 >= 0 && py + 0.5 < 17;
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let m = 0; m < 4; m++) for (let j = 0; j < 4; j++) v += wy[m] * wx[j] * at(xf - 1 + j, yf - 1 + m, c);
        const want = inside ? Math.min(255, Math.max(0, Math.round(v))) : [1, 2, 3][c];
        assert.ok(Math.abs(dst.data[i * 4 + c] - want) <= 1, `pixel ${i} channel ${c}: ${dst.data[i * 4 + c]} against ${want}`);
      }
      assert.equal(dst.data[i * 4 + 3], inside ? 255 : 4);
    }
  });

  it('is taken for opaque sources only, and declines what does not fit its memory', () => {
    const d = new Uint32Array(16);
    assert.equal(typeof wasmBicubicSampler(noise(8, 8, 1), d, 4, 16), 'function');
    assert.equal(wasmBicubicSampler(noise(8, 8, 1, true), d, 4, 16), undefined);
    // the size is checked before any pixel is read
    const huge = { width: 8192, height: Math.ceil(MAX_BYTES / 8192 / 4) + 1, data: new Uint8ClampedArray(4) };
    assert.equal(wasmBicubicSampler(huge, d, 4, 16), undefined);
    setWasmResample(false);
    assert.equal(wasmBicubicSampler(noise(8, 8, 1), d, 4, 16), undefined);
    setWasmResample(true);
    // the extent pass stops at the first row with a translucent tap, as the JS pass does
    const taps = new Int32Array([0, 0, 0, 0]);
    const w = new Int32Array([0, 16384, 0, 0]);
    const row = new Int32Array([0, 1, 2, 3]);
    assert.equal(wasmExtentBicubic(noise(8, 8, 1), new Uint32Array(1), 1, taps, w, 0, 1, row, w, 0, 1), true);
    assert.equal(wasmExtentBicubic(noise(8, 8, 1, true), new Uint32Array(1), 1, taps, w, 0, 1, row, w, 0, 1), false);
  });

  it('keeps samplers of different sources apart when their calls interleave', () => {
    const a = noise(40, 30, 1);
    const b = noise(35, 45, 2);
    const alone = [spans(a, 50, 20, 0.2, 0.4, 0.7, 0.3, 0.5, 1.1), spans(b, 50, 20, 0.2, 0.4, 0.7, 0.3, 0.5, 1.1)];
    const da = createRaster(50, 20, [1, 2, 3, 4]);
    const db = createRaster(50, 20, [1, 2, 3, 4]);
    const sa = spanSampler(a, da, 'bicubic');
    const sb = spanSampler(b, db, 'bicubic');
    for (let y = 0; y < 20; y++) {
      sa(y * 50, 50, 0.2 + y * 0.5, 0.4 + y * 1.1, 0.7, 0.3);
      // an extent transform in between uses the memory too
      if (y === 7) transformExtent(noise(64, 64, 9), [0, 0, 64, 64], [1, 1, 60, 60], [33, 33], 'bicubic');
      sb(y * 50, 50, 0.2 + y * 0.5, 0.4 + y * 1.1, 0.7, 0.3);
    }
    assert.deepEqual(da.data, alone[0].data);
    assert.deepEqual(db.data, alone[1].data);
  });

  it('still samples right after a source large enough to make it give its memory back', () => {
    const small = noise(30, 20, 6);
    const line = (sample: ReturnType<typeof spanSampler>) => sample(0, 60, 0.1, 3.3, 0.45, 0.2);
    const earlyOut = createRaster(60, 1);
    const early = spanSampler(small, earlyOut, 'bicubic');
    // ~17.7 MB padded: more than the module keeps, so the next smaller use starts a new instance
    const big = noise(2200, 2000, 5);
    const [bigWasm, bigJs] = both(() => spans(big, 64, 4, 1000.3, 900.1, 0.9, 0.4, 0.5, 0.5));
    assert.deepEqual(bigWasm.data, bigJs.data);
    assert.ok(wasmResampleStats().memoryBytes > 16 << 20);
    // a sampler made before the big one, used after it, copies its source into the new instance
    line(early);
    const ref = createRaster(60, 1);
    setWasmResample(false);
    line(spanSampler(small, ref, 'bicubic'));
    setWasmResample(true);
    assert.deepEqual(earlyOut.data, ref.data);
    assert.ok(wasmResampleStats().memoryBytes <= 16 << 20, `${wasmResampleStats().memoryBytes} bytes kept`);
    const lateOut = createRaster(60, 1);
    line(spanSampler(small, lateOut, 'bicubic'));
    assert.deepEqual(lateOut.data, ref.data);
  });
});

describe('the WebAssembly span sampler at its limits', () => {
  it('samples in JS when its memory is gone by the time it is used', () => {
    const src = noise(30, 20, 4);
    const out = createRaster(60, 1);
    const sample = spanSampler(src, out, 'bicubic');
    spanSampler(noise(20, 30, 5), createRaster(8, 1), 'bicubic'); // takes the memory
    setWasmResample(false); // ... and the sampler cannot get it back
    sample(0, 60, 0.1, 3.3, 0.45, 0.2);
    const ref = createRaster(60, 1);
    spanSampler(src, ref, 'bicubic')(0, 60, 0.1, 3.3, 0.45, 0.2);
    assert.deepEqual(out.data, ref.data);
  });

  it('drops what a span writes past the destination, as the JS sampler does', () => {
    const src = noise(10, 10, 8);
    const [wasm, js] = both(() => {
      const dst = createRaster(4, 1, [7, 7, 7, 7]);
      spanSampler(src, dst, 'bicubic')(2, 4, 1, 1, 1, 0);
      return dst;
    });
    assert.deepEqual(wasm.data, js.data);
    assert.notDeepEqual([...wasm.data.subarray(8, 16)], [7, 7, 7, 7, 7, 7, 7, 7]);
  });
});

describeCommittedModule('resample', 'the committed resampling module');
