import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { pngPredictor } from '../helpers/png-filter.ts';
import { deflateSync, inflateSync } from 'node:zlib';
import { decodeImage, decodeImageInto, decodeImageTiles, encodeImage, setCodecBackend, setDirectPngDecode } from '../../src/image/codec.ts';
import { encodeIndexedPng } from '../../src/image/encode.ts';
import { encodePng } from '../../src/image/png-encode.ts';
import {
  decodePng, decodePngDirect, decodePngInto, decodePngTiles, directDecodes, inflatesIntoStrips, MAX_DIRECT_RGB_PIXELS, setInflateIntoStrips,
  setWasmUnfilter, type ClipRect,
} from '../../src/image/png-decode.ts';
import { splitRaster } from '../../src/image/stitch.ts';
import type { Raster } from '../../src/image/raster.ts';
import { nativeTranscoder } from '../../src/runtime/runtime.ts';

// PNGs of every colour type and bit depth, with every row filter, written
// here (not by the code under test), then decoded by the direct reader and
// by the Bun.Image route; the two must agree byte for byte.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function writePng(chunks: [string, Uint8Array][]): Uint8Array {
  let size = 8;
  for (const [, d] of chunks) size += 12 + d.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  let p = 8;
  for (const [type, d] of chunks) {
    v.setUint32(p, d.length);
    for (let i = 0; i < 4; i++) out[p + 4 + i] = type.charCodeAt(i);
    out.set(d, p + 8);
    v.setUint32(p + 8 + d.length, crc32(out.subarray(p + 4, p + 8 + d.length)));
    p += 12 + d.length;
  }
  return out;
}

/** A tiny deterministic PRNG, so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s >>> 24;
  };
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface Spec {
  colorType: number;
  bitDepth: number;
  width: number;
  height: number;
  /** Filter per row: a number, 'cycle' for row y using y % 5, or a function of the row. */
  filter?: number | 'cycle' | ((y: number) => number);
  trns?: boolean;
  paletteSize?: number;
  /** Split the zlib stream over this many IDAT chunks. */
  idats?: number;
  extra?: [string, Uint8Array][];
  interlace?: number;
  level?: number;
  seed?: number;
  /** Leave 8-bit palette indices unreduced, so they can exceed the palette. */
  wildIndices?: boolean;
}

function makePng(spec: Spec): Uint8Array {
  const { colorType, bitDepth, width, height } = spec;
  const rand = rng(spec.seed ?? width * 131 + height * 7 + colorType * 17 + bitDepth);
  const bpp = Math.max(1, (CHANNELS[colorType] * bitDepth) >> 3);
  const stride = (width * CHANNELS[colorType] * bitDepth + 7) >> 3;
  const nPal = spec.paletteSize ?? Math.min(1 << bitDepth, 200);
  // Unfiltered scanlines: smooth-ish data with some noise so every filter does something.
  const lines = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let i = 0; i < stride; i++) {
      let v = (i * 3 + y * 5 + (rand() & 7)) & 0xff;
      if (rand() < 40) v = rand();
      lines[y * stride + i] = v;
    }
  }
  if (colorType === 3 && bitDepth === 8 && !spec.wildIndices) for (let i = 0; i < lines.length; i++) lines[i] %= nPal;
  if (colorType === 3 && bitDepth < 8 && nPal < 1 << bitDepth) {
    // Keep packed indices below the palette size.
    const mask = (1 << bitDepth) - 1;
    for (let i = 0; i < lines.length; i++) {
      let b = 0;
      for (let k = 0; k < 8; k += bitDepth) b |= (((lines[i] >> k) & mask) % nPal) << k;
      lines[i] = b;
    }
  }
  const filtered = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const f = spec.filter === 'cycle' || spec.filter === undefined ? y % 5 : typeof spec.filter === 'function' ? spec.filter(y) : spec.filter;
    filtered[y * (stride + 1)] = f;
    for (let i = 0; i < stride; i++) {
      const x = lines[y * stride + i];
      const a = i >= bpp ? lines[y * stride + i - bpp] : 0;
      const b = y > 0 ? lines[(y - 1) * stride + i] : 0;
      const c = i >= bpp && y > 0 ? lines[(y - 1) * stride + i - bpp] : 0;
      const pred = pngPredictor(f, a, b, c);
      filtered[y * (stride + 1) + 1 + i] = (x - pred) & 0xff;
    }
  }
  const z = deflateSync(filtered, { level: spec.level ?? 6 });
  const ihdr = new Uint8Array(13);
  const hv = new DataView(ihdr.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  ihdr[12] = spec.interlace ?? 0;
  const chunks: [string, Uint8Array][] = [['IHDR', ihdr], ...(spec.extra ?? [])];
  if (colorType === 3) {
    const plte = new Uint8Array(nPal * 3);
    for (let i = 0; i < plte.length; i++) plte[i] = rand();
    chunks.push(['PLTE', plte]);
    if (spec.trns) {
      const t = new Uint8Array(Math.max(1, nPal >> 1));
      for (let i = 0; i < t.length; i++) t[i] = i === 0 ? 0 : rand();
      chunks.push(['tRNS', t]);
    }
  } else if (spec.trns && colorType === 0) {
    // A grey value that occurs: the first sample of the image.
    const first = bitDepth === 8 ? lines[0] : lines[0] >> (8 - bitDepth);
    chunks.push(['tRNS', Uint8Array.from([0, first])]);
  } else if (spec.trns && colorType === 2) {
    chunks.push(['tRNS', Uint8Array.from([0, lines[0], 0, lines[1], 0, lines[2]])]);
  }
  const n = spec.idats ?? 1;
  const step = Math.ceil(z.length / n);
  for (let i = 0; i < z.length; i += step) chunks.push(['IDAT', z.subarray(i, i + step)]);
  chunks.push(['IEND', new Uint8Array(0)]);
  return writePng(chunks);
}

