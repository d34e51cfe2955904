import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { quantize } from '../../src/image/palette.ts';
import type { Raster } from '../../src/image/raster.ts';
import { BUCKETS, MAX_QUANTIZE_PIXELS, opaqueSums } from '../../src/image/wasm/quantize.ts';
import { describeCommittedModule } from '../helpers/wasm-module.ts';

// The quantizer's pixel passes in WebAssembly (quantize.wat) against
// definitions written out here, and palette.ts's results through them
// against its JS passes (which images too large for the module take).

describeCommittedModule('quantize', 'quantize-wasm.ts');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s >>> 8;
  };
}

/**
 * An image of runs: `colors` distinct colours, each run `run` pixels long or
 * random up to `run` with `vary`. Runs go on across row ends. Alpha, which
 * the passes ignore, is random for each run, or with `alphaNoise` for each
 * pixel (runs of one colour whose pixels all differ).
 */
function runs(width: number, height: number, colors: number, run: number, seed: number, vary = false, alphaNoise = false): Raster {
  const rand = rng(seed);
  const palette = Array.from({ length: colors }, () => rand() & 0xffffff);
  const data = new Uint8ClampedArray(width * height * 4);
  let left = 0;
  let c = 0;
  let a = 0;
  for (let i = 0; i < width * height; i++) {
    if (left-- <= 0) {
      c = palette[rand() % colors];
      a = rand() & 255;
      left = (vary ? 1 + (rand() % run) : run) - 1;
    }
    data[i * 4] = c & 255;
    data[i * 4 + 1] = (c >>> 8) & 255;
    data[i * 4 + 2] = (c >>> 16) & 255;
    data[i * 4 + 3] = alphaNoise ? rand() & 255 : a;
  }
  return { width, height, data };
}

/** The fine bucket of pixel i: the top 4 bits of red, green, blue. */
function bucketAt(r: Raster, i: number): number {
  return ((r.data[i * 4] >> 4) << 8) | ((r.data[i * 4 + 1] >> 4) << 4) | (r.data[i * 4 + 2] >> 4);
}

/** Red, green, blue sums and count per bucket, by definition. */
function wantSums(r: Raster): Int32Array {
  const s = new Int32Array(4 * BUCKETS);
  for (let i = 0; i < r.width * r.height; i++) {
    const o = 4 * bucketAt(r, i);
    s[o] += r.data[i * 4];
    s[o + 1] += r.data[i * 4 + 1];
    s[o + 2] += r.data[i * 4 + 2];
    s[o + 3]++;
  }
  return s;
}

/** The colours (alpha 255) in order of first use and each pixel's index, or undefined beyond `max`. */
function wantExact(r: Raster, max: number): { keys: number[]; indices: number[] } | undefined {
  const seen = new Map<number, number>();
  const indices: number[] = [];
  for (let i = 0; i < r.width * r.height; i++) {
    const k = (r.data[i * 4] | (r.data[i * 4 + 1] << 8) | (r.data[i * 4 + 2] << 16) | (255 << 24)) | 0;
    let idx = seen.get(k);
    if (idx === undefined) {
      if (seen.size === max) return undefined;
      idx = seen.size;
      seen.set(k, idx);
    }
    indices.push(idx);
  }
  return { keys: [...seen.keys()], indices };
}

/** Runs opaqueSums and map on an image and checks all of it against the definitions. */
function check(r: Raster, maxExact: number, label: string): void {
  const n = r.width * r.height;
  const got = opaqueSums(r.data, r.width, r.height, maxExact);
  assert.ok(got, label);
  const exact = maxExact > 0 ? wantExact(r, maxExact) : undefined;
  assert.equal(got.colors, exact ? exact.keys.length : -1, `${label}: colours`);
  if (exact) {
    assert.deepEqual([...got.keys.subarray(0, got.colors)], exact.keys, `${label}: exact colours`);
    assert.deepEqual([...got.indices.subarray(0, n)], exact.indices, `${label}: exact indices`);
  }
  assert.deepEqual(got.sums, wantSums(r), `${label}: sums`);
  // the caller zeroes the sums; any lookup will do for the mapping
  got.sums.fill(0);
  for (let b = 0; b < BUCKETS; b++) got.lookup[b] = (b * 37 + 11) & 255;
  got.map();
  const want = new Uint8Array(n);
  for (let i = 0; i < n; i++) want[i] = (bucketAt(r, i) * 37 + 11) & 255;
  assert.deepEqual(got.indices.subarray(0, n), want, `${label}: mapped indices`);
}

