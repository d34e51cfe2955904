/** Python's `'%.Nf' % x` for the KML templates: exact decimal rounding, ties to even, like CPython. */

const view = new DataView(new ArrayBuffer(8));

/**
 * `'%.{digits}f' % x` as Python prints it. JS toFixed rounds exact ties away from
 * zero (0.0078125 -> '0.007813', Python '0.007812') and drops the sign of '-0.000000';
 * tile borders in degrees hit such ties (e.g. 0.3515625), so the rounding is done
 * on the double's exact binary value here.
 */
export function pyFixed(x: number, digits = 6): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  view.setFloat64(0, x);
  const neg = (view.getUint8(0) & 0x80) !== 0;
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp = -1074;
  if (biased !== 0) {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  // |x| * 10^digits = mant * 10^digits * 2^exp, rounded half-even to an integer
  const num = mant * 10n ** BigInt(digits);
  let q: bigint;
  if (exp >= 0) q = num << BigInt(exp);
  else {
    const den = 1n << BigInt(-exp);
    q = num / den;
    const twice = 2n * (num - q * den);
    if (twice > den || (twice === den && (q & 1n) === 1n)) q += 1n;
  }
  let s = q.toString().padStart(digits + 1, '0');
  if (digits > 0) s = `${s.slice(0, s.length - digits)}.${s.slice(s.length - digits)}`;
  return neg ? `-${s}` : s;
}
