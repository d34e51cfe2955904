import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { decodeImage } from '../../src/image/codec.ts';
import { canEncode, encodeWithOptions, isMixedFormat } from '../../src/image/encode.ts';
import { sniffImageFormat } from '../../src/image/format.ts';
import { resolveImageOptions } from '../../src/image/image-options.ts';
import { createRaster, type Raster } from '../../src/image/raster.ts';
import { encodeTiff, lzwEncode } from '../../src/image/tiff-encode.ts';
import { getSrs } from '../../src/srs/srs.ts';

// A minimal TIFF reader for what the writer produces: one IFD, chunky 8-bit
// RGB(A), strips stored raw (1), LZW (5) or JPEG (7, returned undecoded).

interface ReadTiff {
  tags: Map<number, number[]>;
  strips: Uint8Array[];
  /** The pixels as RGBA (alpha 255 for RGB); undefined for JPEG strips. */
  raster?: Raster;
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 12: 8 };

function readTiff(b: Uint8Array): ReadTiff {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = b[0] === 0x49;
  assert.ok(le || b[0] === 0x4d, 'byte order mark');
  assert.equal(v.getUint16(2, le), 42);
  const ifd = v.getUint32(4, le);
  const n = v.getUint16(ifd, le);
  const tags = new Map<number, number[]>();
  let last = 0;
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    const tag = v.getUint16(e, le);
    assert.ok(tag > last, 'tags in ascending order');
    last = tag;
    const type = v.getUint16(e + 2, le);
    const count = v.getUint32(e + 4, le);
    const size = TYPE_SIZE[type] * count;
    let at = size > 4 ? v.getUint32(e + 8, le) : e + 8;
    if (size > 4) assert.equal(at % 2, 0, `tag ${tag}: values on a word boundary`);
    const values: number[] = [];
    for (let k = 0; k < (type === 5 ? count * 2 : count); k++) {
      if (type === 3) { values.push(v.getUint16(at, le)); at += 2; }
      else if (type === 4 || type === 5) { values.push(v.getUint32(at, le)); at += 4; }
      else if (type === 12) { values.push(v.getFloat64(at, le)); at += 8; }
      else { values.push(b[at]); at += 1; }
    }
    tags.set(tag, values);
  }
  assert.equal(v.getUint32(ifd + 2 + n * 12, le), 0, 'a single IFD');
  const offsets = tags.get(273)!;
  const counts = tags.get(279)!;
  const strips = offsets.map((o, i) => b.subarray(o, o + counts[i]));
  const compression = tags.get(259)![0];
  if (compression === 7) return { tags, strips };
  const width = tags.get(256)![0];
  const height = tags.get(257)![0];
  const spp = tags.get(277)![0];
  const rps = tags.get(278)![0];
  const data = new Uint8ClampedArray(width * height * 4);
  for (const [s, strip] of strips.entries()) {
    const rows = Math.min(rps, height - s * rps);
    const px = compression === 5 ? lzwDecode(strip) : strip;
    assert.equal(px.length, rows * width * spp, `strip ${s} length`);
    for (let i = 0; i < rows * width; i++) {
      const d = (s * rps * width + i) * 4;
      data[d] = px[i * spp];
      data[d + 1] = px[i * spp + 1];
      data[d + 2] = px[i * spp + 2];
      data[d + 3] = spp === 4 ? px[i * spp + 3] : 255;
    }
  }
  return { tags, strips, raster: { width, height, data } };
}

