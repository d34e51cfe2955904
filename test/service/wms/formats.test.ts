import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startWmsUpstream, near, BACKGROUND, FEATURES, type WmsUpstream } from '../../helpers/wms-upstream.ts';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';
import { decodeImage, sniffImageFormat } from '../../../src/image/codec.ts';
import { getPixel, type Raster } from '../../../src/image/raster.ts';

// WMS GetMap in image/tiff, image/GeoTIFF and image/vnd.jpeg-png against a
// real upstream. TIFF answers are read back with a small reader for what the
// writer produces (raw or LZW strips), so no test needs GDAL or Pillow.

const RED = FEATURES[0].color;

function config(up: string, wms: string, globals = ''): string {
  return `
services:
  wms:
    srs: ['EPSG:4326', 'EPSG:3857']
    md:
      title: Formats
${wms}
globals:
  http:
    client_timeout: 5
${globals}
layers:
  - name: direct
    title: Direct
    sources: [upstream]
  - name: overlay
    title: Overlay
    sources: [transparent_upstream]
sources:
  upstream:
    type: wms
    req:
      url: ${up}
      layers: base
    supported_srs: ['EPSG:4326', 'EPSG:3857']
  transparent_upstream:
    type: wms
    req:
      url: ${up}
      layers: overlay
      transparent: true
      # the test upstream answers any format naming jpeg (vnd.jpeg-png too) with an opaque JPEG
      format: image/png
    supported_srs: ['EPSG:4326', 'EPSG:3857']
`;
}

/** Tags (as numbers) and RGBA pixels of a little-endian, single-IFD, chunky 8-bit TIFF with raw or LZW strips. */
function readTiff(b: Uint8Array): { tags: Map<number, number[]>; raster: Raster } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  assert.equal(String.fromCharCode(b[0], b[1]), 'II');
  assert.equal(v.getUint16(2, true), 42);
  const ifd = v.getUint32(4, true);
  const tags = new Map<number, number[]>();
  const size: Record<number, number> = { 3: 2, 4: 4, 5: 8, 12: 8 };
  for (let i = 0; i < v.getUint16(ifd, true); i++) {
    const e = ifd + 2 + i * 12;
    const type = v.getUint16(e + 2, true);
    const count = v.getUint32(e + 4, true);
    let at = size[type] * count > 4 ? v.getUint32(e + 8, true) : e + 8;
    const values: number[] = [];
    for (let k = 0; k < count; k++) {
      if (type === 3) { values.push(v.getUint16(at, true)); at += 2; }
      else if (type === 4) { values.push(v.getUint32(at, true)); at += 4; }
      else if (type === 12) { values.push(v.getFloat64(at, true)); at += 8; }
    }
    tags.set(v.getUint16(e, true), values);
  }
  const [width] = tags.get(256)!;
  const [height] = tags.get(257)!;
  const [spp] = tags.get(277)!;
  const [rps] = tags.get(278)!;
  const [compression] = tags.get(259)!;
  const data = new Uint8ClampedArray(width * height * 4);
  tags.get(273)!.forEach((offset, s) => {
    const strip = b.subarray(offset, offset + tags.get(279)![s]);
    const px = compression === 5 ? lzwDecode(strip) : strip;
    for (let i = 0; i < px.length / spp; i++) {
      const d = (s * rps * width + i) * 4;
      data.set([px[i * spp], px[i * spp + 1], px[i * spp + 2], spp === 4 ? px[i * spp + 3] : 255], d);
    }
  });
  return { tags, raster: { width, height, data } };
}

/** TIFF LZW: MSB-first codes, widths growing one code early. */
function lzwDecode(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  let table: number[][] = [];
  let nbits = 9;
  let pos = 0;
  let old = -1;
  for (;;) {
    let code = 0;
    for (let i = 0; i < nbits; i++, pos++) code = (code << 1) | (((b[pos >> 3] ?? 0) >> (7 - (pos & 7))) & 1);
    if (code === 257 || pos > b.length * 8) break;
    if (code === 256) {
      table = Array.from({ length: 258 }, (_, i) => [i]);
      nbits = 9;
      old = -1;
      continue;
    }
    let entry = table[code];
    if (old >= 0) {
      if (code >= table.length) entry = [...table[old], table[old][0]];
      table.push([...table[old], entry[0]]);
    }
    out.push(...entry);
    old = code;
    if (table.length + 1 >= 1 << nbits && nbits < 12) nbits++;
  }
  return new Uint8Array(out);
}

