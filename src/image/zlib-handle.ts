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

/** The handle under a stream `make` creates; undefined where the runtime has no such handle. */
export function openHandle(make: () => object): OpenHandle | undefined {
  let stream: ZlibStreamInternals;
  try {
    stream = make() as ZlibStreamInternals;
  } catch {
    return undefined;
  }
  const h = stream._handle;
  const state = stream._writeState;
  if (!h || typeof h.writeSync !== 'function' || typeof h.close !== 'function' || typeof h.reset !== 'function' || !state) return undefined;
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

/** Output room of a reused deflater: a 256x256 paletted tile's scanlines (65,792 bytes) always fit. */
const DEFLATE_OUT = 128 << 10;

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
 * room. Outputs over 128 KB, and runtimes whose handle does not behave, go
 * through deflateSync.
 */
export function deflateZlib(data: Uint8Array, level: number, strategy: number): Uint8Array {
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
    // twice: the second call must start from a clean stream
    for (let k = 0; k < 2; k++) {
      const got = d.deflate(sample);
      const want = deflateSync(sample, { level, strategy });
      if (!got || got.length !== want.length || !got.every((v, i) => v === want[i])) return null;
    }
    return d;
  } catch {
    return null;
  }
}

function openDeflater(level: number, strategy: number): Deflater | undefined {
  const o = openHandle(() => createDeflate({ level, strategy }));
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
