/**
 * PNG scanline filters as the specification writes them (test references):
 * the predictor of filter type f (0-4) for a sample from its neighbours
 * a (left), b (above) and c (above left), each 0 outside the image.
 */
export function pngPredictor(f: number, a: number, b: number, c: number): number {
  if (f === 1) return a;
  if (f === 2) return b;
  if (f === 3) return (a + b) >> 1;
  if (f === 4) {
    const p = a + b - c;
    const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
    return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
  }
  return 0;
}
