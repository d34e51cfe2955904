import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  exactPalette, indexedToRaster, medianCutQuantize, octreeQuantize, paletteSize, quantize, quantizeInto, type IndexedImage,
  type QuantizeOptions,
} from '../../src/image/palette.ts';
import { createRaster, fillRect, getPixel, type Raster } from '../../src/image/raster.ts';

/** 64x64 with r = 4x, g = 4y, b = x*y mod 256: 4096 colours, spread over the whole cube. */
function gradient(): Raster {
  const r = createRaster(64, 64);
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) r.data.set([x * 4, y * 4, (x * y) % 256, 255], (y * 64 + x) * 4);
  }
  return r;
}

/** 64x64 smooth ramps: 4096 colours on a surface through the cube, like imagery. */
function smooth(): Raster {
  const r = createRaster(64, 64);
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 64; x++) r.data.set([x * 4, y * 4, 255 - x * 2 - y, 255], (y * 64 + x) * 4);
  }
  return r;
}

/** A few flat fills, one of them half transparent, like an unsmoothed map tile. */
function fills(): Raster {
  const r = createRaster(40, 30, [242, 239, 233, 255]);
  fillRect(r, 0, 20, 40, 10, [170, 211, 223, 255]);
  fillRect(r, 5, 5, 10, 10, [200, 250, 204, 255]);
  fillRect(r, 20, 2, 8, 8, [10, 20, 30, 128]);
  fillRect(r, 30, 0, 10, 5, [1, 2, 3, 0]);
  return r;
}

function distinctColours(r: Raster): number {
  return new Set(new Uint32Array(r.data.buffer, r.data.byteOffset, r.width * r.height)).size;
}

function meanError(a: Raster, b: Raster): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

function assertValidIndices(img: IndexedImage): void {
  const n = paletteSize(img);
  assert.equal(img.indices.length, img.width * img.height);
  for (const i of img.indices) assert.ok(i < n, `index ${i} outside a palette of ${n}`);
}

describe('exact palette', () => {
  it('keeps every colour of an image with few colours, alpha included', () => {
    const r = fills();
    const img = exactPalette(r, 256, true);
    assert.ok(img);
    assert.equal(img.exact, true);
    assert.equal(paletteSize(img), 5);
    assertValidIndices(img);
    const back = indexedToRaster(img);
    // Alpha-0 pixels lose their invisible colour; everything else is identical.
    for (let y = 0; y < r.height; y++) {
      for (let x = 0; x < r.width; x++) {
        const want = getPixel(r, x, y);
        assert.deepEqual([...getPixel(back, x, y)], want[3] === 0 ? [0, 0, 0, 0] : [...want], `${x},${y}`);
      }
    }
  });

  it('puts translucent entries first so tRNS can stop early', () => {
    const img = exactPalette(fills(), 256, true)!;
    const alphas = [...Array(paletteSize(img)).keys()].map((i) => img.palette[i * 4 + 3]);
    const firstOpaque = alphas.indexOf(255);
    assert.ok(firstOpaque > 0);
    assert.ok(alphas.slice(firstOpaque).every((a) => a === 255), `alphas ${alphas}`);
  });

  it('ignores alpha when asked to, like convert("RGB")', () => {
    const img = exactPalette(fills(), 256, false)!;
    assert.equal(paletteSize(img), 5);
    const back = indexedToRaster(img);
    assert.deepEqual([...getPixel(back, 22, 4)], [10, 20, 30, 255]);
    assert.deepEqual([...getPixel(back, 35, 1)], [1, 2, 3, 255]);
  });

  it('makes all fully transparent pixels one entry', () => {
    const r = createRaster(4, 1);
    r.data.set([1, 2, 3, 0, 9, 9, 9, 0, 0, 0, 0, 0, 50, 60, 70, 255]);
    const img = exactPalette(r, 256, true)!;
    assert.equal(paletteSize(img), 2);
  });

  it('gives up when there are more colours than allowed', () => {
    assert.equal(exactPalette(fills(), 4, true), undefined);
    assert.equal(exactPalette(gradient(), 256, false), undefined);
  });

  it('handles a single-colour tile', () => {
    const img = exactPalette(createRaster(256, 256, [170, 211, 223, 255]))!;
    assert.equal(paletteSize(img), 1);
    assert.ok(img.indices.every((i) => i === 0));
  });
});

