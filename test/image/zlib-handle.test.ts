import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants, deflateSync, inflateSync } from 'node:zlib';
import { deflateZlib, reusesDeflater } from '../../src/image/zlib-handle.ts';

/** Paletted-tile-like scanlines: runs of a few values, some noise, a zero filter byte a row. */
function scanlines(w: number, h: number, seed: number): Uint8Array {
  const out = new Uint8Array((w + 1) * h);
  let s = seed;
  for (let y = 0; y < h; y++) {
    let v = 0;
    for (let x = 0; x < w; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      if (s >>> 24 < 40) v = (s >>> 8) & 255;
      out[y * (w + 1) + 1 + x] = v;
    }
  }
  return out;
}

function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

describe('deflateZlib (one reused zlib stream)', () => {
  it('gives a stream that inflates back, for every size, level and strategy, and deflateSync\'s bytes with Z_RLE, call after call', () => {
    const inputs = [scanlines(256, 256, 1), scanlines(7, 3, 2), scanlines(1, 1, 3), scanlines(512, 200, 4), new Uint8Array(0), new Uint8Array(65792)];
    for (const strategy of [constants.Z_RLE, constants.Z_DEFAULT_STRATEGY, constants.Z_FILTERED]) {
      for (let level = 0; level <= 9; level++) {
        for (const data of inputs) {
          const got = deflateZlib(data, level, strategy);
          assert.deepEqual(new Uint8Array(inflateSync(got)), data, `${data.length} bytes, level ${level}, strategy ${strategy}`);
          // Z_RLE (paletted tiles) gives the same bytes; level 0 and the other strategies may end
          // blocks elsewhere, as zlib's choices there depend on the output room it is given
          if (level > 0 && strategy === constants.Z_RLE) {
            assert.deepEqual(Buffer.from(got), deflateSync(data, { level, strategy }), `${data.length} bytes, level ${level}`);
          }
        }
      }
    }
  });

  it('gives deflateSync\'s bytes for incompressible inputs around and past its buffer\'s size, and goes on after them', () => {
    // noise: output about as large as the input, from well inside the reused stream's bound to past its buffer
    for (const n of [100_000, 113_000, 116_000, 120_000, 131_026, 131_072, 131_100, 140_000, 300_000]) {
      const data = noise(n, n);
      const z = deflateZlib(data, 6, constants.Z_RLE);
      assert.deepEqual(new Uint8Array(inflateSync(z)), data, `${n} bytes`);
      assert.deepEqual(Buffer.from(z), deflateSync(data, { level: 6, strategy: constants.Z_RLE }), `${n} bytes`);
    }
    const tile = scanlines(256, 256, 9);
    assert.deepEqual(Buffer.from(deflateZlib(tile, 6, constants.Z_RLE)), deflateSync(tile, { level: 6, strategy: constants.Z_RLE }));
  });

  it('hands back its own bytes: a result stays as it was after later calls', () => {
    const a = scanlines(256, 256, 11);
    const za = deflateZlib(a, 6, constants.Z_RLE);
    const copy = Uint8Array.from(za);
    deflateZlib(scanlines(256, 256, 12), 6, constants.Z_RLE);
    deflateZlib(scanlines(100, 50, 13), 6, constants.Z_RLE);
    assert.deepEqual(za, copy);
    // and input starting inside its buffer
    const inner = scanlines(300, 100, 14);
    const view = inner.subarray(1000, 20_000);
    assert.deepEqual(Buffer.from(deflateZlib(view, 6, constants.Z_RLE)), deflateSync(view, { level: 6, strategy: constants.Z_RLE }));
  });

  it('reuses one stream on Bun (node:zlib\'s handle there writes into a buffer it is given)', () => {
    if (typeof Bun !== 'undefined') {
      for (let level = 0; level <= 9; level++) assert.equal(reusesDeflater(level, constants.Z_RLE), true, `level ${level}`);
    }
  });

  it('leaves levels zlib refuses to deflateSync, which says so', () => {
    assert.throws(() => deflateZlib(new Uint8Array(4), 12, constants.Z_RLE), /level/i);
  });
});