function label(s: Spec): string {
  return `type ${s.colorType} depth ${s.bitDepth} ${s.width}x${s.height} filter ${s.filter ?? 'cycle'}${s.trns ? ' tRNS' : ''}${s.idats ? ` ${s.idats} IDATs` : ''}`;
}

const SPECS: Spec[] = [];
for (const width of [1, 3, 5, 7, 13, 33, 256]) {
  const height = width === 256 ? 256 : 11;
  for (const [colorType, depths] of [[0, [1, 2, 4, 8]], [2, [8]], [3, [1, 2, 4, 8]], [4, [8]], [6, [8]]] as const) {
    for (const bitDepth of depths) {
      for (const trns of colorType === 0 || colorType === 2 || colorType === 3 ? [false, true] : [false]) {
        SPECS.push({ colorType, bitDepth, width, height, trns });
      }
    }
  }
}
for (const colorType of [0, 2, 3, 4, 6]) {
  for (const filter of [0, 1, 2, 3, 4]) SPECS.push({ colorType, bitDepth: 8, width: 9, height: 6, filter });
}
SPECS.push({ colorType: 6, bitDepth: 8, width: 37, height: 21, idats: 7 });
SPECS.push({ colorType: 3, bitDepth: 8, width: 37, height: 21, idats: 5, trns: true, paletteSize: 256 });
SPECS.push({ colorType: 3, bitDepth: 4, width: 37, height: 21, paletteSize: 5 });
SPECS.push({ colorType: 2, bitDepth: 8, width: 37, height: 21, level: 0, idats: 3 });
SPECS.push({ colorType: 6, bitDepth: 8, width: 37, height: 21, level: 0 });
// Colour-management chunks that Bun.Image leaves alone, as we do.
SPECS.push({
  colorType: 2, bitDepth: 8, width: 7, height: 5,
  extra: [['gAMA', Uint8Array.from([0, 1, 0x86, 0xa0])], ['sBIT', Uint8Array.from([5, 6, 5])], ['cHRM', new Uint8Array(32).fill(1)]],
});
SPECS.push({ colorType: 3, bitDepth: 4, width: 7, height: 5, extra: [['gAMA', Uint8Array.from([0, 0, 0xb1, 0x8f])]] });

/** Bytes Bun.Image itself wrote (adaptive filters) and our encoders' output. */
async function encodedSamples(): Promise<[string, Uint8Array][]> {
  const w = 61, h = 29;
  const rand = rng(7);
  const opaque: Raster = { width: w, height: h, data: new Uint8ClampedArray(w * h * 4) };
  const alpha: Raster = { width: w, height: h, data: new Uint8ClampedArray(w * h * 4) };
  for (let i = 0; i < w * h * 4; i++) {
    const v = ((i >> 2) % w) * 4 + (rand() & 15);
    opaque.data[i] = (i & 3) === 3 ? 255 : v;
    alpha.data[i] = (i & 3) === 3 ? rand() : v;
  }
  const indices = new Uint8Array(w * h);
  for (let i = 0; i < indices.length; i++) indices[i] = (i % w >> 2) % 12;
  const palette = new Uint8Array(12 * 4);
  for (let i = 0; i < palette.length; i++) palette[i] = rand() | ((i & 3) === 3 && i > 8 ? 255 : 0);
  const out: [string, Uint8Array][] = [
    ['png-encode RGB', encodePng(opaque)],
    ['png-encode RGBA', encodePng(alpha)],
    ['encodeIndexedPng 4-bit', encodeIndexedPng({ width: w, height: h, indices, palette, exact: true })],
    ['encodeIndexedPng 2-bit', encodeIndexedPng({ width: w, height: h, indices: indices.map((x) => x & 3), palette: palette.subarray(0, 16), exact: true })],
  ];
  const native = nativeTranscoder();
  if (native) {
    out.push(['Bun.Image RGB', await native.transcode(encodePng(opaque), { format: 'png', compressionLevel: 6 })]);
    out.push(['Bun.Image RGBA', await native.transcode(encodePng(alpha), { format: 'png', compressionLevel: 6 })]);
  }
  return out;
}

