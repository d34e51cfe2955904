import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DebugSource, debugText } from '../../src/source/debug.ts';
import { getPixel, type Raster } from '../../src/image/raster.ts';
import { decodeImage, encodeImage } from '../../src/image/codec.ts';

const WORLD: [number, number, number, number] = [-20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244];

function opaqueCount(r: Raster, x0: number, y0: number, x1: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (getPixel(r, x, y)[3] > 0) n++;
  return n;
}

describe('DebugSource', () => {
  it('writes the text MapProxy writes', () => {
    assert.equal(
      debugText([0, 0, 1, 1], [256, 256]),
      'bbox: (0.0, 0.0, 1.0, 1.0)\nres: 0.00390625(0.00390625)',
    );
    assert.equal(
      debugText(WORLD, [256, 256]),
      'bbox: (-20037508.342789244, -20037508.342789244, 20037508.342789244, 20037508.342789244)\n'
        + 'res: 156543.03392804(156543.03392804)',
    );
  });

  it('answers with a raster of the asked size', async () => {
    const src = new DebugSource();
    const img = await src.getMap({ bbox: WORLD, size: [256, 200], srs: 'EPSG:3857' });
    assert.equal(img.width, 256);
    assert.equal(img.height, 200);
    assert.equal(img.data.length, 256 * 200 * 4);
  });

  it('draws a 1px border and text, and leaves the rest transparent', () => {
    const r = new DebugSource().render({ bbox: WORLD, size: [256, 256] });
    for (const [x, y] of [[0, 0], [255, 0], [0, 255], [255, 255], [128, 0], [0, 128], [255, 128], [128, 255]]) {
      assert.ok(getPixel(r, x, y)[3] > 0, `border at ${x},${y}`);
    }
    // Black text pixels in the upper-left text area.
    let black = 0;
    for (let y = 1; y < 60; y++) {
      for (let x = 1; x < 255; x++) {
        const p = getPixel(r, x, y);
        if (p[3] === 255 && p[0] === 0 && p[1] === 0 && p[2] === 0) black++;
      }
    }
    assert.ok(black > 200, `only ${black} text pixels`);
    assert.equal(opaqueCount(r, 10, 100, 246, 246), 0, 'middle of the tile is transparent');
  });

  it('draws different text for different tiles', () => {
    const src = new DebugSource();
    const a = src.render({ bbox: [0, 0, 10, 10], size: [64, 64] });
    const b = src.render({ bbox: [0, 0, 20, 20], size: [64, 64] });
    assert.notDeepEqual(a.data, b.data);
  });

  it('survives encoding to PNG unchanged', async () => {
    const r = new DebugSource().render({ bbox: WORLD, size: [256, 256] });
    const back = await decodeImage(await encodeImage(r, { format: 'png' }));
    assert.deepEqual(back.data, r.data);
  });
});