async function get(url: string): Promise<{ status: number; type: string; body: Uint8Array }> {
  const r = await fetch(url);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: new Uint8Array(await r.arrayBuffer()) };
}

function assertSamePixels(a: Raster, b: Raster): void {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), 'pixels differ');
}

const BBOX = [5, 45, 15, 55];

describe('WMS formats with the default image_formats', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    mp = await startProxy(config(up.url, ''));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });
  const getmap = (q: Record<string, string>) =>
    `${mp.url}/service?${new URLSearchParams({ SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', STYLES: '', LAYERS: 'direct', SRS: 'EPSG:4326', BBOX: BBOX.join(','), WIDTH: '200', HEIGHT: '200', ...q })}`;

  it('lists the formats MapProxy lists by default, GeoTIFF and TIFF included', async () => {
    const r = await get(`${mp.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1`);
    const xml = new TextDecoder().decode(r.body);
    const getMap = xml.slice(xml.indexOf('<GetMap>'), xml.indexOf('</GetMap>'));
    const formats = [...getMap.matchAll(/<Format>([^<]+)<\/Format>/g)].map((m) => m[1]);
    assert.deepEqual(formats, ['image/png', 'image/jpeg', 'image/gif', 'image/GeoTIFF', 'image/tiff']);
  });

  it('answers image/tiff with the same pixels as image/png, georeferenced', async () => {
    const png = await get(getmap({ FORMAT: 'image/png' }));
    const tif = await get(getmap({ FORMAT: 'image/tiff' }));
    assert.equal(tif.status, 200, new TextDecoder().decode(tif.body));
    assert.equal(tif.type, 'image/tiff');
    assert.equal(sniffImageFormat(tif.body), 'tiff');
    const { tags, raster } = readTiff(tif.body);
    assert.deepEqual(tags.get(259), [1], 'uncompressed unless tiff_compression says otherwise');
    assert.deepEqual(tags.get(277), [3], 'opaque answer: RGB');
    assertSamePixels(raster, await decodeImage(png.body));
    assert.ok(near(getPixel(raster, 80, 80), RED), 'the red box (8..10 E, 50..52 N)');
    assert.ok(near(getPixel(raster, 10, 190), BACKGROUND));
    // MapProxy attaches the GeoReference to every GetMap answer, image/tiff too
    assert.deepEqual(tags.get(33550), [0.05, 0.05, 0]);
    assert.deepEqual(tags.get(33922), [0, 0, 0, 5, 55, 0]);
    assert.deepEqual(tags.get(34735), [1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]);
  });

  it('answers image/GeoTIFF under its own content type, bbox east/north also for WMS 1.3.0', async () => {
    const r = await get(getmap({ FORMAT: 'image/GeoTIFF', VERSION: '1.3.0', CRS: 'EPSG:4326', BBOX: '45,5,55,15' }));
    assert.equal(r.status, 200, new TextDecoder().decode(r.body));
    assert.equal(r.type, 'image/GeoTIFF');
    const { tags, raster } = readTiff(r.body);
    assert.deepEqual(tags.get(33922), [0, 0, 0, 5, 55, 0]);
    assert.ok(near(getPixel(raster, 80, 80), RED));
    const merc = readTiff((await get(getmap({ FORMAT: 'image/GeoTIFF', SRS: 'EPSG:3857', BBOX: '556597,5621521,1669792,7361866', WIDTH: '256', HEIGHT: '400' }))).body);
    assert.deepEqual(merc.tags.get(34735), [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 3857]);
    assert.deepEqual(merc.tags.get(33922), [0, 0, 0, 556597, 7361866, 0]);
  });

  it('keeps alpha for TRANSPARENT=TRUE', async () => {
    const r = await get(getmap({ FORMAT: 'image/tiff', LAYERS: 'overlay', TRANSPARENT: 'TRUE' }));
    const { tags, raster } = readTiff(r.body);
    assert.deepEqual(tags.get(277), [4]);
    assert.deepEqual(tags.get(338), [2]);
    assert.equal(getPixel(raster, 10, 190)[3], 0, 'outside the features is transparent');
    assert.ok(near(getPixel(raster, 80, 80), RED));
  });

  it('does not offer image/vnd.jpeg-png unless configured, as MapProxy', async () => {
    const r = await get(getmap({ FORMAT: 'image/vnd.jpeg-png' }));
    assert.equal(r.status, 400);
    assert.match(new TextDecoder().decode(r.body), /InvalidFormat/);
  });
});