const native = nativeTranscoder();

after(() => {
  setCodecBackend(undefined);
  setDirectPngDecode(true);
  setWasmUnfilter(true);
});

/** Runs `fn` once with RGB(A) rows unfiltered in WebAssembly and once in JS. */
async function bothUnfilters(fn: (how: string) => void | Promise<void>): Promise<void> {
  for (const wasm of [true, false]) {
    setWasmUnfilter(wasm);
    try {
      await fn(wasm ? 'wasm' : 'js');
    } finally {
      setWasmUnfilter(true);
    }
  }
}

/** The reference: the Bun.Image route where there is one, else our full reader. */
async function reference(png: Uint8Array): Promise<Raster> {
  if (!native) return decodePng(png);
  setCodecBackend('native');
  setDirectPngDecode(false);
  try {
    return await decodeImage(png);
  } finally {
    setDirectPngDecode(true);
    setCodecBackend(undefined);
  }
}

function assertSame(got: Raster | undefined, want: Raster, what: string): void {
  assert.ok(got, `${what}: direct decoder declined`);
  assert.equal(got.width, want.width, what);
  assert.equal(got.height, want.height, what);
  assert.equal(got.data.length, want.data.length, what);
  for (let i = 0; i < want.data.length; i++) {
    if (got.data[i] !== want.data[i]) {
      const px = i >> 2;
      assert.fail(`${what}: pixel (${px % want.width}, ${Math.floor(px / want.width)}) channel ${i & 3}: ${got.data[i]} != ${want.data[i]}`);
    }
  }
}

describe(`direct PNG decoder matches the ${native ? 'Bun.Image' : 'full'} route`, () => {
  it('on every colour type, bit depth, filter and odd width', async () => {
    for (const spec of SPECS) {
      const png = makePng(spec);
      const want = await reference(png);
      await bothUnfilters((how) => assertSame(decodePngDirect(png), want, `${how} ${label(spec)}`));
      // And the full reader (the level-0 bridge's second half) on the same compressed bytes.
      assertSame(await decodePng(png), want, `decodePng ${label(spec)}`);
    }
  });

  it('on PNGs written by our encoders and by Bun.Image', async () => {
    for (const [what, png] of await encodedSamples()) {
      const want = await reference(png);
      await bothUnfilters((how) => assertSame(decodePngDirect(png), want, `${how} ${what}`));
    }
  });

  it('is what decodeImage uses on the native backend', { skip: !native }, async () => {
    setCodecBackend('native');
    for (const spec of SPECS.slice(0, 40)) {
      const png = makePng(spec);
      assertSame(await decodeImage(png), await reference(png), label(spec));
    }
  });
});

