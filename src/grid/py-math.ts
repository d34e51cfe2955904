/**
 * Python float semantics that MapProxy's grid math depends on. Tile bboxes,
 * grid sizes and meta tile sizes must come out bit-identical to MapProxy's,
 * or neighbouring caches disagree about tile borders; JS's Math.round,
 * toFixed and `Math.floor(a / b)` differ from Python in edge cases.
 */

const view = new DataView(new ArrayBuffer(8));

/** Splits a finite, non-negative double into an integer mantissa and a binary exponent. */
function decompose(x: number): { mant: bigint; exp: number } {
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mant, exp: -1074 };
  mant |= 1n << 52n;
  return { mant, exp: biased - 1075 };
}

/** Python's `round(x, ndigits)`: correctly rounded, ties to even on the exact binary value. */
export function pyRound(x: number, ndigits: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const neg = x < 0;
  const { mant, exp } = decompose(Math.abs(x));
  // nothing to round when the double's spacing exceeds 10^-ndigits: the
  // rounded decimal is nearer to x than to any other double (also the fast path)
  if (exp >= 0 || 2 ** exp > 10 ** -ndigits) return x;
  const num = mant * 10n ** BigInt(ndigits);
  const den = 1n << BigInt(-exp);
  let q = num / den;
  const twice = 2n * (num - q * den);
  if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  const r = Number(`${q}e-${ndigits}`);
  return neg ? -r : r;
}

/** Python's `round(x)` (no ndigits): nearest integer, ties to even. */
export function pyRoundInt(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * Python's float `a // b`. It is computed from fmod, so it can be one less
 * than Math.floor(a / b) when the true quotient is just below an integer
 * that the division rounds up to (MapProxy's grid sizes depend on this).
 */
export function pyFloorDiv(a: number, b: number): number {
  // JS `%` on numbers is the exact fmod, like C's
  let mod = a % b;
  let div = (a - mod) / b;
  if (mod) {
    if (b < 0 !== mod < 0) {
      mod += b;
      div -= 1;
    }
  }
  if (div) {
    let floordiv = Math.floor(div);
    if (div - floordiv > 0.5) floordiv += 1;
    return floordiv;
  }
  return 0 * Math.sign(a / b);
}

/** Python's integer `a // b` (floors towards -infinity, unlike Math.trunc). */
export function intFloorDiv(a: number, b: number): number {
  return Math.floor(a / b);
}