/** TIFF LZW decoding: MSB-first codes, widths growing one code early (at 511, 1023, 2047). */
function lzwDecode(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  let table: number[][] = [];
  let nbits = 9;
  let bitPos = 0;
  const read = (): number => {
    let code = 0;
    for (let i = 0; i < nbits; i++) {
      const byte = b[(bitPos + i) >> 3] ?? 0;
      code = (code << 1) | ((byte >> (7 - ((bitPos + i) & 7))) & 1);
    }
    bitPos += nbits;
    return code;
  };
  let old = -1;
  for (;;) {
    assert.ok(bitPos < b.length * 8, 'EOI before the end of the strip');
    const code = read();
    if (code === 257) break;
    if (code === 256) {
      table = Array.from({ length: 258 }, (_, i) => [i]);
      nbits = 9;
      old = -1;
      continue;
    }
    assert.ok(old >= 0 || code < 256, 'first code after clear is a literal');
    let entry: number[];
    if (old < 0) entry = table[code];
    else {
      entry = code < table.length ? table[code] : [...table[old], table[old][0]];
      table.push([...table[old], entry[0]]);
    }
    out.push(...entry);
    old = code;
    if (table.length + 1 >= 1 << nbits && nbits < 12) nbits++;
  }
  return new Uint8Array(out);
}

/** A raster with a gradient, noise and a flat area, so LZW meets every case. */
function sample(width: number, height: number, alpha = false): Raster {
  const d = new Uint8ClampedArray(width * height * 4);
  let s = width * 31 + height;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = (y * width + x) * 4;
      if (x < width / 3) {
        d[k] = x; d[k + 1] = y; d[k + 2] = (x + y) & 255;
      } else if (x < (2 * width) / 3) {
        s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff; d[k] = s >> 16;
        s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff; d[k + 1] = s >> 16;
        s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff; d[k + 2] = s >> 16;
      } else {
        d[k] = 200; d[k + 1] = 30; d[k + 2] = 30;
      }
      d[k + 3] = alpha ? (x * 7 + y) & 255 : 255;
    }
  }
  return { width, height, data: d };
}

/** The byte sequence whose LZW stream from Pillow (libtiff 4.5) the test pins: runs, noise, a repeated word. */
function lzwInput(n: number): Uint8Array {
  const out = new Uint8Array(n);
  const pat = new TextEncoder().encode('mapproxy');
  let s = 12345;
  for (let i = 0; i < n; i++) {
    if (i < 60000) out[i] = (i >> 4) & 255;
    else if (i < 140000) {
      s = (Math.imul(s, 1103515245) + 12345) & 0x7fffffff;
      out[i] = (s >> 16) & 255;
    } else out[i] = pat[i % 8];
  }
  return out;
}

function assertSamePixels(a: Raster, b: Raster): void {
  assert.equal(a.width, b.width);
  assert.equal(a.height, b.height);
  assert.ok(Buffer.from(a.data).equals(Buffer.from(b.data)), 'pixels differ');
}

describe('TIFF LZW', () => {
  it('codes like libtiff, byte for byte', () => {
    // Pillow 9.4 over libtiff 4.5, Image.frombytes('L', (24, 1), ...).save(compression='tiff_lzw')
    const small = lzwEncode(new TextEncoder().encode('TOBEORNOTTOBEORTOBEORNOT'));
    assert.equal(Buffer.from(small).toString('hex'), '801509e422293ca44e2795205048342e0b0784c040');
    // 200000 bytes in one strip: table-full clears and ratio resets in the noise
    const big = lzwEncode(lzwInput(200000));
    assert.equal(big.length, 126792);
    assert.equal(crc32(big) >>> 0, 1108365089);
  });

  it('round-trips through a decoder', () => {
    for (const input of [new Uint8Array([7]), new Uint8Array(70000).fill(3), lzwInput(150000)]) {
      assert.ok(Buffer.from(lzwDecode(lzwEncode(input))).equals(Buffer.from(input)));
    }
  });
});