describe('WMS formats from image_formats and globals.image.formats', () => {
  let up: WmsUpstream;
  let mp: TestProxy;
  before(async () => {
    up = await startWmsUpstream();
    const wms = "    image_formats: ['image/png', 'image/vnd.jpeg-png', 'image/GeoTIFF']";
    const globals = `  image:
    formats:
      image/GeoTIFF:
        encoding_options:
          tiff_compression: tiff_lzw`;
    mp = await startProxy(config(up.url, wms, globals));
  });
  after(async () => {
    await mp.stop();
    await up.stop();
  });
  const getmap = (q: Record<string, string>) =>
    `${mp.url}/service?${new URLSearchParams({ SERVICE: 'WMS', REQUEST: 'GetMap', VERSION: '1.1.1', STYLES: '', LAYERS: 'direct', SRS: 'EPSG:4326', BBOX: BBOX.join(','), WIDTH: '200', HEIGHT: '200', ...q })}`;

  it('lists exactly the configured formats', async () => {
    const xml = new TextDecoder().decode((await get(`${mp.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0`)).body);
    const getMap = xml.slice(xml.indexOf('<GetMap>'), xml.indexOf('</GetMap>'));
    assert.deepEqual([...getMap.matchAll(/<Format>([^<]+)<\/Format>/g)].map((m) => m[1]), ['image/png', 'image/vnd.jpeg-png', 'image/GeoTIFF']);
  });

  it('answers image/vnd.jpeg-png as JPEG when opaque and PNG when transparent, labelled with the real format', async () => {
    const opaque = await get(getmap({ FORMAT: 'image/vnd.jpeg-png' }));
    assert.equal(opaque.status, 200);
    assert.equal(opaque.type, 'image/jpeg');
    assert.equal(sniffImageFormat(opaque.body), 'jpeg');
    assert.ok(near(getPixel(await decodeImage(opaque.body), 80, 80), RED, 12));
    const transparent = await get(getmap({ FORMAT: 'image/vnd.jpeg-png', LAYERS: 'overlay', TRANSPARENT: 'TRUE' }));
    assert.equal(transparent.type, 'image/png');
    assert.equal(sniffImageFormat(transparent.body), 'png');
    const r = await decodeImage(transparent.body);
    assert.equal(getPixel(r, 10, 190)[3], 0);
    assert.ok(near(getPixel(r, 80, 80), RED));
    // a transparent request whose image has no transparent pixel is still JPEG
    const full = await get(getmap({ FORMAT: 'image/vnd.jpeg-png', TRANSPARENT: 'TRUE' }));
    assert.equal(full.type, 'image/jpeg');
  });

  it('answers image/GeoTIFF LZW-compressed with the tiff_compression of its named format', async () => {
    const r = await get(getmap({ FORMAT: 'image/GeoTIFF' }));
    assert.equal(r.type, 'image/GeoTIFF');
    const { tags, raster } = readTiff(r.body);
    assert.deepEqual(tags.get(259), [5]);
    assert.deepEqual(tags.get(278), [Math.floor(65536 / 600)]);
    const png = await decodeImage((await get(getmap({ FORMAT: 'image/png' }))).body);
    assertSamePixels(raster, png);
  });
});
