// The handle under a node:zlib stream object, driven directly: node:zlib's
// own sync functions do the same (writeSync on the handle), but allocate
// their output and set up a zlib stream on every call. png-decode.ts inflates
// a meta tile's scanlines straight into WebAssembly memory this way; here,
// paletted tiles are deflated through one reused stream. These are
// internals of Node's zlib module that Bun and Deno reproduce; every use is
// checked once against the public API and falls back to it.

import { constants as zlibConstants, createDeflate, deflateSync } from 'node:zlib';

/** The parts of a node:zlib stream object used here (Node's, Bun's and Deno's internals alike). */
export interface ZlibStreamInternals {
  _handle?: {
    writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void;
    close(): void;
    reset?(): void;
    onerror?: (message: string, errno: number) => void;
  };
  /** After writeSync: [output bytes left unwritten, input bytes left unread]. */
  _writeState?: ArrayLike<number>;
}

/** A zlib stream's handle and write state, with the errors its onerror reports kept for takeError. */
export interface OpenHandle {
  readonly h: NonNullable<ZlibStreamInternals['_handle']>;
  readonly state: ArrayLike<number>;
  /** The message of an error zlib reported since the last call, if any. */
  takeError(): string | undefined;
}

/** The handle under a stream `make` creates; undefined where the runtime has no such handle (or no reset, when asked for). */
export function openHandle(make: () => object, needReset = false): OpenHandle | undefined {
  let stream: ZlibStreamInternals;
  try {
    stream = make() as ZlibStreamInternals;
  } catch {
    return undefined;
  }
  const h = stream._handle;
  const state = stream._writeState;
  if (!h || typeof h.writeSync !== 'function' || typeof h.close !== 'function' || (needReset && typeof h.reset !== 'function') || !state) {
    return undefined;
  }
  let failed: string | undefined;
  h.onerror = (message) => {
    failed = message;
  };
  return {
    h,
    state,
    takeError() {
      const f = failed;
      failed = undefined;
      return f;
    },
  };
}

/** Output room of a reused deflater. */
const DEFLATE_OUT = 128 << 10;

/**
 * The most a zlib stream of n bytes can take with any level and strategy
 * (zlib's conservative deflateBound, plus the zlib header and trailer). Only
 * inputs whose bound fits DEFLATE_OUT go through the reused stream (up to
 * ~113 KB: a 256x256 paletted tile's 65,792 bytes of scanlines); larger ones
 * would risk a wasted pass before deflateSync.
 */
function deflateBound(n: number): number {
  return n + ((n + 7) >> 3) + ((n + 63) >> 6) + 5 + 6;
}

interface Deflater {
  deflate(data: Uint8Array): Uint8Array | undefined;
}

/** One reused deflater per level and strategy; null where the handle is missing or failed its check. */
const deflaters = new Map<string, Deflater | null>();

/**
 * A zlib stream of `data`, as node:zlib's deflateSync(data, { level,
 * strategy }) gives it, through one reused stream: ~15 % less time for a
 * paletted 256x256 tile (whose deflate is ~0.15 ms). With Z_RLE, what
 * paletted PNGs use, the bytes are deflateSync's; with level 0 or other
 * strategies zlib may end blocks elsewhere, as it decides by the output
 * room. Inputs over ~113 KB (see deflateBound), and runtimes whose handle
 * does not behave, go through deflateSync.
 */
export function deflateZlib(data: Uint8Array, level: number, strategy: number): Uint8Array {
  if (deflateBound(data.length) > DEFLATE_OUT) return deflateSync(data, { level, strategy });
  const key = `${level}/${strategy}`;
  let d = deflaters.get(key);
  if (d === undefined) {
    d = Number.isInteger(level) && level >= 0 && level <= 9 ? checkedDeflater(level, strategy) : null;
    deflaters.set(key, d);
  }
  if (d) {
    try {
      const out = d.deflate(data);
      if (out) return out;
    } catch {
      // zlib refused what deflateSync takes: not this handle's way, from now on
      deflaters.set(key, null);
    }
  }
  return deflateSync(data, { level, strategy });
}

/** Whether deflateZlib uses a reused stream for this level and strategy here (tests). */
export function reusesDeflater(level: number, strategy: number): boolean {
  deflateZlib(new Uint8Array(1), level, strategy);
  return deflaters.get(`${level}/${strategy}`) != null;
}

/** A deflater that gave deflateSync's bytes for a sample, else null. */
function checkedDeflater(level: number, strategy: number): Deflater | null {
  const d = openDeflater(level, strategy);
  if (!d) return null;
  const sample = new Uint8Array(5000);
  for (let i = 0; i < sample.length; i++) sample[i] = (i >> 4) % 7 === 0 ? i & 255 : (i >> 6) & 3;
  try {
    // twice, the second time shorter: it must start from a clean stream and report its own lengths
    for (const n of [sample.length, 3001]) {
      const got = d.deflate(sample.subarray(0, n));
      const want = deflateSync(sample.subarray(0, n), { level, strategy });
      if (!got || got.length !== want.length || !got.every((v, i) => v === want[i])) return null;
    }
    return d;
  } catch {
    return null;
  }
}

function openDeflater(level: number, strategy: number): Deflater | undefined {
  const o = openHandle(() => createDeflate({ level, strategy }), true);
  if (!o) return undefined;
  const { h, state } = o;
  const out = new Uint8Array(DEFLATE_OUT);
  return {
    deflate(data) {
      h.reset!();
      o.takeError();
      h.writeSync(zlibConstants.Z_FINISH, data, 0, data.length, out, 0, out.length);
      const failed = o.takeError();
      if (failed !== undefined) throw new Error(`deflate: ${failed}`);
      // all input read and room left over: the stream is finished; else it did not fit
      if (state[1] !== 0 || state[0] === 0) return undefined;
      return out.slice(0, out.length - state[0]);
    },
  };
}