describe('encodeTiff', () => {
  it('writes an uncompressed RGB TIFF in one strip, as Pillow does', async () => {
    const r = sample(200, 150);
    const t = readTiff(await encodeTiff(r));
    assert.deepEqual(t.tags.get(256), [200]);
    assert.deepEqual(t.tags.get(257), [150]);
    assert.deepEqual(t.tags.get(258), [8, 8, 8]);
    assert.deepEqual(t.tags.get(259), [1]);
    assert.deepEqual(t.tags.get(262), [2]);
    assert.deepEqual(t.tags.get(277), [3]);
    assert.deepEqual(t.tags.get(278), [150]);
    assert.deepEqual(t.tags.get(284), [1]);
    assert.equal(t.tags.has(338), false);
    assert.equal(t.strips.length, 1);
    assertSamePixels(t.raster!, r);
  });

  it('writes RGBA with an unassociated alpha sample', async () => {
    const r = sample(64, 40, true);
    const t = readTiff(await encodeTiff(r, { alpha: true }));
    assert.deepEqual(t.tags.get(258), [8, 8, 8, 8]);
    assert.deepEqual(t.tags.get(277), [4]);
    assert.deepEqual(t.tags.get(338), [2]);
    assertSamePixels(t.raster!, r);
  });

  it('compresses with LZW in strips of at most 64 KiB, without a predictor', async () => {
    const r = sample(300, 250, true);
    const bytes = await encodeTiff(r, { compression: 'tiff_lzw', alpha: true });
    const t = readTiff(bytes);
    assert.deepEqual(t.tags.get(259), [5]);
    assert.equal(t.tags.has(317), false);
    assert.deepEqual(t.tags.get(278), [Math.floor(65536 / (300 * 4))]);
    assert.equal(t.strips.length, Math.ceil(250 / 54));
    assertSamePixels(t.raster!, r);
    const rgb = sample(1000, 70);
    const t3 = readTiff(await encodeTiff(rgb, { compression: 'tiff_lzw' }));
    assert.deepEqual(t3.tags.get(278), [21]);
    assertSamePixels(t3.raster!, rgb);
  });

  it('writes JPEG strips as complete YCbCr JPEGs that decode to the image', async () => {
    const r = createRaster(300, 200, [30, 120, 200, 255]);
    const t = readTiff(await encodeTiff(r, { compression: 'jpeg', alpha: true, jpegQuality: 90 }));
    assert.deepEqual(t.tags.get(259), [7]);
    assert.deepEqual(t.tags.get(262), [6]);
    assert.deepEqual(t.tags.get(277), [3], 'alpha is dropped, as for image/jpeg');
    assert.deepEqual(t.tags.get(530), [2, 2]);
    assert.deepEqual(t.tags.get(532), [0, 1, 255, 1, 128, 1, 255, 1, 128, 1, 255, 1]);
    const rps = t.tags.get(278)![0];
    assert.equal(rps % 16, 0, 'strips end on whole MCU rows');
    assert.equal(t.strips.length, Math.ceil(200 / rps));
    for (const [i, s] of t.strips.entries()) {
      assert.equal(sniffImageFormat(s), 'jpeg');
      const px = await decodeImage(s);
      assert.equal(px.width, 300);
      assert.equal(px.height, Math.min(rps, 200 - i * rps));
      const [red, green, blue] = px.data;
      assert.ok(Math.abs(red - 30) <= 3 && Math.abs(green - 120) <= 3 && Math.abs(blue - 200) <= 3, `strip ${i}: ${red},${green},${blue}`);
    }
  });

  it('adds GeoTIFF tags: pixel scale, tie point and EPSG keys', async () => {
    const r = sample(200, 100);
    const geo = readTiff(await encodeTiff(r, { georef: { bbox: [5, 45, 15, 50], srs: getSrs('EPSG:4326') } }));
    assert.deepEqual(geo.tags.get(33550), [0.05, 0.05, 0]);
    assert.deepEqual(geo.tags.get(33922), [0, 0, 0, 5, 50, 0]);
    // geographic model, PixelIsArea, GeographicTypeGeoKey 4326
    assert.deepEqual(geo.tags.get(34735), [1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]);
    assertSamePixels(geo.raster!, r);

    const merc = readTiff(await encodeTiff(r, { georef: { bbox: [0, 0, 20000, 10000], srs: getSrs('EPSG:900913') } }));
    assert.deepEqual(merc.tags.get(33550), [100, 100, 0]);
    assert.deepEqual(merc.tags.get(33922), [0, 0, 0, 0, 10000, 0]);
    // projected model, ProjectedCSTypeGeoKey with the code readers know for EPSG:900913
    assert.deepEqual(merc.tags.get(34735), [1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, 3857]);

    const utm = readTiff(await encodeTiff(r, { compression: 'tiff_lzw', georef: { bbox: [400000, 5500000, 420000, 5510000], srs: getSrs('EPSG:25832') } }));
    assert.deepEqual(utm.tags.get(34735)!.slice(-4), [3072, 0, 1, 25832]);
    assertSamePixels(utm.raster!, r);
  });
});

