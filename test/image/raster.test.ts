import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  blendPixel, createRaster, fillRect, getPixel, isOpaque, rasterFromData, releaseBuffer, setPixel, strokeRect,
} from '../../src/image/raster.ts';
import { compositeOver } from '../../src/image/composite.ts';
import { parseColor } from '../../src/image/parse-color.ts';
import { formatFromMime, normalizeFormat } from '../../src/image/format.ts';
import { rasterToBmp } from '../../src/image/bmp.ts';

describe('raster', () => {
  it('releases a buffer a view spans alone, and leaves part views and released buffers be', () => {
    const whole = createRaster(64, 64, [1, 2, 3, 4]);
    releaseBuffer(whole.data);
    assert.equal(whole.data.buffer.byteLength, 0, 'the memory is given back');
    assert.equal(whole.data.length, 0);
    releaseBuffer(whole.data); // twice: nothing happens
    const big = new Uint8Array(1024).fill(7);
    const part = big.subarray(16, 32);
    releaseBuffer(part);
    assert.equal(big.length, 1024, 'a view into a larger buffer does not free the rest');
    assert.equal(big[100], 7);
    // WebAssembly memory cannot be detached: left alone, no error
    const mem = new WebAssembly.Memory({ initial: 1 });
    const all = new Uint8Array(mem.buffer);
    releaseBuffer(all);
    assert.equal(mem.buffer.byteLength, 65536);
  });

  it('creates a transparent raster by default and a filled one on request', () => {
    const t = createRaster(3, 2);
    assert.equal(t.data.length, 3 * 2 * 4);
    assert.ok(t.data.every((v) => v === 0));
    const f = createRaster(3, 2, [1, 2, 3, 4]);
    assert.deepEqual([...getPixel(f, 2, 1)], [1, 2, 3, 4]);
  });

  it('rejects invalid sizes and mismatched data', () => {
    assert.throws(() => createRaster(0, 5));
    assert.throws(() => rasterFromData(2, 2, new Uint8Array(15)));
  });

  it('fills a clipped rectangle', () => {
    const r = createRaster(4, 4);
    fillRect(r, -1, 2, 3, 10, [9, 9, 9, 255]);
    assert.deepEqual([...getPixel(r, 0, 3)], [9, 9, 9, 255]);
    assert.deepEqual([...getPixel(r, 1, 2)], [9, 9, 9, 255]);
    assert.deepEqual([...getPixel(r, 2, 2)], [0, 0, 0, 0]);
    assert.deepEqual([...getPixel(r, 0, 1)], [0, 0, 0, 0]);
  });

  it('strokes a 1px outline and leaves the inside alone', () => {
    const r = createRaster(5, 5);
    strokeRect(r, 0, 0, 5, 5, [255, 0, 0, 255]);
    for (const [x, y] of [[0, 0], [4, 0], [0, 4], [4, 4], [2, 0], [0, 2], [4, 2], [2, 4]]) {
      assert.equal(getPixel(r, x, y)[3], 255, `${x},${y}`);
    }
    assert.equal(getPixel(r, 2, 2)[3], 0);
    assert.equal(getPixel(r, 1, 1)[3], 0);
  });

  it('blends half-transparent colour over opaque pixels', () => {
    const r = createRaster(1, 1, [0, 0, 0, 255]);
    blendPixel(r, 0, 0, [255, 255, 255, 128]);
    const p = getPixel(r, 0, 1 - 1);
    assert.ok(Math.abs(p[0] - 128) <= 1);
    assert.equal(p[3], 255);
    setPixel(r, 5, 5, [1, 1, 1, 1]); // outside: ignored
    assert.ok(isOpaque(r));
  });

  it('composites straight alpha like PIL alpha_composite', () => {
    const bottom = createRaster(2, 1, [0, 0, 255, 255]);
    const top = createRaster(2, 1, [255, 0, 0, 0]);
    setPixel(top, 1, 0, [255, 0, 0, 128]);
    const out = compositeOver(bottom, top);
    assert.deepEqual([...getPixel(out, 0, 0)], [0, 0, 255, 255]);
    const p = getPixel(out, 1, 0);
    assert.ok(Math.abs(p[0] - 128) <= 1 && Math.abs(p[2] - 127) <= 1 && p[3] === 255, `${p}`);
    assert.deepEqual([...getPixel(bottom, 1, 0)], [0, 0, 255, 255], 'inputs unchanged');
    // Over a transparent bottom the top colour survives unpremultiplied.
    const t2 = compositeOver(createRaster(1, 1), createRaster(1, 1, [10, 20, 30, 40]));
    assert.deepEqual([...getPixel(t2, 0, 0)], [10, 20, 30, 40]);
  });

  it('writes a BMP header whose pixel data is the raster as is', () => {
    const r = createRaster(2, 3, [1, 2, 3, 4]);
    const bmp = rasterToBmp(r);
    assert.equal(String.fromCharCode(bmp[0], bmp[1]), 'BM');
    const v = new DataView(bmp.buffer);
    assert.equal(v.getInt32(22, true), -3, 'top-down');
    assert.deepEqual(bmp.subarray(v.getUint32(10, true)), new Uint8Array(r.data.buffer));
  });
});

describe('parseColor', () => {
  it('parses the forms MapProxy accepts', () => {
    assert.deepEqual(parseColor('#ff0530'), [255, 5, 48, 255]);
    assert.deepEqual(parseColor('#FF053080'), [255, 5, 48, 128]);
    assert.deepEqual(parseColor('0xff0530'), [255, 5, 48, 255]);
    assert.deepEqual(parseColor([100, 12, 55]), [100, 12, 55, 255]);
    assert.deepEqual(parseColor([100, 12, 55, 7]), [100, 12, 55, 7]);
  });
  it('rejects anything else', () => {
    for (const bad of ['red', '#fff', [1, 2], [1, 2, 300], 42, undefined]) assert.equal(parseColor(bad), undefined);
  });
});

describe('normalizeFormat', () => {
  it('maps config values and mime types to format names', () => {
    assert.equal(normalizeFormat('image/jpeg'), 'jpeg');
    assert.equal(normalizeFormat('jpg'), 'jpeg');
    assert.equal(normalizeFormat('image/png; mode=8bit'), 'png');
    assert.equal(normalizeFormat('mixed'), 'mixed');
    assert.equal(normalizeFormat('text/xml'), undefined);
  });
  it('derives the tile extension as MapProxy ImageFormat.ext does', () => {
    assert.equal(formatFromMime('image/png'), 'png');
    assert.equal(formatFromMime('image/png; mode=8bit'), 'png');
    assert.equal(formatFromMime('image/jpeg'), 'jpeg');
    assert.equal(formatFromMime('jpg'), 'jpg');
  });
});
