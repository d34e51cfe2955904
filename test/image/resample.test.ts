import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRaster, fillRect, getPixel, rasterFromData, setPixel, type Raster, type Rgba } from '../../src/image/raster.ts';
import type { Bbox } from '../../src/srs/types.ts';
import { cropRaster, extentSourceWindow, pasteRaster, spanSampler, transformExtent, type ResamplingMethod } from '../../src/image/resample.ts';

const METHODS: ResamplingMethod[] = ['nearest', 'bilinear', 'bicubic'];

/** Deterministic noise, so that any blur or shift changes some byte. */
function noise(w: number, h: number, seed = 1): Raster {
  const r = createRaster(w, h);
  let v = seed;
  for (let i = 0; i < r.data.length; i++) {
    v = (v * 1103515245 + 12345) >>> 0;
    r.data[i] = v >>> 24;
  }
  return r;
}

function px(r: Raster, x: number, y: number): number[] {
  return [...getPixel(r, x, y)];
}

describe('cropRaster / pasteRaster', () => {
  it('crops inside the raster without touching the source', () => {
    const src = noise(10, 8);
    const c = cropRaster(src, 3, 2, 4, 5);
    assert.equal(c.width, 4);
    assert.equal(c.height, 5);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 4; x++) assert.deepEqual(px(c, x, y), px(src, x + 3, y + 2));
    c.data[0] ^= 255;
    assert.notEqual(c.data[0], src.data[(2 * 10 + 3) * 4], 'crop is a copy');
  });

  it('makes the part outside the raster transparent, or the fill colour', () => {
    const src = createRaster(4, 4, [9, 9, 9, 255]);
    const c = cropRaster(src, -2, 3, 4, 3);
    assert.deepEqual(px(c, 0, 0), [0, 0, 0, 0]);
    assert.deepEqual(px(c, 1, 0), [0, 0, 0, 0]);
    assert.deepEqual(px(c, 2, 0), [9, 9, 9, 255]);
    assert.deepEqual(px(c, 3, 0), [9, 9, 9, 255]);
    assert.deepEqual(px(c, 2, 1), [0, 0, 0, 0], 'below the source');
    const f = cropRaster(src, 10, 10, 2, 2, [1, 2, 3, 4]);
    assert.deepEqual(px(f, 1, 1), [1, 2, 3, 4]);
  });

  it('copies full-width bands as one block', () => {
    const src = noise(6, 6);
    const c = cropRaster(src, 0, 2, 6, 3);
    assert.deepEqual(c.data, src.data.subarray(2 * 6 * 4, 5 * 6 * 4));
  });

  it('pastes by replacing pixels, clipped to the destination', () => {
    const dst = createRaster(4, 4, [0, 0, 255, 255]);
    const src = createRaster(3, 3, [255, 0, 0, 0]);
    setPixel(src, 2, 1, [0, 255, 0, 255]);
    pasteRaster(dst, src, -1, 2);
    assert.deepEqual(px(dst, 0, 2), [255, 0, 0, 0], 'transparent pixels replace, not blend');
    assert.deepEqual(px(dst, 1, 3), [0, 255, 0, 255]);
    assert.deepEqual(px(dst, 2, 2), [0, 0, 255, 255], 'outside the pasted area');
    assert.deepEqual(px(dst, 0, 1), [0, 0, 255, 255]);
    pasteRaster(dst, src, 10, 10); // entirely outside: no-op, no throw
  });
});

