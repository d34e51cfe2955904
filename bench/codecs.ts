// Micro benchmark: milliseconds per 256x256 tile encode/decode, per codec
// backend. Run: `bun bench/codecs.ts` (native + wasm); for Deno/Node bundle
// it with the build's esbuild options first (wasm only there). The tile is a
// gradient with a box and text, roughly map-like.

import { codecBackend, decodeImage, encodeImage, setCodecBackend, type EncodeOptions } from '../src/image/codec.ts';
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
