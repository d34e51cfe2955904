// A baseline TIFF writer for WMS answers in image/tiff and image/GeoTIFF,
// laid out as Pillow 9 writes them for MapProxy 1.15 (img_to_buf):
//  - little-endian, one IFD, chunky RGB or RGBA (ExtraSamples = 2,
//    unassociated alpha), tags in Pillow's types (LONG sizes and strips);
//  - raw: one strip for the whole image, the IFD right after the header;
//  - LZW (tiff_compression: tiff_lzw): strips of at most 64 KiB of pixels,
//    no predictor (Pillow passes none to libtiff), each strip coded exactly as
//    libtiff's LZWEncode does, adaptive reset included, so strips come out
//    byte for byte like Pillow's;
//  - JPEG (tiff_compression: jpeg): one complete baseline JPEG per strip with
//    Photometric YCbCr, because our JPEG encoders only write 3-component
//    YCbCr streams; Pillow writes RGB/RGBA components with shared tables.
//    Alpha is dropped, as with image/jpeg.
// MapProxy's WMS attaches its GeoReference to every GetMap answer, so both
// TIFF formats carry ModelPixelScale, ModelTiepoint and a GeoKeyDirectory.
// MapProxy 1.15's directory announces four keys but holds three (GDAL calls
// it corrupt and drops the CRS) and puts geographic codes under
// ProjectedCSTypeGeoKey; ours has the three keys it announces and uses
// GeographicTypeGeoKey for lat/long systems, so GDAL reads the CRS.