describe('transformExtent', () => {
  it('returns an exact copy for the identical extent and size', () => {
    const src = noise(37, 23);
    for (const m of METHODS) {
      const out = transformExtent(src, [0, 0, 37, 23], [0, 0, 37, 23], [37, 23], m);
      assert.notEqual(out, src);
      assert.deepEqual(out.data, src.data, m);
    }
  });

  it('crops without resampling when the scale is 1 and the offset integral', () => {
    const src = noise(16, 16);
    // bbox units of 10 per pixel, y up: dst starts 3 px right and 5 px down.
    const out = transformExtent(src, [0, 0, 160, 160], [30, 30, 130, 110], [10, 8], 'bicubic');
    assert.deepEqual(out.data, cropRaster(src, 3, 5, 10, 8).data);
    // Outside the source the fill shows, still without resampling the rest.
    const edge = transformExtent(src, [0, 0, 160, 160], [-20, 0, 80, 160], [10, 16], 'bilinear', [7, 7, 7, 255]);
    assert.deepEqual(px(edge, 1, 4), [7, 7, 7, 255]);
    assert.deepEqual(px(edge, 2, 4), px(src, 0, 4));
  });

  it('duplicates pixels when upscaling 2x with nearest', () => {
    const src = noise(3, 2);
    const out = transformExtent(src, [0, 0, 3, 2], [0, 0, 3, 2], [6, 4], 'nearest');
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 6; x++) assert.deepEqual(px(out, x, y), px(src, x >> 1, y >> 1), `${x},${y}`);
    }
  });

  it('picks every second pixel when downscaling 2x with nearest', () => {
    const src = noise(8, 8);
    const out = transformExtent(src, [0, 0, 8, 8], [0, 0, 8, 8], [4, 4], 'nearest');
    // Centre of dst pixel x samples src x*2+1 exactly, as PIL does.
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) assert.deepEqual(px(out, x, y), px(src, 2 * x + 1, 2 * y + 1));
  });

  it('averages 2x2 blocks when downscaling 2x with bilinear (no antialias beyond that, like PIL)', () => {
    const src = createRaster(8, 8, [0, 0, 0, 255]);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) if ((x + y) % 2) setPixel(src, x, y, [200, 100, 50, 255]);
    const out = transformExtent(src, [0, 0, 8, 8], [0, 0, 8, 8], [4, 4], 'bilinear');
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 4; x++) {
        const p = getPixel(out, x, y);
        assert.ok(Math.abs(p[0] - 100) <= 1 && Math.abs(p[1] - 50) <= 1 && Math.abs(p[2] - 25) <= 1, `${x},${y}: ${p}`);
        assert.equal(p[3], 255);
      }
    }
  });

  it('interpolates a ramp linearly and keeps constant images constant', () => {
    const ramp = createRaster(8, 1, [0, 0, 0, 255]);
    for (let x = 0; x < 8; x++) setPixel(ramp, x, 0, [x * 20, 0, 0, 255]);
    const out = transformExtent(ramp, [0, 0, 8, 1], [0, 0, 8, 1], [32, 1], 'bilinear');
    // dst x=10 samples src 2.625 -> between centres 2.5 and 3.5: 20 * 2.125
    assert.ok(Math.abs(getPixel(out, 10, 0)[0] - 42.5) <= 1, `${getPixel(out, 10, 0)}`);
    const flat = createRaster(5, 5, [10, 20, 30, 255]);
    for (const m of METHODS) {
      const up = transformExtent(flat, [0, 0, 5, 5], [0.3, 0.7, 4.1, 4.9], [13, 11], m);
      for (let y = 0; y < 11; y++) for (let x = 0; x < 13; x++) assert.deepEqual(px(up, x, y), [10, 20, 30, 255], `${m} ${x},${y}`);
    }
  });

  it('gives no dark fringe at a transparent/opaque edge', () => {
    // Transparent pixels stored as black, the usual encoding.
    const src = createRaster(6, 6, [0, 0, 0, 0]);
    fillRect(src, 0, 0, 3, 6, [255, 128, 0, 255]);
    for (const m of ['bilinear', 'bicubic'] as const) {
      const out = transformExtent(src, [0, 0, 6, 6], [0.25, 0, 5.75, 6], [44, 48], m);
      let partial = 0;
      for (let y = 0; y < out.height; y++) {
        for (let x = 0; x < out.width; x++) {
          const p = getPixel(out, x, y);
          if (p[3] === 0) continue;
          if (p[3] < 255) partial++;
          assert.ok(Math.abs(p[0] - 255) <= 1 && Math.abs(p[1] - 128) <= 1 && p[2] <= 1, `${m} ${x},${y}: ${p}`);
        }
      }
      assert.ok(partial > 0, `${m}: the edge is smoothed`);
    }
  });

  it('fills what lies outside the source', () => {
    const src = createRaster(4, 4, [50, 60, 70, 255]);
    const fill: Rgba = [255, 255, 255, 255];
    for (const m of METHODS) {
      // dst covers x -4..4 at half a source pixel per dst pixel.
      const out = transformExtent(src, [0, 0, 4, 4], [-4, 0, 4, 4], [16, 8], m, fill);
      assert.deepEqual(px(out, 7, 3), [255, 255, 255, 255], m);
      assert.deepEqual(px(out, 8, 3), [50, 60, 70, 255], m);
      const none = transformExtent(src, [0, 0, 4, 4], [10, 10, 20, 20], [5, 5], m);
      assert.ok(none.data.every((v) => v === 0), `${m}: no overlap gives a transparent image`);
    }
  });

  it('reads sources whose bytes are not 4-byte aligned', () => {
    const buf = new Uint8Array(1 + 4 * 4 * 4);
    const src = rasterFromData(4, 4, buf.subarray(1));
    for (let i = 0; i < src.data.length; i++) src.data[i] = (i * 13) & 255;
    const out = transformExtent(src, [0, 0, 4, 4], [0, 0, 4, 4], [8, 8], 'nearest');
    assert.deepEqual(px(out, 5, 3), px(src, 2, 1));
  });

  it('agrees with the per-pixel span sampler within rounding (opaque and translucent sources)', () => {
    const opaque = noise(41, 29, 7);
    for (let i = 3; i < opaque.data.length; i += 4) opaque.data[i] = 255;
    for (const src of [opaque, noise(41, 29, 3)]) {
      for (const m of METHODS) {
        const cases: [Bbox, [number, number]][] = [[[3.31, 2.13, 38.7, 27.2], [57, 31]], [[-2.03, -1.07, 40, 30], [23, 17]]];
        for (const [bbox, size] of cases) {
          const out = transformExtent(src, [0, 0, 41, 29], bbox, size, m);
          const ref = createRaster(size[0], size[1]);
          const sample = spanSampler(src, ref, m);
          const scaleX = (bbox[2] - bbox[0]) / size[0];
          const scaleY = (bbox[3] - bbox[1]) / size[1];
          for (let y = 0; y < size[1]; y++) {
            sample(y * size[0], size[0], bbox[0] + 0.5 * scaleX, 29 - bbox[3] + (y + 0.5) * scaleY, scaleX, 0);
          }
          for (let i = 0; i < out.data.length; i += 4) {
            const a = ref.data[i + 3];
            // The span sampler quantizes positions to 1/256 px, which the 1/alpha of unpremultiplying amplifies;
            // the colour of nearly transparent pixels is ill-defined, so it is compared only where alpha is substantial.
            const tol = m === 'nearest' ? 0 : a >= 64 ? 6 : 255;
            for (let c = 0; c < 3; c++) assert.ok(Math.abs(out.data[i + c] - ref.data[i + c]) <= tol, `${m} ${i / 4} c${c}: ${out.data[i + c]} vs ${ref.data[i + c]}`);
            assert.ok(Math.abs(out.data[i + 3] - a) <= (m === 'nearest' ? 0 : 2), `${m} ${i / 4} alpha`);
          }
        }
      }
    }
  });

  it('rejects empty boxes', () => {
    assert.throws(() => transformExtent(createRaster(2, 2), [0, 0, 0, 1], [0, 0, 1, 1], [2, 2], 'nearest'), RangeError);
  });
});