describe('octree quantizer (PIL FASTOCTREE)', () => {
  it('matches PIL 9.4 quantize(256, FASTOCTREE) on a gradient', () => {
    // Reference values: Image.quantize(256, Image.FASTOCTREE).convert('RGB') in Pillow 9.4.
    const img = octreeQuantize(gradient(), 256, false);
    const back = indexedToRaster(img);
    assert.equal(distinctColours(back), 256);
    const expect: [number, number, number[]][] = [
      [0, 0, [6, 6, 2]], [10, 20, [39, 95, 220]], [63, 63, [246, 246, 134]], [31, 40, [95, 159, 223]], [50, 5, [198, 20, 247]],
    ];
    for (const [x, y, rgb] of expect) assert.deepEqual([...getPixel(back, x, y)], [...rgb, 255], `${x},${y}`);
  });

  it('matches PIL with alpha, except that alpha-0 pixels become fully transparent', () => {
    const r = createRaster(64, 64);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 64; x++) r.data.set([x * 4, 255 - y * 4, 100, (x * 4 + y * 2) % 256], (y * 64 + x) * 4);
    }
    const back = indexedToRaster(octreeQuantize(r, 256, true));
    const expect: [number, number, number[]][] = [
      [10, 20, [41, 169, 100, 83]], [63, 63, [240, 8, 100, 108]], [31, 40, [116, 88, 100, 200]], [50, 5, [201, 233, 100, 211]],
    ];
    for (const [x, y, rgba] of expect) assert.deepEqual([...getPixel(back, x, y)], rgba, `${x},${y}`);
    assert.deepEqual([...getPixel(back, 0, 0)], [0, 0, 0, 0]); // PIL: (6, 252, 100, 7)
  });

  it('stays within the colour limit and close to the original', () => {
    const r = gradient();
    for (const colors of [256, 64, 16, 2]) {
      const img = octreeQuantize(r, colors, false);
      assertValidIndices(img);
      assert.ok(paletteSize(img) <= colors, `${paletteSize(img)} > ${colors}`);
      assert.equal(img.exact, false);
    }
    const s = smooth();
    assert.ok(meanError(s, indexedToRaster(octreeQuantize(s, 256, false))) < 5);
  });

  it('maps every pixel to a nearby entry even with fewer colours than coarse buckets', () => {
    // PIL leaves these pixels at index 0; nearest entry is the sensible choice.
    const back = indexedToRaster(octreeQuantize(smooth(), 16, false));
    assert.ok(meanError(smooth(), back) < 15);
    assert.notDeepEqual([...getPixel(back, 63, 63)], [...getPixel(back, 0, 0)]);
  });

  it('averages colours right in images too large for int32 sums (the general pass)', () => {
    // 8.48 million white pixels and a 64x64 gradient in a corner: the white
    // bucket's red sum (255 a pixel) passes 2^31, beyond the opaque fast
    // pass's int32 sums, so this takes the general pass. White must stay
    // white, and the gradient keep its colours.
    const w = 64 * 46, h = 64 * 45;
    const big = createRaster(w, h, [255, 255, 255, 255]);
    const g = gradient();
    for (let y = 0; y < 64; y++) big.data.set(g.data.subarray(y * 256, y * 256 + 256), y * w * 4);
    const back = indexedToRaster(octreeQuantize(big, 256, false));
    assert.deepEqual([...getPixel(back, 2000, 1500)], [255, 255, 255, 255]);
    for (const [x, y] of [[10, 20], [63, 63], [31, 40]]) {
      const want = getPixel(g, x, y);
      const got = getPixel(back, x, y);
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c] - want[c]) <= 32, `${x},${y}: ${got} vs ${want}`);
    }
  });

  it('is deterministic', () => {
    const a = octreeQuantize(gradient(), 100, false);
    const b = octreeQuantize(gradient(), 100, false);
    assert.deepEqual(a.palette, b.palette);
    assert.deepEqual(a.indices, b.indices);
  });

  it('carries nothing from one image to the next, with and without alpha', () => {
    // The cube's sums are reused between calls; an image quantized after
    // others must come out the same.
    const first = [octreeQuantize(gradient(), 256, false), octreeQuantize(fills(), 256, true), octreeQuantize(smooth(), 64, false)];
    octreeQuantize(smooth(), 256, true);
    octreeQuantize(gradient(), 7, false);
    const again = [octreeQuantize(gradient(), 256, false), octreeQuantize(fills(), 256, true), octreeQuantize(smooth(), 64, false)];
    for (let i = 0; i < first.length; i++) {
      assert.deepEqual(again[i].palette, first[i].palette, `image ${i}`);
      assert.deepEqual(again[i].indices, first[i].indices, `image ${i}`);
    }
  });
});

describe('median cut quantizer', () => {
  it('stays within the limit and close to the original', () => {
    const r = smooth();
    const img = medianCutQuantize(r, 64, false);
    assertValidIndices(img);
    assert.ok(paletteSize(img) <= 64);
    assert.ok(meanError(r, indexedToRaster(img)) < 8);
  });

  it('makes alpha binary with one transparent entry, as MapProxy does', () => {
    const r = gradient();
    fillRect(r, 0, 0, 10, 10, [255, 0, 0, 100]);
    fillRect(r, 10, 0, 10, 10, [0, 255, 0, 200]);
    const img = medianCutQuantize(r, 32, true);
    assert.ok(paletteSize(img) <= 32);
    const back = indexedToRaster(img);
    assert.equal(getPixel(back, 5, 5)[3], 0);
    assert.equal(getPixel(back, 15, 5)[3], 255);
    const alphas = new Set([...Array(paletteSize(img)).keys()].map((i) => img.palette[i * 4 + 3]));
    assert.deepEqual([...alphas].sort((a, b) => a - b), [0, 255]);
  });
});

