/** Number and text formatting as MapProxy's Python templates print them. */

/** Python's repr() of a float: '-180.0', '78271.51696402048', '1e-05', '1e+16'. */
export function pyFloat(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : n < 0 ? '-inf' : 'nan';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  // the exponent of the shortest round-trip digits, as repr decides; log10 is off near powers of ten
  const [mant, e] = n.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 16) {
    // JS gives '1e-5' / '1.5e+21'; Python pads the exponent to two digits.
    const sign = e[0] === '-' ? '-' : '+';
    const digits = e.replace(/^[+-]/, '').padStart(2, '0');
    return `${mant}e${sign}${digits}`;
  }
  const s = String(n);
  return s.includes('.') || s.includes('e') ? s : `${s}.0`;
}

/** Escape text for XML element content and attribute values. */
export function xmlEscape(s: unknown): string {
  return String(s ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}