describe('opaqueSums (quantize.wat)', () => {
  it('sums, exact palettes and mapped indices match their definitions for any size and run pattern', () => {
    // Sizes around the 16-pixel mark step and the 64-bit mask words; runs
    // long, short, random and single pixels (the per-pixel passes of dense images).
    const sizes: [number, number][] = [[1, 1], [2, 1], [15, 1], [16, 1], [17, 1], [63, 1], [64, 1], [65, 1], [7, 9], [31, 5], [64, 3], [100, 7], [256, 256]];
    let seed = 1;
    for (const [w, h] of sizes) {
      for (const [colors, run, vary, alphaNoise] of [
        [1, 1, false, false], [3, 40, true, false], [200, 9, true, false], [255, 1, false, false], [256, 2, false, false],
        [5000, 1, false, false], [300, 4, true, false], [300, 6, true, true], [2, 50, false, true],
      ] as const) {
        const r = runs(w, h, colors, run, seed++, vary, alphaNoise);
        for (const max of [0, 1, 2, 255]) check(r, max, `${w}x${h} colours ${colors} run ${run} max ${max}`);
      }
    }
  });

  it('finds where the colours overflow wherever that is, in long runs and in dense images', () => {
    // 256 colours in a row, then the 257th at pixel 256 * run: the exact
    // pass stops there and (dense images) the sums go on a pixel at a time.
    for (const run of [1, 2, 3, 5, 17]) {
      const w = 61;
      const h = Math.ceil((258 * run) / w) + 2;
      const data = new Uint8ClampedArray(w * h * 4);
      for (let i = 0; i < w * h; i++) {
        const c = Math.min(256, Math.floor(i / run));
        data.set([c & 255, (c * 7) & 255, c >> 8, 255], i * 4);
      }
      for (const max of [255, 256]) check({ width: w, height: h, data }, max, `run ${run} max ${max}`);
    }
  });

  it('carries nothing from one image to the next when the caller zeroes the sums', () => {
    const a = runs(64, 64, 300, 3, 7, true);
    const b = runs(33, 3, 20, 1, 8);
    check(a, 255, 'first');
    check(b, 255, 'second');
    check(a, 0, 'first again');
  });

  it('writes nothing past the 16 bytes of slack after the indices', () => {
    // A large image first, so that the memory reaches well past each small
    // image's indices; bytes after their slack are then set and must stay.
    const grow = opaqueSums(runs(300, 300, 50, 3, 30).data, 300, 300, 0)!;
    grow.sums.fill(0);
    let seed = 40;
    for (const [w, h] of [[1, 1], [5, 3], [16, 1], [64, 1], [65, 2], [100, 7], [127, 3], [256, 4]]) {
      for (const [colors, run] of [[3, 1], [3, 30], [200, 5], [5000, 1], [5000, 2]]) {
        const r = runs(w, h, colors, run, seed++, true);
        const n = w * h;
        for (const max of [0, 255]) {
          const first = opaqueSums(r.data, w, h, max)!;
          first.sums.fill(0);
          const after = new Uint8Array(first.indices.buffer, first.indices.byteOffset + n + 16, 256);
          after.fill(0xa5);
          const got = opaqueSums(r.data, w, h, max)!;
          assert.equal(got.indices.byteOffset, first.indices.byteOffset);
          got.sums.fill(0);
          assert.ok(after.every((b) => b === 0xa5), `${w}x${h} colours ${colors} run ${run} max ${max}: sums wrote past the slack`);
          got.map();
          assert.ok(after.every((b) => b === 0xa5), `${w}x${h} colours ${colors} run ${run} max ${max}: map wrote past the slack`);
        }
      }
    }
  });

  it('declines images larger than it takes, and data shorter than the size says', () => {
    assert.equal(opaqueSums(new Uint8Array(4), 0, 1, 0), undefined);
    assert.equal(opaqueSums(new Uint8Array(0), MAX_QUANTIZE_PIXELS + 1, 1, 0), undefined);
    assert.equal(opaqueSums(new Uint8Array(4 * 16 - 1), 4, 4, 0), undefined);
  });

  it('takes at most 256 exact colours, whatever it is asked for', () => {
    const r = runs(64, 64, 5000, 1, 50);
    const got = opaqueSums(r.data, 64, 64, 5000)!;
    assert.equal(got.colors, -1);
    assert.deepEqual(got.sums, wantSums(r));
    got.sums.fill(0);
  });
});

describe('quantize through WebAssembly and through JS', () => {
  // An image and the same image stacked 17 times, which is larger than the
  // module takes: the JS passes quantize that one. Every bucket's sums grow
  // 17-fold, so the palette and the indices (repeated) must be the same.
  function stacked(r: Raster, times: number): Raster {
    const data = new Uint8ClampedArray(r.data.length * times);
    for (let k = 0; k < times; k++) data.set(r.data, k * r.data.length);
    return { width: r.width, height: r.height * times, data };
  }

  for (const [name, r, colors] of [
    ['octree, long runs', runs(256, 256, 3000, 12, 21, true), 255],
    ['octree, dense', runs(256, 256, 20000, 1, 22), 256],
    ['octree, few colours allowed', runs(256, 256, 400, 5, 23, true), 16],
    ['exact', runs(256, 256, 200, 6, 24, true), 255],
  ] as const) {
    it(`gives the same palette and indices (${name})`, () => {
      const big = stacked(r, 17);
      assert.ok(big.width * big.height > MAX_QUANTIZE_PIXELS);
      const small = quantize(r, { colors, alpha: false });
      const large = quantize(big, { colors, alpha: false });
      assert.equal(large.exact, small.exact);
      assert.deepEqual(large.palette, small.palette);
      for (let k = 0; k < 17; k++) {
        const part = large.indices.subarray(k * small.indices.length, (k + 1) * small.indices.length);
        assert.ok(Buffer.compare(part, small.indices) === 0, `copy ${k}`);
      }
    });
  }
});
