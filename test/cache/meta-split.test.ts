/**
 * Meta tiles split into tiles, over HTTP against a real upstream WMS whose
 * every pixel says where it is in the image it answered: red and green are
 * the column and row (low 8 bits), blue their high bits. Each stored tile
 * must hold exactly its crop of the meta tile (meta_buffer included), RGB
 * and RGBA answers alike, whether the tiles are decoded straight from the
 * answer (codec.ts's decodeImageTiles) or from the decoded whole image.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { decodeImage, setDirectPngDecode } from '../../src/image/codec.ts';
import { encodePng } from '../../src/image/png-encode.ts';
import { createRaster } from '../../src/image/raster.ts';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';

const META = 3;
const BUFFER = 10;

/** An image whose pixel (x, y) is (x & 255, y & 255, (x >> 8) << 4 | y >> 8), opaque unless alpha says otherwise. */
function positions(w: number, h: number, alpha: boolean): Uint8Array {
  const r = createRaster(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      r.data[o] = x & 255;
      r.data[o + 1] = y & 255;
      r.data[o + 2] = ((x >> 8) << 4) | (y >> 8);
      r.data[o + 3] = alpha && (x + y) % 7 === 0 ? 128 : 255;
    }
  }
  return encodePng(r, 6);
}

function config(up: string): string {
  const cache = (name: string, layers: string) => `
  ${name}_cache:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [${name}_src]
    meta_size: [${META}, ${META}]
    meta_buffer: ${BUFFER}
    format: image/png
    image: {colors: 0, transparent: true}`;
  return `
services:
  tms:
layers:
  - {name: rgb, title: RGB, sources: [rgb_cache]}
  - {name: rgba, title: RGBA, sources: [rgba_cache]}
caches:${cache('rgb', 'rgb')}${cache('rgba', 'rgba')}
sources:
  rgb_src:
    type: wms
    req: {url: ${up}, layers: rgb, transparent: true}
  rgba_src:
    type: wms
    req: {url: ${up}, layers: rgba, transparent: true}
`;
}

describe('meta tiles split into stored tiles', () => {
  let upstream: RunningServer;
  let answered = 0;

  before(async () => {
    upstream = await serveHttp({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (req) => {
        const p = new URL(req.url).searchParams;
        const w = Number(p.get('WIDTH') ?? p.get('width'));
        const h = Number(p.get('HEIGHT') ?? p.get('height'));
        if (!(w > 0 && h > 0 && w <= 4096 && h <= 4096)) return new Response('bad size', { status: 400 });
        answered++;
        const alpha = (p.get('LAYERS') ?? p.get('layers')) === 'rgba';
        return new Response(positions(w, h, alpha) as BodyInit, { headers: { 'Content-Type': 'image/png' } });
      },
    });
  });
  after(async () => {
    await upstream?.stop();
  });

  for (const direct of [true, false]) {
    describe(direct ? 'decoded straight into tiles' : 'decoded whole, then split', () => {
      let p: TestProxy;
      before(async () => {
        setDirectPngDecode(direct);
        p = await startProxy(config(`http://127.0.0.1:${upstream.port}/wms`));
      });
      after(async () => {
        setDirectPngDecode(true);
        await p?.stop();
      });

      for (const layer of ['rgb', 'rgba']) {
        it(`stores each tile's crop of the ${layer.toUpperCase()} meta tile`, async () => {
          // level 4 (16x16 tiles; GLOBAL_WEBMERCATOR and /tiles count rows from the top): columns
          // and rows 3..5 are one meta tile with its buffer all round
          const before = answered;
          for (let ty = 3; ty < 6; ty++) {
            for (let tx = 3; tx < 6; tx++) {
              const res = await fetch(`${p.url}/tiles/${layer}_EPSG3857/4/${tx}/${ty}.png`);
              assert.equal(res.status, 200, `tile ${tx},${ty}`);
              const tile = await decodeImage(new Uint8Array(await res.arrayBuffer()));
              assert.equal(tile.width, 256);
              // where this tile starts in the meta tile's image
              const x0 = BUFFER + (tx - 3) * 256;
              const y0 = BUFFER + (ty - 3) * 256;
              // every pixel: a row left out or shifted anywhere shows
              for (let v = 0; v < 256; v++) {
                for (let u = 0; u < 256; u++) {
                  const o = (v * 256 + u) * 4;
                  const x = x0 + u, y = y0 + v;
                  const d = tile.data;
                  const alpha = layer === 'rgba' && (x + y) % 7 === 0 ? 128 : 255;
                  if (d[o] !== (x & 255) || d[o + 1] !== (y & 255) || d[o + 2] !== (((x >> 8) << 4) | (y >> 8)) || d[o + 3] !== alpha) {
                    assert.fail(`${layer} tile ${tx},${ty} pixel ${u},${v}: ${Array.from(d.subarray(o, o + 4))}, expected image pixel ${x},${y}`);
                  }
                }
              }
            }
          }
          // one meta tile made all nine
          assert.equal(answered - before, 1);
        });

        it(`stores the ${layer.toUpperCase()} tiles of a meta tile at the top of the grid, which has no buffer above`, async () => {
          for (let ty = 0; ty < 3; ty++) {
            const res = await fetch(`${p.url}/tiles/${layer}_EPSG3857/4/7/${ty}.png`);
            assert.equal(res.status, 200);
            const tile = await decodeImage(new Uint8Array(await res.arrayBuffer()));
            const x = BUFFER + 256 + 40, y = ty * 256 + 99;
            const o = (99 * 256 + 40) * 4;
            const want = [x & 255, y & 255, ((x >> 8) << 4) | (y >> 8), layer === 'rgba' && (x + y) % 7 === 0 ? 128 : 255];
            assert.deepEqual(Array.from(tile.data.subarray(o, o + 4)), want, `${layer} tile 7,${ty}`);
          }
        });
      }
    });
  }
});