import { encodeImage } from './codec.ts';
import type { Raster } from './raster.ts';
import type { Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';

/** The values MapProxy accepts for encoding_options.tiff_compression. */
export type TiffCompression = 'raw' | 'tiff_lzw' | 'jpeg';

/** Where an image lies: the bbox (east/north order) in an SRS, as MapProxy's GeoReference. */
export interface GeoReference {
  bbox: Bbox;
  srs: Srs;
}

export interface TiffOptions {
  /** raw (default), tiff_lzw or jpeg. */
  compression?: TiffCompression;
  /** Write RGBA with an unassociated alpha sample; RGB otherwise. Ignored for JPEG. */
  alpha?: boolean;
  /** JPEG quality for compression 'jpeg' (default 75, libtiff's). */
  jpegQuality?: number;
  /** Adds the GeoTIFF tags for this extent. */
  georef?: GeoReference;
}

// TIFF field types
const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const DOUBLE = 12;
const TYPE_SIZE: Record<number, number> = { [SHORT]: 2, [LONG]: 4, [RATIONAL]: 8, [DOUBLE]: 8 };

/** Pillow aims at strips of this many bytes when libtiff compresses. */
const STRIP_SIZE = 65536;

interface Entry {
  tag: number;
  type: number;
  values: readonly number[];
}

/** Encodes a raster as a TIFF (optionally a GeoTIFF) the way MapProxy 1.15 writes WMS answers. */
export async function encodeTiff(r: Raster, opts: TiffOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  const compression = opts.compression ?? 'raw';
  const jpeg = compression === 'jpeg';
  const samples = opts.alpha && !jpeg ? 4 : 3;
  const stride = r.width * samples;
  let rowsPerStrip = r.height;
  if (compression !== 'raw') {
    rowsPerStrip = Math.max(1, Math.min(Math.floor(STRIP_SIZE / stride), r.height));
    // A JPEG strip must hold whole MCU rows: 16 lines with 2x2 chroma subsampling.
    if (jpeg) rowsPerStrip = Math.min(Math.ceil(rowsPerStrip / 16) * 16, r.height);
  }
  const strips: Uint8Array[] = [];
  let sampling: [number, number] = [1, 1];
  for (let y = 0; y < r.height; y += rowsPerStrip) {
    const rows = Math.min(rowsPerStrip, r.height - y);
    if (jpeg) {
      const part: Raster = { width: r.width, height: rows, data: r.data.subarray(y * r.width * 4, (y + rows) * r.width * 4) };
      const bytes = await encodeImage(part, { format: 'jpeg', jpegQuality: opts.jpegQuality ?? 75 });
      sampling = jpegSampling(bytes);
      // Every strip but the last must end on a whole MCU row (8 lines times the vertical subsampling).
      if (rowsPerStrip < r.height && rowsPerStrip % (8 * sampling[1]) !== 0) throw new Error(`JPEG strips of ${rowsPerStrip} rows do not fit ${sampling.join('x')} chroma subsampling`);
      strips.push(bytes);
    } else {
      const raw = pixelRows(r, y, rows, samples);
      strips.push(compression === 'tiff_lzw' ? lzwEncode(raw) : raw);
    }
  }

  const entries: Entry[] = [
    { tag: 256, type: LONG, values: [r.width] },
    { tag: 257, type: LONG, values: [r.height] },
    { tag: 258, type: SHORT, values: new Array(samples).fill(8) },
    { tag: 259, type: SHORT, values: [compression === 'tiff_lzw' ? 5 : jpeg ? 7 : 1] },
    { tag: 262, type: SHORT, values: [jpeg ? 6 : 2] },
    { tag: 273, type: LONG, values: strips.map(() => 0) }, // filled in below
    { tag: 277, type: SHORT, values: [samples] },
    { tag: 278, type: LONG, values: [rowsPerStrip] },
    { tag: 279, type: LONG, values: strips.map((s) => s.length) },
    { tag: 284, type: SHORT, values: [1] },
  ];
  if (samples === 4) entries.push({ tag: 338, type: SHORT, values: [2] });
  if (jpeg) {
    entries.push({ tag: 530, type: SHORT, values: sampling });
    // The JPEG streams hold full-range YCbCr (JFIF); say so for readers that convert themselves.
    entries.push({ tag: 532, type: RATIONAL, values: [0, 1, 255, 1, 128, 1, 255, 1, 128, 1, 255, 1] });
  }
  if (opts.georef) entries.push(...geoTiffEntries(opts.georef, r.width, r.height));

  // Header, IFD, the values that do not fit an entry, then the strips.
  const ifdSize = 2 + entries.length * 12 + 4;
  let extra = 0;
  for (const e of entries) extra += externalSize(e);
  let dataAt = 8 + ifdSize + extra;
  const offsets = entries.find((e) => e.tag === 273)!;
  offsets.values = strips.map((s) => {
    const at = dataAt;
    dataAt += s.length;
    return at;
  });
  const out = new Uint8Array(dataAt);
  const v = new DataView(out.buffer);
  out[0] = 0x49;
  out[1] = 0x49;
  v.setUint16(2, 42, true);
  v.setUint32(4, 8, true);
  v.setUint16(8, entries.length, true);
  let p = 10;
  let ext = 8 + ifdSize;
  for (const e of entries) {
    v.setUint16(p, e.tag, true);
    v.setUint16(p + 2, e.type, true);
    v.setUint32(p + 4, e.type === RATIONAL ? e.values.length / 2 : e.values.length, true);
    const size = externalSize(e);
    let at = p + 8;
    if (size) {
      v.setUint32(p + 8, ext, true);
      at = ext;
      ext += size;
    }
    for (const x of e.values) {
      if (e.type === SHORT) { v.setUint16(at, x, true); at += 2; }
      else if (e.type === LONG || e.type === RATIONAL) { v.setUint32(at, x, true); at += 4; }
      else { v.setFloat64(at, x, true); at += 8; }
    }
    p += 12;
  }
  v.setUint32(p, 0, true); // no next IFD
  for (const s of strips) {
    out.set(s, ext);
    ext += s.length;
  }
  return out;
}

/** Bytes a value needs outside its IFD entry (0 when it fits the 4-byte field). */
function externalSize(e: Entry): number {
  const n = e.values.length * (e.type === RATIONAL ? 4 : TYPE_SIZE[e.type]);
  return n > 4 ? n : 0;
}

/** Rows y..y+rows of the raster as chunky RGB or RGBA bytes. */
function pixelRows(r: Raster, y: number, rows: number, samples: number): Uint8Array {
  const src = r.data.subarray(y * r.width * 4, (y + rows) * r.width * 4);
  // RGBA is stored as it is: a view, no copy (strips are only read).
  if (samples === 4) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  const out = new Uint8Array(r.width * rows * 3);
  for (let s = 0, d = 0; s < src.length; s += 4, d += 3) {
    out[d] = src[s];
    out[d + 1] = src[s + 1];
    out[d + 2] = src[s + 2];
  }
  return out;
}

/** The YCbCr subsampling of a baseline JPEG strip; throws when a TIFF reader could not take it. */
function jpegSampling(b: Uint8Array): [number, number] {
  let i = 2;
  while (i + 4 <= b.length && b[i] === 0xff) {
    const marker = b[i + 1];
    const len = (b[i + 2] << 8) | b[i + 3];
    if (marker === 0xc0 && b[i + 9] === 3) {
      const h = b[i + 11] >> 4;
      const vs = b[i + 11] & 15;
      const chromaFull = b[i + 14] === 0x11 && b[i + 17] === 0x11;
      if (!chromaFull || h > 2 || vs > 2) break;
      return [h, vs];
    }
    if (marker === 0xda) break;
    i += 2 + len;
  }
  throw new Error('the JPEG encoder wrote a stream TIFF cannot hold (need baseline YCbCr with 1x1 or 2x2 chroma subsampling)');
}

/** ModelPixelScale, ModelTiepoint and GeoKeyDirectory for an image of width x height over georef.bbox. */
function geoTiffEntries(g: GeoReference, width: number, height: number): Entry[] {
  const [minx, miny, maxx, maxy] = g.bbox;
  const geographic = g.srs.isLatLong;
  // EPSG:900913 and CRS:84 have canonical EPSG codes GeoTIFF readers know (3857, 4326).
  const epsg = Number(/^EPSG:(\d+)$/.exec(g.srs.canonical)?.[1] ?? NaN);
  const keys: number[][] = [
    [1024, 0, 1, geographic ? 2 : 1], // GTModelTypeGeoKey: projected or geographic
    [1025, 0, 1, 1], // GTRasterTypeGeoKey: PixelIsArea
  ];
  if (epsg > 0 && epsg < 65535) keys.push([geographic ? 2048 : 3072, 0, 1, epsg]);
  return [
    { tag: 33550, type: DOUBLE, values: [(maxx - minx) / width, (maxy - miny) / height, 0] },
    { tag: 33922, type: DOUBLE, values: [0, 0, 0, minx, maxy, 0] },
    // KeyDirectoryVersion 1, KeyRevision 1.0, then the keys sorted by id.
    { tag: 34735, type: SHORT, values: [1, 1, 0, keys.length, ...keys.flat()] },
  ];
}

// libtiff's LZW constants (tif_lzw.c).
const BITS_MIN = 9;
const BITS_MAX = 12;
const CODE_CLEAR = 256;
const CODE_EOI = 257;
const CODE_FIRST = 258;
const CODE_MAX = (1 << BITS_MAX) - 1;
const HSIZE = 9001;
const HSHIFT = 13 - 8;
const CHECK_GAP = 10000;

/**
 * TIFF LZW (MSB-first codes, code width grown one code early) of one strip,
 * following libtiff's LZWEncode/LZWPostEncode step by step: the same hash
 * probing, the clear code when the table fills, and the adaptive reset when
 * the compression ratio drops, so the bytes equal libtiff's (and Pillow's).
 */
export function lzwEncode(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(input.length * 1.5) + (input.length >> 8) + 16);
  const hashTab = new Int32Array(HSIZE).fill(-1);
  const codeTab = new Uint16Array(HSIZE);
  let op = 0;
  let nbits = BITS_MIN;
  let maxcode = (1 << BITS_MIN) - 1;
  let freeEnt = CODE_FIRST;
  let nextdata = 0;
  let nextbits = 0;
  let checkpoint = CHECK_GAP;
  let ratio = 0;
  let incount = 0;
  let outcount = 0;
  const put = (code: number) => {
    nextdata = ((nextdata << nbits) | code) & 0xffffff;
    nextbits += nbits;
    out[op++] = nextdata >>> (nextbits - 8);
    nextbits -= 8;
    if (nextbits >= 8) {
      out[op++] = nextdata >>> (nextbits - 8);
      nextbits -= 8;
    }
    outcount += nbits;
  };
  const reset = () => {
    hashTab.fill(-1);
    ratio = 0;
    incount = 0;
    outcount = 0;
    freeEnt = CODE_FIRST;
    put(CODE_CLEAR);
    nbits = BITS_MIN;
    maxcode = (1 << BITS_MIN) - 1;
  };
  if (input.length === 0) {
    put(CODE_EOI);
    if (nextbits > 0) out[op++] = (nextdata << (8 - nextbits)) & 0xff;
    return out.slice(0, op);
  }
  put(CODE_CLEAR);
  let ent = input[0];
  incount++;
  for (let i = 1; i < input.length; i++) {
    const c = input[i];
    incount++;
    const fcode = (c << BITS_MAX) + ent;
    let h = (c << HSHIFT) ^ ent;
    if (hashTab[h] === fcode) {
      ent = codeTab[h];
      continue;
    }
    if (hashTab[h] >= 0) {
      // Secondary probe, relatively prime to the table size.
      const disp = h === 0 ? 1 : HSIZE - h;
      let hit = false;
      do {
        if ((h -= disp) < 0) h += HSIZE;
        if (hashTab[h] === fcode) {
          ent = codeTab[h];
          hit = true;
          break;
        }
      } while (hashTab[h] >= 0);
      if (hit) continue;
    }
    put(ent);
    ent = c;
    codeTab[h] = freeEnt++;
    hashTab[h] = fcode;
    if (freeEnt === CODE_MAX - 1) {
      reset();
    } else if (freeEnt > maxcode) {
      nbits++;
      maxcode = (1 << nbits) - 1;
    } else if (incount >= checkpoint) {
      // libtiff's 24.8 fixed-point ratio of input bytes to output bits.
      checkpoint = incount + CHECK_GAP;
      const rat = incount > 0x7fffff ? (outcount >> 8 === 0 ? 0x7fffffff : Math.floor(incount / (outcount >> 8))) : Math.floor((incount * 256) / outcount);
      if (rat <= ratio) reset();
      else ratio = rat;
    }
  }
  // The last string; the decoder adds a table entry for it too, which may
  // widen the code that follows (libtiff >= 4.0.8 writes EOI that wide).
  put(ent);
  freeEnt++;
  if (freeEnt === CODE_MAX - 1) {
    put(CODE_CLEAR);
    nbits = BITS_MIN;
  } else if (freeEnt > maxcode) {
    nbits++;
  }
  put(CODE_EOI);
  if (nextbits > 0) out[op++] = (nextdata << (8 - nextbits)) & 0xff;
  return out.slice(0, op);
}
