/**
 * Coverage test throughput: a 20k-vertex wiggly circle (a stand-in for a
 * country border) in EPSG:3857, tested the way a seed run tests it.
 *   npx bun bench/coverage.ts [vertices]
 */
import { getSrs } from '../src/srs/srs.ts';
import type { Bbox, Point } from '../src/srs/types.ts';
import { GeomCoverage } from '../src/geo/geom-coverage.ts';
import { normalize } from '../src/geo/geometry.ts';

const n = Number(process.argv[2] ?? 20000);
const srs = getSrs('EPSG:3857');
const R = 1_000_000;

function wigglyCircle(count: number): Point[] {
  const ring: Point[] = [];
  for (let i = 0; i < count; i++) {
    const a = (i / count) * Math.PI * 2;
    const r = R * (1 + 0.04 * Math.sin(a * 150) + 0.015 * Math.sin(a * 1703) + 0.005 * Math.sin(a * 7919));
    ring.push([r * Math.cos(a), r * Math.sin(a)]);
  }
  ring.push(ring[0]);
  return ring;
}

// a small deterministic generator, so runs compare
let seed = 42;
function rand(): number {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
}

let t = performance.now();
const geometry = normalize([[wigglyCircle(n)]]);
const normalizeMs = performance.now() - t;
const cov = new GeomCoverage(geometry, srs);
t = performance.now();
void cov.prepared;
const prepareMs = performance.now() - t;
console.log(`${n} vertices: normalize ${normalizeMs.toFixed(0)} ms, prepare ${prepareMs.toFixed(0)} ms`);

function run(label: string, boxes: Bbox[]): void {
  let hits = 0;
  // warm up, then measure
  for (let i = 0; i < Math.min(boxes.length, 20000); i++) if (cov.intersects(boxes[i], srs)) hits++;
  hits = 0;
  const start = performance.now();
  for (const b of boxes) {
    if (cov.contains(b, srs)) hits += 2;
    else if (cov.intersects(b, srs)) hits++;
  }
  const ms = performance.now() - start;
  const tests = boxes.length * 2;
  console.log(`${label}: ${Math.round((tests / ms) * 1000).toLocaleString('en')} tests/s (${boxes.length} boxes, ${hits} hit points)`);
}

// tile-sized boxes (z12..z16 in web mercator) near the border
const near: Bbox[] = [];
for (let i = 0; i < 300000; i++) {
  const a = rand() * Math.PI * 2;
  const r = R * (0.9 + rand() * 0.2);
  const size = (2 * 20037508.34) / 2 ** (12 + Math.floor(rand() * 5));
  const x = r * Math.cos(a);
  const y = r * Math.sin(a);
  near.push([x, y, x + size, y + size]);
}
run('tile boxes near the border', near);

// boxes of any size anywhere around the geometry
const any: Bbox[] = [];
for (let i = 0; i < 100000; i++) {
  const size = R * 2 ** -(rand() * 12);
  const x = (rand() * 2.4 - 1.2) * R;
  const y = (rand() * 2.4 - 1.2) * R;
  any.push([x, y, x + size, y + size]);
}
run('boxes of any size', any);

// the seeder's walk: contains -> whole subtree, intersects -> descend
const world = 20037508.342789244;
let tests = 0;
let seeded = 0;
const start = performance.now();
function walk(x0: number, y0: number, size: number, z: number, maxZ: number): void {
  for (let dy = 0; dy < 2; dy++) {
    for (let dx = 0; dx < 2; dx++) {
      const b: Bbox = [x0 + dx * size, y0 + dy * size, x0 + (dx + 1) * size, y0 + (dy + 1) * size];
      tests++;
      if (cov.contains(b, srs)) {
        seeded += 4 ** (maxZ - z);
        continue;
      }
      tests++;
      if (!cov.intersects(b, srs)) continue;
      seeded++;
      if (z < maxZ) walk(b[0], b[1], size / 2, z + 1, maxZ);
    }
  }
}
walk(-world, -world, world, 1, 15);
const ms = performance.now() - start;
console.log(`seed walk to z15: ${tests.toLocaleString('en')} tests in ${ms.toFixed(0)} ms = ${Math.round((tests / ms) * 1000).toLocaleString('en')} tests/s (${seeded.toLocaleString('en')} tiles)`);