describe('encodeWithOptions for TIFF and image/vnd.jpeg-png', () => {
  const opts = (format: string, image: object = {}) => resolveImageOptions(undefined, image, format, 'test.image');

  it('knows the formats it can write', () => {
    for (const f of ['image/tiff', 'image/GeoTIFF', 'image/vnd.jpeg-png', 'image/png; mode=8bit', 'image/jpeg', 'image/gif']) assert.ok(canEncode(f), f);
    for (const f of ['image/webp', 'image/svg+xml', 'application/pdf']) assert.equal(canEncode(f), false, f);
    assert.ok(isMixedFormat('image/vnd.jpeg-png'));
    assert.ok(isMixedFormat('mixed'));
    assert.equal(isMixedFormat('image/png'), false);
  });

  it('writes image/tiff and image/GeoTIFF with the tiff_compression of the image options', async () => {
    const r = sample(120, 80);
    const plain = readTiff(await encodeWithOptions(r, opts('image/tiff')));
    assert.deepEqual(plain.tags.get(259), [1]);
    assert.deepEqual(plain.tags.get(277), [3], 'opaque and not transparent: RGB');
    assert.equal(plain.tags.has(34735), false, 'no georef, no GeoTIFF tags');
    const lzw = await encodeWithOptions(r, opts('image/GeoTIFF', { encoding_options: { tiff_compression: 'tiff_lzw' } }), {
      georef: { bbox: [0, 0, 120, 80], srs: getSrs('EPSG:3857') },
    });
    const t = readTiff(lzw);
    assert.deepEqual(t.tags.get(259), [5]);
    assert.deepEqual(t.tags.get(33550), [1, 1, 0]);
    assertSamePixels(t.raster!, r);
    const jpeg = readTiff(await encodeWithOptions(r, opts('image/tiff', { encoding_options: { tiff_compression: 'jpeg' } })));
    assert.deepEqual(jpeg.tags.get(259), [7]);
  });

  it('keeps alpha in TIFF where the answer is transparent', async () => {
    const opaque = sample(40, 30);
    const t = readTiff(await encodeWithOptions(opaque, { ...opts('image/tiff'), transparent: true }));
    assert.deepEqual(t.tags.get(277), [4]);
    const holes = sample(40, 30, true);
    const h = readTiff(await encodeWithOptions(holes, opts('image/tiff')));
    assertSamePixels(h.raster!, holes);
    const rgb = readTiff(await encodeWithOptions(holes, { ...opts('image/tiff', { mode: 'RGB' }), transparent: true }));
    assert.deepEqual(rgb.tags.get(277), [3], 'mode RGB drops alpha');
  });

  it('writes image/vnd.jpeg-png as JPEG when opaque and PNG otherwise', async () => {
    const o = opts('image/vnd.jpeg-png');
    assert.equal(sniffImageFormat(await encodeWithOptions(sample(64, 64), o)), 'jpeg');
    const png = await encodeWithOptions(sample(64, 64, true), { ...o, transparent: true });
    assert.equal(sniffImageFormat(png), 'png');
    const back = await decodeImage(png);
    assert.ok(back.data.some((a, i) => i % 4 === 3 && a < 255), 'PNG keeps the transparency');
  });
});
