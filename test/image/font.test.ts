import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADVANCE, drawText, GLYPH_HEIGHT, hasGlyph, measureText, wrapText } from '../../src/image/font.ts';
import { createRaster, getPixel, type Raster } from '../../src/image/raster.ts';

function inked(r: Raster): number {
  let n = 0;
  for (let i = 3; i < r.data.length; i += 4) if (r.data[i] > 0) n++;
  return n;
}

describe('bitmap font', () => {
  it('has every character needed to write coordinates', () => {
    const needed = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz .,:-_/()[]=+#%';
    for (const ch of needed) assert.ok(hasGlyph(ch), `missing glyph ${JSON.stringify(ch)}`);
  });

  it('draws pixels in the given colour inside the text box only', () => {
    const r = createRaster(100, 20);
    const w = drawText(r, 2, 3, 'Res: 12.5', [0, 0, 0, 255]);
    assert.equal(w, measureText('Res: 12.5'));
    assert.ok(inked(r) > 30);
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 100; x++) {
        if (getPixel(r, x, y)[3] === 0) continue;
        assert.ok(x >= 2 && x < 2 + w && y >= 3 && y < 3 + GLYPH_HEIGHT, `ink outside box at ${x},${y}`);
      }
    }
  });

  it('draws different characters differently', () => {
    const a = createRaster(6, 7);
    const b = createRaster(6, 7);
    drawText(a, 0, 0, '1', [0, 0, 0, 255]);
    drawText(b, 0, 0, '7', [0, 0, 0, 255]);
    assert.notDeepEqual(a.data, b.data);
  });

  it('scales glyphs by whole pixels', () => {
    const one = createRaster(20, 20);
    const two = createRaster(20, 20);
    drawText(one, 0, 0, '#', [0, 0, 0, 255], 1);
    drawText(two, 0, 0, '#', [0, 0, 0, 255], 2);
    assert.equal(inked(two), 4 * inked(one));
  });

  it('clips text at the raster edge without throwing', () => {
    const r = createRaster(8, 8);
    drawText(r, 5, 5, 'WWW', [0, 0, 0, 255]);
    drawText(r, -10, -3, 'WWW', [0, 0, 0, 255]);
    assert.ok(inked(r) > 0);
  });

  it('wraps at spaces to fit a width', () => {
    const lines = wrapText('bbox: (-20037508.342789244, -20037508.342789244, 20037508.342789244)', 40 * ADVANCE);
    assert.deepEqual(lines, ['bbox: (-20037508.342789244,', '-20037508.342789244, 20037508.342789244)']);
    assert.deepEqual(wrapText('a\nb', 100), ['a', 'b']);
    assert.deepEqual(wrapText('abcdef', 3 * ADVANCE), ['abc', 'def']);
  });
});