describe('quantize', () => {
  it('takes the exact path when it can and quantizes otherwise', () => {
    assert.equal(quantize(fills()).exact, true);
    const q = quantize(gradient(), { colors: 256, alpha: false });
    assert.equal(q.exact, false);
    assert.ok(paletteSize(q) <= 256);
  });

  it('can be told to skip the exact path and to use median cut', () => {
    assert.equal(quantize(fills(), { exact: false }).exact, false);
    const mc = quantize(gradient(), { colors: 8, quantizer: 'mediancut', alpha: false });
    assert.ok(paletteSize(mc) <= 8);
  });

  it('clamps the colour count to 2..256', () => {
    assert.ok(paletteSize(quantize(gradient(), { colors: 1, alpha: false })) <= 2);
    assert.ok(paletteSize(quantize(gradient(), { colors: 1000, alpha: false })) <= 256);
  });
});

/** w x h opaque pixels with `colours` distinct colours, each in runs of `run` pixels (colour k = (k*7, k*13, k*29) mod 256 after a start). */
function runsOf(w: number, h: number, colours: number, run: number): Raster {
  const r = createRaster(w, h);
  for (let i = 0; i < w * h; i++) {
    const k = Math.floor(i / run) % colours;
    r.data.set([(k * 7) & 255, (k * 13 + (k >> 8)) & 255, (k * 29 + 3 * (k >> 8)) & 255, 255], i * 4);
  }
  return r;
}

describe('quantizeInto', () => {
  const cases: [string, Raster, QuantizeOptions][] = [
    ['exact with alpha', fills(), {}],
    ['exact, alpha ignored', fills(), { alpha: false }],
    ['octree, opaque', gradient(), { alpha: false }],
    ['octree with alpha', fills(), { exact: false }],
    ['median cut', gradient(), { quantizer: 'mediancut', alpha: false, colors: 16 }],
    ['opaque, exact skipped', fills(), { exact: false, alpha: false }],
  ];
  for (const [name, r, o] of cases) {
    it(`writes quantize()'s indices at its stride and offset, and nothing else (${name})`, () => {
      const want = quantize(r, o);
      const stride = r.width + 3;
      const out = new Uint8Array(5 + stride * r.height).fill(0xee);
      const got = quantizeInto(r, { out, rowStride: stride, offset: 5 }, o);
      assert.deepEqual(got.palette, want.palette);
      assert.equal(got.exact, want.exact);
      for (let y = 0; y < r.height; y++) {
        assert.deepEqual(out.subarray(5 + y * stride, 5 + y * stride + r.width), want.indices.subarray(y * r.width, (y + 1) * r.width), `row ${y}`);
        for (let x = r.width; x < stride && 5 + y * stride + x < out.length; x++) assert.equal(out[5 + y * stride + x], 0xee, `gap ${x},${y}`);
      }
      for (let i = 0; i < 5; i++) assert.equal(out[i], 0xee);
    });
  }

  it('refuses a layout too small for the image', () => {
    const r = fills();
    assert.throws(() => quantizeInto(r, { out: new Uint8Array(r.width * r.height - 1), rowStride: r.width, offset: 0 }), RangeError);
    assert.throws(() => quantizeInto(r, { out: new Uint8Array(r.width * r.height), rowStride: r.width - 1, offset: 0 }), RangeError);
  });

  it('finds the exact palette and the octree sums in one pass: exactly `colors` colours stay exact', () => {
    for (const run of [1, 3, 7]) {
      const r = runsOf(64, 48, 255, run);
      const q = quantize(r, { colors: 255, alpha: false });
      assert.equal(q.exact, true, `run ${run}`);
      assert.equal(paletteSize(q), 255);
      assert.deepEqual([...indexedToRaster(q).data], [...r.data], `run ${run}`);
    }
  });

  it('one colour too many gives what the octree gives without the exact pass, wherever the extra colour starts', () => {
    // The colour over the limit begins a run at pixel 255 * run: mid-row, at a row start, inside a long run.
    for (const [w, run] of [[64, 1], [64, 3], [51, 5], [255, 1], [100, 40]] as const) {
      const r = runsOf(w, Math.ceil((256 * run * 2) / w), 256, run);
      const got = quantize(r, { colors: 255, alpha: false });
      const want = octreeQuantize(r, 255, false);
      assert.equal(got.exact, false);
      assert.deepEqual(got.palette, want.palette, `w ${w} run ${run}`);
      assert.deepEqual(got.indices, want.indices, `w ${w} run ${run}`);
    }
  });

  it('leaves nothing behind for the next image (scratch buffers reused)', () => {
    const big = runsOf(300, 200, 900, 2);
    const small = runsOf(20, 10, 600, 1);
    const first = quantize(small, { alpha: false });
    quantize(big, { alpha: false });
    quantize(fills());
    const again = quantize(small, { alpha: false });
    assert.deepEqual(again.palette, first.palette);
    assert.deepEqual(again.indices, first.indices);
  });
});