describe('which PNGs decodeImage reads directly on the native backend', () => {
  it('grey and paletted at any size; 8-bit RGB(A) while one row fits the WebAssembly unfilter', () => {
    assert.equal(directDecodes(makePng({ colorType: 3, bitDepth: 8, width: 1500, height: 1500 })), true);
    assert.equal(directDecodes(makePng({ colorType: 0, bitDepth: 4, width: 1500, height: 20 })), true);
    assert.equal(directDecodes(makePng({ colorType: 6, bitDepth: 8, width: 512, height: 512 })), true);
    assert.equal(directDecodes(makePng({ colorType: 2, bitDepth: 8, width: 512, height: 512 })), true);
    // an upstream WMS image or meta tile: a strip of rows at a time
    assert.equal(directDecodes(makePng({ colorType: 6, bitDepth: 8, width: 1024, height: 1024 })), true);
    assert.equal(directDecodes(makePng({ colorType: 2, bitDepth: 8, width: 1024, height: 1024 })), true);
    // rows wider than the module's memory: Bun.Image
    assert.equal(directDecodes(makePng({ colorType: 6, bitDepth: 8, width: 600_000, height: 1 })), false);
    // more pixels than MAX_DIRECT_RGB_PIXELS: Bun.Image, off the event loop (only the IHDR is read)
    const sized = (w: number, h: number, colorType: number) => {
      const b = makePng({ colorType, bitDepth: 8, width: 4, height: 4 });
      new DataView(b.buffer, b.byteOffset).setUint32(16, w);
      new DataView(b.buffer, b.byteOffset).setUint32(20, h);
      return b;
    };
    for (const t of [2, 6]) {
      assert.equal(directDecodes(sized(2304, MAX_DIRECT_RGB_PIXELS / 2304, t)), true);
      assert.equal(directDecodes(sized(2304, MAX_DIRECT_RGB_PIXELS / 2304 + 1, t)), false);
      assert.equal(directDecodes(sized(4096, 4096, t)), false);
    }
    // grey and paletted, as before, at any size
    assert.equal(directDecodes(sized(4096, 4096, 3)), true);
    assert.equal(directDecodes(makePng({ colorType: 6, bitDepth: 16, width: 16, height: 16 })), false);
    assert.equal(directDecodes(makePng({ colorType: 4, bitDepth: 8, width: 16, height: 16 })), false);
    setWasmUnfilter(false);
    try {
      assert.equal(directDecodes(makePng({ colorType: 6, bitDepth: 8, width: 16, height: 16 })), false);
    } finally {
      setWasmUnfilter(true);
    }
  });

  it('large RGB(A) decodes the same every way: in WebAssembly strips, in JS, through Bun.Image', { skip: !native }, async () => {
    // all-Paeth rows (paired in WebAssembly) and every filter in turn
    for (const [colorType, filter] of [[6, 4], [2, 4], [6, 'cycle'], [2, 'cycle']] as const) {
      const png = makePng({ colorType, bitDepth: 8, width: 1024, height: 1024, filter });
      assert.equal(directDecodes(png), true);
      const want = await reference(png);
      setCodecBackend('native');
      try {
        assertSame(await decodeImage(png), want, `decodeImage 1024x1024 colour type ${colorType} filter ${filter} (WebAssembly strips)`);
      } finally {
        setCodecBackend(undefined);
      }
      assertSame(decodePngDirect(png), want, `decodePngDirect 1024x1024 colour type ${colorType} filter ${filter} (WebAssembly strips)`);
      setWasmUnfilter(false);
      try {
        assertSame(decodePngDirect(png), want, `decodePngDirect 1024x1024 colour type ${colorType} filter ${filter} (JS unfilter)`);
      } finally {
        setWasmUnfilter(true);
      }
    }
  });

  it('interlaced RGB(A) goes to Bun.Image without a try', () => {
    assert.equal(directDecodes(makePng({ colorType: 6, bitDepth: 8, width: 16, height: 16, interlace: 1 })), false);
    assert.equal(directDecodes(makePng({ colorType: 2, bitDepth: 8, width: 16, height: 16, interlace: 1 })), false);
  });
});

describe('direct PNG decoder declines what it does not cover', () => {
  const cases: [string, Spec][] = [
    ['16-bit RGBA', { colorType: 6, bitDepth: 16, width: 5, height: 4 }],
    ['16-bit grey', { colorType: 0, bitDepth: 16, width: 5, height: 4 }],
    ['16-bit RGB', { colorType: 2, bitDepth: 16, width: 5, height: 4 }],
    ['interlaced', { colorType: 6, bitDepth: 8, width: 5, height: 4, interlace: 1 }],
    ['palette index out of range', { colorType: 3, bitDepth: 8, width: 64, height: 4, paletteSize: 3, wildIndices: true }],
  ];
  for (const [what, spec] of cases) {
    it(what, async () => {
      const png = makePng(spec);
      assert.equal(decodePngDirect(png), undefined);
    });
  }

  it('and decodeImage still reads 16-bit PNGs through Bun.Image', { skip: !native }, async () => {
    setCodecBackend('native');
    const png = makePng({ colorType: 6, bitDepth: 16, width: 5, height: 4 });
    const r = await decodeImage(png);
    assert.equal(r.width, 5);
    assertSame(r, await decodePng(png), '16-bit RGBA');
  });

  it('and decodeImage falls back to Bun.Image on a truncated stream', { skip: !native }, async () => {
    setCodecBackend('native');
    const png = makePng({ colorType: 3, bitDepth: 8, width: 64, height: 64, trns: true });
    const i = findChunk(png, 'IDAT');
    const len = new DataView(png.buffer).getUint32(i);
    // Keep the chunk framing valid, cut the zlib stream in half.
    const cut = writePng([
      ['IHDR', png.subarray(16, 29)],
      ['PLTE', chunkData(png, 'PLTE')],
      ['IDAT', png.subarray(i + 8, i + 8 + (len >> 1))],
      ['IEND', new Uint8Array(0)],
    ]);
    await assert.rejects(() => reference(cut));
    await assert.rejects(() => decodeImage(cut));
  });
});

function findChunk(png: Uint8Array, type: string): number {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let p = 8;
  while (p < png.length) {
    if (String.fromCharCode(...png.subarray(p + 4, p + 8)) === type) return p;
    p += 12 + v.getUint32(p);
  }
  throw new Error(`no ${type}`);
}

