/**
 * The orientation predicate with an exact sign, as GEOS uses it: touching and
 * collinear cases (a tile edge on a polygon edge) must not depend on rounding.
 * A floating-point filter answers almost every call; the rest are computed
 * exactly with BigInt.
 */

// Shewchuk's error bound for the plain floating-point determinant
const ERR_BOUND = (3 + 16 * Number.EPSILON) * Number.EPSILON;

/**
 * Twice the signed area of the triangle a, b, c: > 0 when c lies left of the
 * line a->b, < 0 right of it, 0 on it. The sign is exact; the magnitude is not.
 */
export function orient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  const l = (bx - ax) * (cy - ay);
  const r = (by - ay) * (cx - ax);
  const det = l - r;
  const bound = ERR_BOUND * (Math.abs(l) + Math.abs(r));
  if (det > bound || -det > bound) return det;
  return exactOrient(ax, ay, bx, by, cx, cy);
}

/** A finite double as m * 2^e. */
interface Exact {
  m: bigint;
  e: number;
}

const view = new DataView(new ArrayBuffer(8));

function exact(x: number): Exact {
  if (x === 0) return { m: 0n, e: 0 };
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let e: number;
  if (biased === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = biased - 1075;
  }
  return { m: x < 0 ? -mant : mant, e };
}

function add(a: Exact, b: Exact): Exact {
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  return { m: (a.m << BigInt(a.e - e)) + (b.m << BigInt(b.e - e)), e };
}

function neg(a: Exact): Exact {
  return { m: -a.m, e: a.e };
}

function mul(a: Exact, b: Exact): Exact {
  return { m: a.m * b.m, e: a.e + b.e };
}

function exactOrient(ax: number, ay: number, bx: number, by: number, cx: number, cy: number): number {
  if (![ax, ay, bx, by, cx, cy].every(Number.isFinite)) return NaN;
  const eax = exact(ax);
  const eay = exact(ay);
  const l = mul(add(exact(bx), neg(eax)), add(exact(cy), neg(eay)));
  const r = mul(add(exact(by), neg(eay)), add(exact(cx), neg(eax)));
  const d = add(l, neg(r)).m;
  return d > 0n ? 1 : d < 0n ? -1 : 0;
}