describe('extentSourceWindow', () => {
  /** The window of `src` as a raster with its bbox. */
  function windowOf(src: Raster, b: Bbox, w: readonly number[]): [Raster, Bbox] {
    const rx = (b[2] - b[0]) / src.width;
    const ry = (b[3] - b[1]) / src.height;
    return [cropRaster(src, w[0], w[1], w[2] - w[0], w[3] - w[1]), [b[0] + w[0] * rx, b[3] - w[3] * ry, b[0] + w[2] * rx, b[3] - w[1] * ry]];
  }

  it('covers every pixel transformExtent reads, even without a margin: the window gives the same image', () => {
    const opaque = noise(768, 512, 3);
    for (let i = 3; i < opaque.data.length; i += 4) opaque.data[i] = 255;
    const sources: [string, Raster][] = [['opaque', opaque], ['alpha', noise(768, 512, 5)]];
    const srcBbox: Bbox = [0, 0, 768, 512];
    // Shrinking, enlarging, near 1:1 (the crop path), offset by fractions, and over the edges.
    const requests: [Bbox, [number, number]][] = [
      [[100.3, 50.7, 400.9, 300.1], [256, 256]],
      [[10.25, 20.5, 700.75, 500.5], [256, 180]],
      [[300.5, 200.5, 350.25, 240.75], [256, 256]],
      [[120, 64, 376, 320], [256, 256]],
      [[120.02, 64.02, 376.02, 320.02], [256, 256]],
      [[-50.5, -20, 200, 130], [300, 150]],
      [[600, 400, 900, 600], [150, 100]],
      [[0, 0, 768, 512], [1024, 768]],
    ];
    for (const [what, src] of sources) {
      for (const [bbox, size] of requests) {
        const win = extentSourceWindow(src.width, src.height, srcBbox, bbox, size, 0);
        assert.ok(win[0] >= 0 && win[1] >= 0 && win[2] <= src.width && win[3] <= src.height && win[0] < win[2] && win[1] < win[3]);
        const [part, partBbox] = windowOf(src, srcBbox, win);
        for (const m of METHODS) {
          const want = transformExtent(src, srcBbox, bbox, size, m);
          const got = transformExtent(part, partBbox, bbox, size, m);
          assert.deepEqual(got.data, want.data, `${what} ${m} ${bbox.join(',')} -> ${size.join('x')} via window ${win.join(',')}`);
        }
      }
    }
  });

  it('is a small part of the source for a small request', () => {
    const w = extentSourceWindow(768, 768, [0, 0, 768, 768], [300, 300, 428, 428], [256, 256]);
    assert.ok(w[2] - w[0] < 140 && w[3] - w[1] < 140, w.join(','));
  });

  it('is the whole source when the request does not map into it', () => {
    assert.deepEqual(extentSourceWindow(256, 256, [0, 0, 256, 256], [1000, 1000, 1100, 1100], [64, 64]), [0, 0, 256, 256]);
    assert.deepEqual(extentSourceWindow(256, 256, [0, 0, 256, 256], [Number.NaN, 0, Number.NaN, Number.NaN], [64, 64]), [0, 0, 256, 256]);
  });
});