function chunkData(png: Uint8Array, type: string): Uint8Array {
  const i = findChunk(png, type);
  return png.subarray(i + 8, i + 8 + new DataView(png.buffer, png.byteOffset).getUint32(i));
}


/** `src` placed at (x, y) on a w x h canvas of `bg`, only inside `clip`: what decoding into it must give. */
function placed(src: Raster, w: number, h: number, x: number, y: number, clip: readonly number[], bg: number): Raster {
  const out = { width: w, height: h, data: new Uint8ClampedArray(w * h * 4).fill(bg) };
  for (let v = 0; v < src.height; v++) {
    for (let u = 0; u < src.width; u++) {
      const cx = x + u;
      const cy = y + v;
      if (cx < Math.max(0, clip[0]) || cy < Math.max(0, clip[1]) || cx >= Math.min(w, clip[2]) || cy >= Math.min(h, clip[3])) continue;
      for (let c = 0; c < 4; c++) out.data[(cy * w + cx) * 4 + c] = src.data[(v * src.width + u) * 4 + c];
    }
  }
  return out;
}

describe('decoding into a larger image (stitching cached tiles)', () => {
  // Placements of a 13x11 image on a 20x16 canvas: inside, over each edge, clipped, and outside.
  const placements: [number, number, number[]][] = [
    [0, 0, [-Infinity, -Infinity, Infinity, Infinity]],
    [4, 3, [-Infinity, -Infinity, Infinity, Infinity]],
    [-5, -2, [-Infinity, -Infinity, Infinity, Infinity]],
    [-5, 3, [-Infinity, -Infinity, Infinity, Infinity]],
    [3, -4, [-Infinity, -Infinity, Infinity, Infinity]],
    [11, 10, [-Infinity, -Infinity, Infinity, Infinity]],
    [2, 2, [5, 4, 9, 8]],
    [2, 2, [0, 6, 20, 16]],
    [30, 2, [-Infinity, -Infinity, Infinity, Infinity]],
  ];

  it('writes each colour type only inside the canvas and the clip, leaving the rest alone', async () => {
    for (const spec of SPECS.filter((s) => s.width === 13)) {
      const png = makePng(spec);
      const whole = await reference(png);
      await bothUnfilters((how) => {
        for (const [x, y, clip] of placements) {
          const canvas = { width: 20, height: 16, data: new Uint8ClampedArray(20 * 16 * 4).fill(7) };
          const what = `${how} ${label(spec)} at ${x},${y} clip ${clip.join(',')}`;
          assert.equal(decodePngInto(png, canvas, x, y, clip as unknown as ClipRect), true, what);
          assertSame(canvas, placed(whole, 20, 16, x, y, clip, 7), what);
        }
      });
    }
  });

  it('places a large RGB(A) image decoded in several strips, clipped across strip edges', async () => {
    // 700 rows of 2800 or 2100 bytes: about 1 MB a strip, so three or four strips
    for (const [colorType, trns] of [[6, false], [2, false], [2, true]] as const) {
      const spec = { colorType, bitDepth: 8, width: 700, height: 700, filter: 4, trns } as const;
      const png = makePng(spec);
      const whole = await reference(png);
      await bothUnfilters((how) => {
        for (const [x, y, clip] of [[0, 0, [-Infinity, -Infinity, Infinity, Infinity]], [-30, -170, [10, 190, 650, 520]], [5, 3, [0, 0, 600, 600]]] as const) {
          const canvas = { width: 720, height: 720, data: new Uint8ClampedArray(720 * 720 * 4).fill(7) };
          const what = `${how} ${label(spec)} at ${x},${y} clip ${clip.join(',')}`;
          assert.equal(decodePngInto(png, canvas, x, y, clip as unknown as ClipRect), true, what);
          assertSame(canvas, placed(whole, 720, 720, x, y, clip, 7), what);
        }
      });
    }
  });

  it('declines what decodePngDirect declines', () => {
    const canvas = { width: 8, height: 8, data: new Uint8ClampedArray(8 * 8 * 4) };
    assert.equal(decodePngInto(makePng({ colorType: 6, bitDepth: 16, width: 5, height: 4 }), canvas, 0, 0), false);
    assert.equal(decodePngInto(makePng({ colorType: 3, bitDepth: 8, width: 64, height: 4, paletteSize: 3, wildIndices: true }), canvas, 0, 0), false);
  });

  it('decodeImageInto places PNGs either way and JPEGs through decodeImage', async () => {
    const samples: Uint8Array[] = [
      makePng({ colorType: 3, bitDepth: 8, width: 13, height: 9, trns: true }),
      makePng({ colorType: 6, bitDepth: 8, width: 13, height: 9 }),
      makePng({ colorType: 6, bitDepth: 16, width: 13, height: 9 }),
      await encodeImage((await reference(makePng({ colorType: 2, bitDepth: 8, width: 13, height: 9 }))), { format: 'jpeg' }),
    ];
    for (const bytes of samples) {
      const whole = await decodeImage(bytes);
      for (const [x, y, clip] of placements) {
        const canvas = { width: 20, height: 16, data: new Uint8ClampedArray(20 * 16 * 4).fill(7) };
        const finite = clip.map((c, i) => (Number.isFinite(c) ? c : i < 2 ? x : x + 1000)) as unknown as ClipRect;
        await decodeImageInto(bytes, canvas, x, y, finite);
        assertSame(canvas, placed(whole, 20, 16, x, y, finite as unknown as number[], 7), `${bytes.length} bytes at ${x},${y}`);
      }
    }
  });
});

