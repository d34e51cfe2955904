/**
 * Raster masks of coverages for clip: true: which pixels of an image of
 * `bbox` lie in the coverage, decided at pixel centres (MapProxy draws the
 * polygons shrunk by a tenth of a pixel, which selects nearly the same pixels).
 */
import { isSameSrs, type Srs } from '../srs/srs.ts';
import type { Bbox } from '../srs/types.ts';
import { BboxCoverage, MultiCoverage, type Coverage } from './coverage.ts';
import type { MultiPolygon } from './geometry.ts';
import { GeomCoverage } from './geom-coverage.ts';

/** One byte per pixel, rows from the top (maxy): 255 where the pixel centre lies in the coverage, else 0. */
export function coverageMask(cov: Coverage, bbox: Bbox, srs: Srs, size: [number, number]): Uint8Array {
  const [w, h] = size;
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0)) throw new Error(`invalid mask size ${w}x${h}`);
  const mask = new Uint8Array(w * h);
  paint(mask, cov, bbox, srs, w, h);
  return mask;
}

function paint(mask: Uint8Array, cov: Coverage, bbox: Bbox, srs: Srs, w: number, h: number): void {
  if (cov instanceof MultiCoverage) {
    for (const c of cov.coverages) paint(mask, c, bbox, srs, w, h);
    return;
  }
  const local = isSameSrs(cov.srs, srs) ? cov : cov.transformTo(srs);
  if (local instanceof GeomCoverage) fillPolygons(mask, local.geometry, bbox, w, h);
  else if (local instanceof BboxCoverage) fillRect(mask, local.bbox, bbox, w, h);
  else fillByTests(mask, local, bbox, srs, w, h);
}

/** Column range [c0, c1) of the pixels whose centres lie in the closed interval [x0, x1]. */
function columns(x0: number, x1: number, bbox: Bbox, w: number): [number, number] {
  if (!(x0 <= x1)) return [0, 0];
  const res = (bbox[2] - bbox[0]) / w;
  const centre = (c: number) => bbox[0] + (c + 0.5) * res;
  // first centre >= x0 and first centre > x1, estimated then corrected against the centres as computed
  let c0 = clamp(Math.ceil((x0 - bbox[0]) / res - 0.5), 0, w);
  for (let k = 0; k < 2 && c0 > 0 && centre(c0 - 1) >= x0; k++) c0--;
  for (let k = 0; k < 2 && c0 < w && centre(c0) < x0; k++) c0++;
  let c1 = clamp(Math.floor((x1 - bbox[0]) / res - 0.5) + 1, 0, w);
  for (let k = 0; k < 2 && c1 > 0 && centre(c1 - 1) > x1; k++) c1--;
  for (let k = 0; k < 2 && c1 < w && centre(c1) <= x1; k++) c1++;
  return [c0, Math.max(c0, c1)];
}

function clamp(v: number, lo: number, hi: number): number {
  return Number.isNaN(v) ? lo : v < lo ? lo : v > hi ? hi : v;
}

function fillRect(mask: Uint8Array, r: Bbox, bbox: Bbox, w: number, h: number): void {
  const resy = (bbox[3] - bbox[1]) / h;
  const [c0, c1] = columns(r[0], r[2], bbox, w);
  if (c1 <= c0) return;
  for (let row = 0; row < h; row++) {
    const y = bbox[3] - (row + 0.5) * resy;
    if (y >= r[1] && y <= r[3]) mask.fill(255, row * w + c0, row * w + c1);
  }
}

/** Even-odd scanline fill at the pixel-centre rows. */
function fillPolygons(mask: Uint8Array, mp: MultiPolygon, bbox: Bbox, w: number, h: number): void {
  const resy = (bbox[3] - bbox[1]) / h;
  const rowY = (row: number) => bbox[3] - (row + 0.5) * resy;
  // crossings per row, collected edge by edge over the rows the edge spans
  const rows: number[][] = Array.from({ length: h }, () => []);
  for (const poly of mp) {
    for (const ring of poly) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [ax, ay] = ring[i];
        const [bx, by] = ring[i + 1];
        if (ay === by) continue;
        const lo = Math.min(ay, by);
        const hi = Math.max(ay, by);
        if (hi < bbox[1] - resy || lo > bbox[3] + resy) continue;
        // rows whose centre y lies in [lo, hi), widened by one for rounding and checked exactly below
        const r0 = Math.max(0, Math.floor((bbox[3] - hi) / resy - 0.5) - 1);
        const r1 = Math.min(h - 1, Math.ceil((bbox[3] - lo) / resy - 0.5) + 1);
        for (let row = r0; row <= r1; row++) {
          const y = rowY(row);
          if (ay > y !== by > y) rows[row].push(ax + ((y - ay) * (bx - ax)) / (by - ay));
        }
      }
    }
  }
  for (let row = 0; row < h; row++) {
    const xs = rows[row];
    if (xs.length < 2) continue;
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) {
      const [c0, c1] = columns(xs[k], xs[k + 1], bbox, w);
      if (c1 > c0) mask.fill(255, row * w + c0, row * w + c1);
    }
  }
}

/** Any other coverage: ask it about a tiny box around every pixel centre. */
function fillByTests(mask: Uint8Array, cov: Coverage, bbox: Bbox, srs: Srs, w: number, h: number): void {
  const resx = (bbox[2] - bbox[0]) / w;
  const resy = (bbox[3] - bbox[1]) / h;
  const dx = resx * 1e-6;
  const dy = resy * 1e-6;
  for (let row = 0; row < h; row++) {
    const y = bbox[3] - (row + 0.5) * resy;
    for (let col = 0; col < w; col++) {
      const x = bbox[0] + (col + 0.5) * resx;
      if (cov.intersects([x - dx, y - dy, x + dx, y + dy], srs)) mask[row * w + col] = 255;
    }
  }
}