describe('spanSampler bicubic', () => {
  it('gives a span that keeps its source row the same pixels as sampling pixel by pixel', () => {
    // The row pass (4 vertical taps per source column, then 4 per pixel) must
    // agree bit for bit with the 16-tap path that single pixels take. Steps and
    // starts are multiples of 2^-16, so both walk the same fixed-point positions.
    for (const seed of [3, 11]) {
      const src = noise(61, 37, seed);
      // mostly opaque, with some translucent and transparent pixels for the premultiplied path
      for (let i = 3; i < src.data.length; i += 4) src.data[i] = src.data[i] < 20 ? 0 : src.data[i] < 60 ? src.data[i] : 255;
      for (const dx of [1.25, 0.75, -1.5, 2.5]) {
        for (const [sx, sy] of [[0.5 + 3 / 65536, 7.25], [dx < 0 ? 60.5 : -1.5, 0.125], [10.5, 35.9]]) {
          const n = 40;
          const whole = createRaster(n, 1, [9, 9, 9, 9]);
          spanSampler(src, whole, 'bicubic')(0, n, sx, sy, dx, 0);
          const single = createRaster(n, 1, [9, 9, 9, 9]);
          const sample = spanSampler(src, single, 'bicubic');
          for (let i = 0; i < n; i++) sample(i, 1, sx + i * dx, sy, dx, 0);
          assert.deepEqual([...whole.data], [...single.data], `seed ${seed} dx ${dx} start ${sx},${sy}`);
        }
      }
    }
  });
});