describe('decoding a meta tile straight into its tiles', () => {
  // crops as a 4x3 meta tile of 64x48 tiles with a buffer of 10, and some at the grid edge, partly outside
  const crops: [number, number][] = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) crops.push([10 + c * 64, 10 + r * 48]);
  crops.push([-20, -7], [250, 150], [-64, 0], [0, 500]);
  const size: [number, number] = [276, 164];

  it('gives the tiles decodeImage and splitRaster give, RGB and RGBA, outside the image the fill', async () => {
    for (const [colorType, filter] of [[6, 4], [2, 4], [6, 'cycle'], [2, 'cycle']] as const) {
      const png = makePng({ colorType, bitDepth: 8, width: size[0], height: size[1], filter });
      const whole = await reference(png);
      for (const fill of [undefined, [1, 2, 3, 4]] as const) {
        const tiles = decodePngTiles(png, size, 64, 48, crops, fill);
        assert.ok(tiles, 'decoded');
        const want = splitRaster(whole, 64, 48, crops, fill);
        for (let i = 0; i < crops.length; i++) assertSame(tiles[i], want[i], `colour type ${colorType} filter ${filter} crop ${crops[i]} fill ${fill}`);
      }
      if (native) {
        setCodecBackend('native');
        try {
          const tiles = decodeImageTiles(png, size, 64, 48, crops);
          assert.ok(tiles);
          assertSame(tiles[5], splitRaster(whole, 64, 48, crops)[5], 'decodeImageTiles');
        } finally {
          setCodecBackend(undefined);
        }
      }
    }
  });

  it('fills tiles from several strips, crops ending at the image edge included, and none left unwritten', async () => {
    // 900x700 RGBA and RGB: about 1 MB a strip, so three or more strips; 256x256 tiles,
    // the last column and row ending exactly at the image edge (900 = 644 + 256, 700 = 444 + 256)
    const big: [number, number] = [900, 700];
    const edge: [number, number][] = [];
    for (const y of [0, 100, 300, 444]) for (const x of [0, 250, 644]) edge.push([x, y]);
    edge.push([700, 500], [-100, 600]);
    for (const colorType of [6, 2] as const) {
      const png = makePng({ colorType, bitDepth: 8, width: big[0], height: big[1], filter: 'cycle', seed: colorType });
      const whole = await reference(png);
      // twice: tiles allocated uninitialised may get the first run's freed memory back
      for (let run = 0; run < 2; run++) {
        const tiles = decodePngTiles(png, big, 256, 256, edge, [9, 8, 7, 6]);
        assert.ok(tiles);
        const want = splitRaster(whole, 256, 256, edge, [9, 8, 7, 6]);
        for (let i = 0; i < edge.length; i++) assertSame(tiles[i], want[i], `colour type ${colorType} crop ${edge[i]} run ${run}`);
      }
    }
  });

  it('does not unfilter the rows below every crop (a meta tile\'s bottom buffer)', async () => {
    // rows from 120 on carry an invalid filter type; the crops end at row 10 + 2 * 48 = 106
    const top = crops.slice(0, 8);
    for (const colorType of [6, 2] as const) {
      const spec = { colorType, bitDepth: 8, width: size[0], height: size[1], seed: 5 };
      const bad = makePng({ ...spec, filter: (y: number) => (y >= 120 ? 7 : 4) });
      const want = splitRaster(await reference(makePng({ ...spec, filter: 4 })), 64, 48, top);
      const tiles = decodePngTiles(bad, size, 64, 48, top);
      assert.ok(tiles);
      for (let i = 0; i < top.length; i++) assertSame(tiles[i], want[i], `colour type ${colorType} crop ${top[i]}`);
      // a crop reaching those rows needs them
      assert.throws(() => decodePngTiles(bad, size, 64, 48, crops), /PNG filter type 7 is invalid/);
    }
  });

  it('inflates into the unfilter\'s strips on Bun, and says so when the data is corrupt mid-stream', async () => {
    // node:zlib's handle writes into buffers it is given on Bun; the strip tests above ran that way
    if (typeof Bun !== 'undefined') assert.equal(inflatesIntoStrips(), true);
    const big: [number, number] = [900, 700];
    const png = makePng({ colorType: 6, bitDepth: 8, width: big[0], height: big[1], filter: 'cycle', seed: 3, level: 1 });
    const at = findChunk(png, 'IDAT');
    const len = new DataView(png.buffer, png.byteOffset).getUint32(at);
    const bad = png.slice();
    // garble the middle of the stream, past the first strip (~1 MB of scanlines, far more than half the data)
    for (let i = 0; i < 64; i++) bad[at + 8 + Math.floor(len * 0.7) + i] ^= 0x5a;
    const crops: [number, number][] = [[0, 0], [256, 444]];
    assert.throws(() => decodePngTiles(bad, big, 256, 256, crops), /PNG image data|PNG filter type/);
    assert.equal(decodeImageTiles(bad, big, 256, 256, crops), undefined);
    // and the intact image decodes the same with the stream or in one go
    const tiles = decodePngTiles(png, big, 256, 256, crops)!;
    const want = splitRaster(await reference(png), 256, 256, crops);
    for (let i = 0; i < crops.length; i++) assertSame(tiles[i], want[i], `crop ${crops[i]}`);
  });

  /** The PNG with its zlib stream replaced (one IDAT, CRC not recomputed: the decoder does not check it). */
  function withStream(png: Uint8Array, f: (z: Uint8Array) => Uint8Array): Uint8Array {
    const at = findChunk(png, 'IDAT');
    const v = new DataView(png.buffer, png.byteOffset);
    const len = v.getUint32(at);
    const z = f(png.slice(at + 8, at + 8 + len));
    const out = new Uint8Array(png.length - len + z.length);
    out.set(png.subarray(0, at + 8));
    new DataView(out.buffer).setUint32(at, z.length);
    out.set(z, at + 8);
    out.set(png.subarray(at + 8 + len), at + 8 + z.length);
    return out;
  }

  for (const mode of ['strips', 'one go'] as const) {
    describe(`inflating ${mode === 'strips' ? 'into the unfilter\'s strips' : 'in one go (no zlib handle)'}`, () => {
      const run = <T>(f: () => T): T => {
        if (mode === 'one go') setInflateIntoStrips(false);
        try {
          return f();
        } finally {
          setInflateIntoStrips(undefined);
        }
      };
      const big: [number, number] = [900, 700];
      const top: [number, number][] = [[0, 0], [256, 0], [600, 100]];
      const png = makePng({ colorType: 6, bitDepth: 8, width: big[0], height: big[1], filter: 'cycle', seed: 8 });

      it('decodes the same tiles, several strips, crops above the last rows', async () => {
        const want = splitRaster(await reference(png), 256, 256, top);
        const tiles = run(() => decodePngTiles(png, big, 256, 256, top));
        assert.ok(tiles);
        for (let i = 0; i < top.length; i++) assertSame(tiles[i], want[i], `crop ${top[i]}`);
      });

      it('checks zlib\'s checksum even when the crops end above the last rows', () => {
        const bad = withStream(png, (z) => {
          z[z.length - 1] ^= 1;
          return z;
        });
        assert.throws(() => assert.ok(run(() => decodePngTiles(bad, big, 256, 256, top))), /incorrect data check|Expected values/);
        assert.equal(run(() => decodeImageTiles(bad, big, 256, 256, top)), undefined);
      });

      it('takes no stream that ends before the rows the header promises, even below the crops', () => {
        // a complete zlib stream of 600 of the 700 rows
        const short = withStream(png, (z) => deflateSync(inflateSync(z).subarray(0, (900 * 4 + 1) * 600)));
        assert.throws(() => assert.ok(run(() => decodePngTiles(short, big, 256, 256, top))));
        // and a stream cut off (no end, no checksum)
        const cut = withStream(png, (z) => z.slice(0, z.length - 40));
        assert.throws(() => assert.ok(run(() => decodePngTiles(cut, big, 256, 256, top))));
      });

      it('refuses a stream far longer than the header says when inflating into strips (its checksum is out of reach)', async () => {
        // 100 rows more than the 700 of the header: 360 KB more than promised
        const lines = inflateSync(chunkData(png, 'IDAT'));
        const longer = new Uint8Array(lines.length + (900 * 4 + 1) * 100);
        longer.set(lines);
        const long = withStream(png, () => deflateSync(longer));
        if (mode === 'strips') {
          assert.throws(() => run(() => decodePngTiles(long, big, 256, 256, top)), /longer than its header says/);
          assert.equal(run(() => decodeImageTiles(long, big, 256, 256, top)), undefined);
        } else {
          // inflated in one go, the extra rows are there and never read
          const tiles = run(() => decodePngTiles(long, big, 256, 256, top))!;
          const want = splitRaster(await reference(png), 256, 256, top);
          for (let i = 0; i < top.length; i++) assertSame(tiles[i], want[i], `crop ${top[i]}`);
        }
      });

      it('takes a stored (level 0) stream only whole: its trailer there, every block header sound', async () => {
        const stored = makePng({ colorType: 6, bitDepth: 8, width: big[0], height: big[1], filter: 'cycle', seed: 8, level: 0 });
        const want = splitRaster(await reference(stored), 256, 256, top);
        const tiles = run(() => decodePngTiles(stored, big, 256, 256, top));
        assert.ok(tiles);
        for (let i = 0; i < top.length; i++) assertSame(tiles[i], want[i], `crop ${top[i]}`);
        // the adler-32 cut off
        const cut = withStream(stored, (z) => z.slice(0, z.length - 3));
        assert.throws(() => assert.ok(run(() => decodePngTiles(cut, big, 256, 256, top))));
        // the first block's NLEN wrong (LEN right): zlib refuses it
        const nlen = withStream(stored, (z) => {
          z[2 + 3] ^= 0x10;
          return z;
        });
        assert.throws(() => assert.ok(run(() => decodePngTiles(nlen, big, 256, 256, top))));
      });

      it('ignores bytes after the end of the stream, as inflateSync does', async () => {
        const trailing = withStream(png, (z) => {
          const t = new Uint8Array(z.length + 7);
          t.set(z);
          t.fill(0x33, z.length);
          return t;
        });
        const want = splitRaster(await reference(png), 256, 256, top);
        const tiles = run(() => decodePngTiles(trailing, big, 256, 256, top));
        assert.ok(tiles);
        for (let i = 0; i < top.length; i++) assertSame(tiles[i], want[i], `crop ${top[i]}`);
      });
    });
  }

  it('declines what it does not take, so the caller decodes and splits', async () => {
    const rgba = makePng({ colorType: 6, bitDepth: 8, width: size[0], height: size[1] });
    // another size than the meta tile's
    assert.equal(decodePngTiles(rgba, [size[0], size[1] + 1], 64, 48, crops), undefined);
    // more pixels than MAX_DIRECT_RGB_PIXELS (the header says so; nothing is inflated)
    const huge = rgba.slice();
    new DataView(huge.buffer).setUint32(16, 4096);
    new DataView(huge.buffer).setUint32(20, 4096);
    assert.equal(decodePngTiles(huge, [4096, 4096], 64, 48, crops), undefined);
    // paletted, grey, 16-bit, RGB with a transparent colour
    for (const spec of [
      { colorType: 3, bitDepth: 8 }, { colorType: 0, bitDepth: 8 }, { colorType: 6, bitDepth: 16 }, { colorType: 2, bitDepth: 8, trns: true },
    ]) {
      assert.equal(decodePngTiles(makePng({ ...spec, width: size[0], height: size[1] }), size, 64, 48, crops), undefined, JSON.stringify(spec));
    }
    // no WebAssembly unfilter
    setWasmUnfilter(false);
    try {
      assert.equal(decodePngTiles(rgba, size, 64, 48, crops), undefined);
    } finally {
      setWasmUnfilter(true);
    }
    // truncated data: no tiles (zlib's error, or fewer scanlines than the header promises)
    for (const level of [0, 6]) {
      const png = makePng({ colorType: 6, bitDepth: 8, width: size[0], height: size[1], level });
      const short = png.subarray(0, png.length >> 1);
      assert.throws(() => assert.ok(decodePngTiles(short, size, 64, 48, crops)), `level ${level}`);
      assert.equal(decodeImageTiles(short, size, 64, 48, crops), undefined);
    }
    // an invalid filter type: decodePngTiles says so, decodeImageTiles leaves it to decodeImage
    const bad = makePng({ colorType: 6, bitDepth: 8, width: size[0], height: size[1], filter: 7 });
    assert.throws(() => decodePngTiles(bad, size, 64, 48, crops), /PNG filter type 7 is invalid/);
    assert.equal(decodeImageTiles(bad, size, 64, 48, crops), undefined);
    // not a PNG at all
    assert.equal(decodeImageTiles(new Uint8Array([1, 2, 3]), size, 64, 48, crops), undefined);
    if (native) {
      setCodecBackend('native');
      setDirectPngDecode(false);
      try {
        assert.equal(decodeImageTiles(rgba, size, 64, 48, crops), undefined, 'direct decoding switched off');
      } finally {
        setDirectPngDecode(true);
        setCodecBackend(undefined);
      }
    }
  });
});
