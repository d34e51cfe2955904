// Micro benchmark: milliseconds per 256x256 tile encode/decode, per codec
// backend, then PNG tile decoding per colour type on Bun: the Bun.Image
// route against the direct (node:zlib) reader. Run: `bun bench/codecs.ts` (native + wasm); for Deno/Node bundle
// it with the build's esbuild options first (wasm only there). The tile is a
// gradient with a box and text, roughly map-like.

import { codecBackend, decodeImage, encodeImage, setCodecBackend, setDirectPngDecode, type EncodeOptions } from '../src/image/codec.ts';
import { encodeIndexedPng } from '../src/image/encode.ts';
import { quantize } from '../src/image/palette.ts';
import { encodePng } from '../src/image/png-encode.ts';
import { decodePng, decodePngDirect } from '../src/image/png-decode.ts';
import { createRaster, fillRect, type Raster } from '../src/image/raster.ts';
import { drawText } from '../src/image/font.ts';
import { nativeTranscoder, runtimeName } from '../src/runtime/runtime.ts';

function tile(): Raster {
  const r = createRaster(256, 256, [0, 0, 0, 255]);
  for (let y = 0; y < 256; y++) {
    for (let x = 0; x < 256; x++) {
      const i = (y * 256 + x) * 4;
      r.data[i] = x;
      r.data[i + 1] = y;
      r.data[i + 2] = (x * y) >> 8;
    }
  }
  fillRect(r, 30, 40, 120, 60, [240, 240, 230, 255]);
  for (let l = 0; l < 8; l++) drawText(r, 10, 120 + l * 12, `line ${l}: 12345.678, -9876.54`, [0, 0, 0, 255]);
  return r;
}

async function timeIt(n: number, fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn(); // warm-up: WASM compile, JIT
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - t0) / n;
}

const r = tile();
const backends = (['native', 'wasm'] as const).filter((b) => b === 'wasm' || nativeTranscoder());
const cases: [string, EncodeOptions][] = [
  ['png (level 6)', { format: 'png' }],
  ['png (level 1)', { format: 'png', pngCompression: 1 }],
  ['jpeg q90', { format: 'jpeg', jpegQuality: 90 }],
];
console.log(`runtime ${runtimeName()}, 256x256 RGBA tile`);
for (const b of backends) {
  setCodecBackend(b);
  for (const [label, opts] of cases) {
    const n = b === 'wasm' && opts.format === 'jpeg' ? 30 : 60;
    const bytes = await encodeImage(r, opts);
    const enc = await timeIt(n, () => encodeImage(r, opts));
    const dec = await timeIt(n, () => decodeImage(bytes));
    console.log(`${codecBackend().padEnd(6)} ${label.padEnd(14)} encode ${enc.toFixed(2).padStart(6)} ms  decode ${dec.toFixed(2).padStart(6)} ms  ${bytes.length} bytes`);
  }
}
setCodecBackend(undefined);

// PNG decode per colour type: what cached tiles hold. Figures per 256x256 tile:
//  - serial: one decode at a time, wall clock (includes Bun.Image's threads);
//  - batch: 30 decodes in flight at once (one 1024x768 GetMap), wall / 30;
//  - main: JS time on the event loop (direct: all of it; Bun.Image route: the
//    level-0 PNG parse after the native step).
if (nativeTranscoder()) {
  const native = nativeTranscoder()!;
  const alphaTile = tile();
  for (let i = 3; i < alphaTile.data.length; i += 4) alphaTile.data[i] = (i >> 2) % 256 < 128 ? 255 : 128;
  const pngTypes: [string, Uint8Array][] = [
    ['paletted 8-bit', encodeIndexedPng(quantize(r, { colors: 256 }))],
    ['paletted 8-bit+tRNS', encodeIndexedPng(quantize(alphaTile, { colors: 256 }))],
    ['paletted 4-bit', encodeIndexedPng(quantize(r, { colors: 16 }))],
    ['RGB (ours)', encodePng(r)],
    ['RGBA (ours)', encodePng(alphaTile)],
    ['RGB (Bun.Image)', await native.transcode(encodePng(r), { format: 'png', compressionLevel: 6 })],
    ['RGBA (Bun.Image)', await native.transcode(encodePng(alphaTile), { format: 'png', compressionLevel: 6 })],
  ];
  const syncTime = (n: number, fn: () => unknown): number => {
    for (let i = 0; i < 5; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    return (performance.now() - t0) / n;
  };
  const batch = async (decode: () => Promise<unknown>): Promise<number> => {
    const rounds = 10;
    await Promise.all(Array.from({ length: 30 }, decode));
    const t0 = performance.now();
    for (let k = 0; k < rounds; k++) await Promise.all(Array.from({ length: 30 }, decode));
    return (performance.now() - t0) / rounds / 30;
  };
  setCodecBackend('native');
  console.log('\nPNG tile decode, ms per 256x256 tile: serial | batch of 30 | main-thread JS (* = what decodeImage picks)');
  for (const [label, png] of pngTypes) {
    const row: string[] = [];
    const picksDirect = [0, 3].includes(png[25]); // mirrors codec.ts
    for (const direct of [false, true]) {
      setDirectPngDecode(false);
      const decode = direct ? async () => decodePngDirect(png) : () => decodeImage(png);
      const serial = await timeIt(200, decode);
      const batched = await batch(decode);
      let main: number;
      if (direct) main = syncTime(300, () => decodePngDirect(png));
      else {
        const level0 = await native.transcode(png, { format: 'png', compressionLevel: 0 });
        main = syncTime(300, () => decodePng(level0));
      }
      row.push(`${(direct ? 'direct' : 'Bun.Image').padEnd(9)}${direct === picksDirect ? '*' : ' '} ${serial.toFixed(3)} | ${batched.toFixed(3)} | ${main.toFixed(3)}`);
    }
    console.log(`${label.padEnd(20)} ${String(png.length).padStart(6)} B  ${row.join('   ')}`);
  }
  setDirectPngDecode(true);
  setCodecBackend(undefined);
}
