import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRaster, getPixel, type Raster, type Rgba } from '../../src/image/raster.ts';
import { transformExtent, type ResamplingMethod } from '../../src/image/resample.ts';
import { axesSourceWindow, reprojectRaster, separableAxes, transformMesh } from '../../src/image/transform.ts';
import { getSrs, MERCATOR_MAX, type Bbox, type Srs } from '../../src/srs/srs.ts';

const WGS84 = getSrs('EPSG:4326');
const MERC = getSrs('EPSG:3857');
const UTM32 = getSrs('EPSG:25832');
const WORLD_MERC: Bbox = [-MERCATOR_MAX, -MERCATOR_MAX, MERCATOR_MAX, MERCATOR_MAX];

/** Class colours; class -1 means "no data" (transparent or the fill). */
const COLORS: Rgba[] = [[220, 30, 30, 255], [30, 30, 220, 255], [30, 200, 30, 255]];
type Classify = (lon: number, lat: number) => number;

/** The geographic position of a pixel centre, transformed exactly (no mesh). */
function pixelLonLat(bbox: Bbox, size: [number, number], srs: Srs, x: number, y: number): [number, number] {
  const wx = bbox[0] + ((x + 0.5) * (bbox[2] - bbox[0])) / size[0];
  const wy = bbox[3] - ((y + 0.5) * (bbox[3] - bbox[1])) / size[1];
  return srs.transformPoint([wx, wy], WGS84);
}

/** A source raster whose every pixel is coloured by the class of its centre's lon/lat. */
function paint(bbox: Bbox, size: [number, number], srs: Srs, classify: Classify): Raster {
  const r = createRaster(size[0], size[1]);
  for (let y = 0; y < size[1]; y++) {
    for (let x = 0; x < size[0]; x++) {
      const [lon, lat] = pixelLonLat(bbox, size, srs, x, y);
      const c = Number.isFinite(lon) ? classify(lon, lat) : -1;
      if (c >= 0) r.data.set(COLORS[c], (y * size[0] + x) * 4);
    }
  }
  return r;
}

function classOf(p: Rgba): number {
  if (p[3] === 0) return -1;
  return COLORS.findIndex((c) => c[0] === p[0] && c[1] === p[1] && c[2] === p[2] && c[3] === p[3]);
}

/**
 * Every output pixel must show a class that the exact transformation gives at
 * that pixel or at one of its 8 neighbours: the feature is in place within 1 px.
 * Returns how many pixels had an unambiguous neighbourhood (all neighbours agree).
 */
function assertWithin1px(out: Raster, expected: (x: number, y: number) => number, what: string): number {
  const w = out.width;
  const h = out.height;
  const exp = new Int8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) exp[y * w + x] = expected(x, y);
  let bad = 0;
  let firstBad = '';
  let uniform = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const got = classOf(getPixel(out, x, y));
      let ok = false;
      let same = true;
      for (let ny = Math.max(0, y - 1); ny <= Math.min(h - 1, y + 1); ny++) {
        for (let nx = Math.max(0, x - 1); nx <= Math.min(w - 1, x + 1); nx++) {
          const e = exp[ny * w + nx];
          if (e === got) ok = true;
          if (e !== exp[y * w + x]) same = false;
        }
      }
      if (same) uniform++;
      if (!ok) {
        if (bad === 0) firstBad = `${x},${y} got class ${got}, expected ${exp[y * w + x]}`;
        bad++;
      }
    }
  }
  assert.equal(bad, 0, `${what}: ${bad} pixels off by more than 1 px, first at ${firstBad}`);
  return uniform;
}

function expectedFor(bbox: Bbox, size: [number, number], srs: Srs, classify: Classify, srcLat = 85.0511) {
  return (x: number, y: number): number => {
    const [lon, lat] = pixelLonLat(bbox, size, srs, x, y);
    if (!Number.isFinite(lon) || Math.abs(lat) > srcLat) return -1;
    return classify(lon, lat);
  };
}

/** 1 degree checkerboard, and a "feature" rectangle of its own class. */
const checker: Classify = (lon, lat) => {
  if (lon >= 9 && lon < 10.5 && lat >= 52 && lat < 53) return 2;
  return (Math.floor(lon) + Math.floor(lat)) & 1;
};

describe('reprojectRaster', () => {
  it('puts a geographic pattern in place when reprojecting EPSG:3857 to EPSG:4326', () => {
    const dstBbox: Bbox = [2, 46, 16, 56];
    const dstSize: [number, number] = [280, 200];
    const srcBbox = WGS84.transformBbox([1, 45, 17, 57], MERC);
    const src = paint(srcBbox, [640, 800], MERC, checker);
    const out = reprojectRaster(src, srcBbox, MERC, dstBbox, dstSize, WGS84, { method: 'nearest' });
    const uniform = assertWithin1px(out, expectedFor(dstBbox, dstSize, WGS84, checker), '3857->4326');
    assert.ok(uniform > dstSize[0] * dstSize[1] * 0.8, 'the check covered most of the image');
    // The feature's corners, from the bbox arithmetic alone: 9..10.5E 52..53N at 0.05 deg/px.
    assert.equal(classOf(getPixel(out, 141, 61)), 2);
    assert.equal(classOf(getPixel(out, 168, 78)), 2);
    for (const [x, y] of [[138, 61], [171, 78], [150, 58], [150, 81], [139, 59], [170, 80]]) {
      assert.notEqual(classOf(getPixel(out, x, y)), 2, `${x},${y} is outside the feature`);
    }
  });

  it('puts a geographic pattern in place when reprojecting EPSG:3857 to UTM 32N (EPSG:25832)', () => {
    const dstBbox: Bbox = [350000, 5650000, 750000, 5950000];
    const dstSize: [number, number] = [400, 300];
    const srcBbox = UTM32.transformBbox([300000, 5600000, 800000, 6000000], MERC);
    const src = paint(srcBbox, [800, 800], MERC, checker);
    for (const method of ['nearest', 'bilinear'] as ResamplingMethod[]) {
      const out = reprojectRaster(src, srcBbox, MERC, dstBbox, dstSize, UTM32, { method });
      if (method === 'nearest') {
        assertWithin1px(out, expectedFor(dstBbox, dstSize, UTM32, checker), '3857->25832');
      }
      // The feature: a lon/lat box is a curved quad in UTM. Locate its corners independently.
      const toPx = (lon: number, lat: number): [number, number] => {
        const [e, n] = WGS84.transformPoint([lon, lat], UTM32);
        return [(e - dstBbox[0]) / 1000, (dstBbox[3] - n) / 1000];
      };
      const corners = [toPx(9, 52), toPx(10.5, 52), toPx(10.5, 53), toPx(9, 53)];
      const cx = corners.reduce((s, c) => s + c[0], 0) / 4;
      const cy = corners.reduce((s, c) => s + c[1], 0) / 4;
      const isFeature = (x: number, y: number) => {
        const p = getPixel(out, Math.floor(x), Math.floor(y));
        return p[1] > 150 && p[0] < 100 && p[2] < 100;
      };
      assert.ok(isFeature(cx, cy), `${method}: feature centre`);
      for (const [x, y] of corners) {
        const len = Math.hypot(cx - x, cy - y);
        const ux = (cx - x) / len;
        const uy = (cy - y) / len;
        assert.ok(isFeature(x + 2 * ux, y + 2 * uy), `${method}: 2 px inside corner ${x},${y}`);
        assert.ok(!isFeature(x - 2 * ux, y - 2 * uy), `${method}: 2 px outside corner ${x},${y}`);
      }
    }
  });

  it('puts a geographic pattern in place when reprojecting EPSG:4326 to EPSG:3857', () => {
    const srcBbox: Bbox = [0, 44, 18, 58];
    const src = paint(srcBbox, [900, 700], WGS84, checker);
    const dstBbox = WGS84.transformBbox([2, 46, 16, 56], MERC);
    const dstSize: [number, number] = [300, 320];
    const out = reprojectRaster(src, srcBbox, WGS84, dstBbox, dstSize, MERC, { method: 'nearest' });
    assertWithin1px(out, expectedFor(dstBbox, dstSize, MERC, checker), '4326->3857');
  });

  it('shows a small UTM source only where it lies on a world map', () => {
    const srcBbox: Bbox = [350000, 5650000, 750000, 5950000];
    const src = createRaster(400, 300, [200, 0, 0, 255]);
    const out = reprojectRaster(src, srcBbox, UTM32, [-180, -90, 180, 90], [720, 360], WGS84, { method: 'nearest' });
    const [w, s, e, n] = UTM32.transformBbox(srcBbox, WGS84);
    let opaque = 0;
    for (let y = 0; y < 360; y++) {
      for (let x = 0; x < 720; x++) {
        if (getPixel(out, x, y)[3] === 0) continue;
        opaque++;
        const lon = -180 + (x + 0.5) * 0.5;
        const lat = 90 - (y + 0.5) * 0.5;
        assert.ok(lon > w - 0.5 && lon < e + 0.5 && lat > s - 0.5 && lat < n + 0.5, `stray pixel at ${x},${y}`);
      }
    }
    // Roughly the source's area: 6 x 2.75 degrees at 0.5 degrees per pixel.
    assert.ok(opaque > 40 && opaque < 90, `${opaque} opaque pixels`);
    assert.equal(getPixel(out, Math.floor((9.75 + 180) * 2), Math.floor((90 - 52.3) * 2))[3], 255);
  });

  it('leaves the polar rows of a whole-world EPSG:4326 image transparent (or the fill)', () => {
    const src = createRaster(512, 512, [0, 128, 0, 255]);
    const fill: Rgba = [255, 255, 255, 255];
    // 512x256 cells are symmetric about the equator: corner and midpoint checks alone would pass a wrong mesh.
    const cases: [ResamplingMethod, [number, number]][] = [
      ['nearest', [720, 360]], ['bilinear', [720, 360]], ['bicubic', [720, 360]], ['bilinear', [512, 256]],
    ];
    for (const [method, size] of cases) {
      const out = reprojectRaster(src, WORLD_MERC, MERC, [-180, -90, 180, 90], size, WGS84, { method });
      const filled = reprojectRaster(src, WORLD_MERC, MERC, [-180, -90, 180, 90], size, WGS84, { method, fill });
      const res = 180 / size[1];
      let wrong = 0;
      for (let y = 0; y < size[1]; y++) {
        const lat = 90 - (y + 0.5) * res;
        if (Math.abs(Math.abs(lat) - 85.0511) < res) continue; // the boundary row may go either way
        const want = Math.abs(lat) < 85.0511 ? [0, 128, 0, 255] : [0, 0, 0, 0];
        const wantFilled = Math.abs(lat) < 85.0511 ? want : fill;
        for (let x = 0; x < size[0]; x++) {
          const i = (y * size[0] + x) * 4;
          for (let k = 0; k < 4; k++) {
            if (out.data[i + k] !== want[k] || filled.data[i + k] !== wantFilled[k]) wrong++;
          }
        }
      }
      assert.equal(wrong, 0, `${method} ${size}: polar rows empty, the rest opaque`);
    }
  });

  it('does not smear a destination that crosses the antimeridian', () => {
    const zones: Classify = (lon, lat) => (Math.floor(lon / 10) + Math.floor(lat / 10)) & 1;
    const src = paint(WORLD_MERC, [1024, 1024], MERC, zones);
    const dstBbox: Bbox = [90, -60, 270, 60];
    const size: [number, number] = [720, 480];
    const out = reprojectRaster(src, WORLD_MERC, MERC, dstBbox, size, WGS84, { method: 'nearest' });
    assertWithin1px(out, expectedFor(dstBbox, size, WGS84, zones), 'antimeridian');
    // Columns either side of 180 deg come from the two ends of the source.
    const y = 100;
    assert.equal(classOf(getPixel(out, 358, y)), zones(179.6, 60 - (y + 0.5) * 0.25));
    assert.equal(classOf(getPixel(out, 361, y)), zones(-179.6, 60 - (y + 0.5) * 0.25));
    // Only the seam itself needs pixel-sized quads, not the whole half past 180 degrees.
    const quads = transformMesh([1024, 1024], WORLD_MERC, MERC, size, dstBbox, WGS84).length;
    assert.ok(quads < 3000, `${quads} quads`);
    const bilinear = reprojectRaster(src, WORLD_MERC, MERC, dstBbox, size, WGS84, { method: 'bilinear' });
    for (let row = 0; row < size[1]; row++) {
      assert.equal(getPixel(bilinear, 359, row)[3], 255, `row ${row} at the antimeridian is not left empty`);
      assert.equal(getPixel(bilinear, 360, row)[3], 255, `row ${row} at the antimeridian is not left empty`);
    }
  });

  it('fills points that fail to transform (beyond the poles)', () => {
    const src = createRaster(256, 256, [10, 20, 30, 255]);
    const out = reprojectRaster(src, WORLD_MERC, MERC, [-180, -120, 180, 120], [360, 240], WGS84, {
      method: 'bilinear', fill: [1, 1, 1, 1],
    });
    for (let x = 0; x < 360; x += 7) {
      assert.deepEqual([...getPixel(out, x, 10)], [1, 1, 1, 1]); // lat 109.5
      assert.deepEqual([...getPixel(out, x, 229)], [1, 1, 1, 1]);
      assert.deepEqual([...getPixel(out, x, 120)], [10, 20, 30, 255]);
    }
  });

  it('delegates to transformExtent when both SRS are the same (aliases included)', () => {
    const src = paint(WORLD_MERC, [64, 64], MERC, checker);
    const bbox: Bbox = [-10e6, -5e6, 10e6, 15e6];
    const a = reprojectRaster(src, WORLD_MERC, MERC, bbox, [50, 50], getSrs('EPSG:900913'), { method: 'bilinear' });
    const b = transformExtent(src, WORLD_MERC, bbox, [50, 50], 'bilinear');
    assert.deepEqual(a.data, b.data);
  });

  it('needs only a few quads at large scales and refines at small scales', () => {
    const tile = transformMesh([256, 256], [1113194, 6800125, 1118086, 6805017], MERC,
      [256, 256], [10, 52, 10.05, 52.03], WGS84);
    assert.ok(tile.length <= 4, `${tile.length} quads for a city-scale tile`);
    const world = transformMesh([512, 512], WORLD_MERC, MERC, [1024, 512], [-180, -90, 180, 90], WGS84);
    assert.ok(world.length > 8 && world.length < 2000, `${world.length} quads for the world`);
    // Quads never overlap and stay inside the image.
    const seen = new Uint8Array(1024 * 512);
    for (const q of world) {
      assert.ok(q.x0 >= 0 && q.y0 >= 0 && q.x1 <= 1024 && q.y1 <= 512);
      for (let y = q.y0; y < q.y1; y++) for (let x = q.x0; x < q.x1; x++) seen[y * 1024 + x]++;
    }
    assert.ok(seen.every((v) => v <= 1));
  });

  it('honours maxPxErr: a tighter error makes a finer mesh', () => {
    const dstBbox: Bbox = [-30, 20, 60, 80];
    const coarse = transformMesh([512, 512], WORLD_MERC, MERC, [1024, 768], dstBbox, WGS84, 4).length;
    const fine = transformMesh([512, 512], WORLD_MERC, MERC, [1024, 768], dstBbox, WGS84, 0.25).length;
    assert.ok(fine > coarse, `${fine} > ${coarse}`);
  });
});

describe('reprojection by axes (EPSG:4326 <-> web mercator)', () => {
  /** A smooth opaque pattern: red along x, green along y, blue in diagonal waves. */
  function smooth(w: number, h: number): Raster {
    const r = createRaster(w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        r.data.set([(x * 255) / w, (y * 255) / h, 128 + 100 * Math.sin((x + y) / 23), 255], (y * w + x) * 4);
      }
    }
    return r;
  }

  it("samples each column and row where proj puts its centre, both ways", () => {
    const cases: [Bbox, Srs, Bbox, Srs][] = [
      [WGS84.transformBbox([1, 45, 17, 57], MERC), MERC, [2, 46, 16, 56], WGS84],
      [[1, 45, 17, 57], WGS84, WGS84.transformBbox([2, 46, 16, 56], MERC), MERC],
      [WORLD_MERC, getSrs('EPSG:900913'), [-180, -80, 180, 80], getSrs('CRS:84')],
    ];
    for (const [srcBbox, srcSrs, dstBbox, dstSrs] of cases) {
      const srcSize: [number, number] = [640, 800];
      const dstSize: [number, number] = [280, 200];
      const axes = separableAxes(srcSize, srcBbox, srcSrs, dstSize, dstBbox, dstSrs);
      assert.ok(axes, `${srcSrs.code} -> ${dstSrs.code}`);
      for (const [x, y] of [[0, 0], [139, 100], [279, 199], [17, 180]]) {
        const wx = dstBbox[0] + ((x + 0.5) * (dstBbox[2] - dstBbox[0])) / dstSize[0];
        const wy = dstBbox[3] - ((y + 0.5) * (dstBbox[3] - dstBbox[1])) / dstSize[1];
        const [sx, sy] = dstSrs.transformPoint([wx, wy], srcSrs);
        const px = ((sx - srcBbox[0]) / (srcBbox[2] - srcBbox[0])) * srcSize[0];
        const py = ((srcBbox[3] - sy) / (srcBbox[3] - srcBbox[1])) * srcSize[1];
        assert.ok(Math.abs(axes.cols[x] - px) < 1e-6, `${srcSrs.code} -> ${dstSrs.code} column ${x}: ${axes.cols[x]} vs ${px}`);
        assert.ok(Math.abs(axes.rows[y] - py) < 1e-6, `${srcSrs.code} -> ${dstSrs.code} row ${y}: ${axes.rows[y]} vs ${py}`);
      }
    }
  });

  it('has no axes for other pairs, or for a destination across the antimeridian', () => {
    const srcBbox = WGS84.transformBbox([1, 45, 17, 57], MERC);
    assert.equal(separableAxes([640, 800], srcBbox, MERC, [100, 100], [350000, 5650000, 750000, 5950000], UTM32), undefined);
    assert.equal(separableAxes([640, 800], [350000, 5650000, 750000, 5950000], UTM32, [100, 100], [2, 46, 16, 56], WGS84), undefined);
    // a source on both sides of the antimeridian seen from a destination that wraps
    const wrapped = separableAxes([512, 512], [-MERCATOR_MAX, -MERCATOR_MAX / 2, MERCATOR_MAX, MERCATOR_MAX / 2], MERC, [200, 100], [170, -20, 190, 20], WGS84);
    assert.equal(wrapped, undefined);
  });

  it('paints the rows below a pole when the destination reaches past it', () => {
    // The middle row of [0, 60, 30, 130] lies at 95N, where nothing transforms.
    const src = smooth(512, 512);
    const dstBbox: Bbox = [0, 60, 30, 130];
    const dstSize: [number, number] = [100, 100];
    assert.ok(separableAxes([512, 512], WORLD_MERC, MERC, dstSize, dstBbox, WGS84), 'the axes path is taken');
    const out = reprojectRaster(src, WORLD_MERC, MERC, dstBbox, dstSize, WGS84, { method: 'bicubic' });
    for (let y = 0; y < 100; y++) {
      const lat = 130 - (y + 0.5) * 0.7;
      for (const x of [0, 50, 99]) {
        const a = getPixel(out, x, y)[3];
        if (lat < 85) assert.equal(a, 255, `row ${y} (${lat.toFixed(2)}N) is painted`);
        if (lat > 85.06) assert.equal(a, 0, `row ${y} (${lat.toFixed(2)}N) is beyond the source`);
      }
    }
  });

  it('agrees with a fine mesh within rounding, and leaves samples outside the source as the fill', () => {
    const srcBbox = WGS84.transformBbox([1, 45, 17, 57], MERC);
    const src = smooth(640, 800);
    const dstBbox: Bbox = [0, 44, 16, 56]; // west and south of the source: fill there
    const dstSize: [number, number] = [320, 240];
    const fill: Rgba = [9, 8, 7, 255];
    for (const method of ['nearest', 'bilinear', 'bicubic'] as ResamplingMethod[]) {
      const byAxes = reprojectRaster(src, srcBbox, MERC, dstBbox, dstSize, WGS84, { method, fill });
      const mesh = transformMesh([640, 800], srcBbox, MERC, dstSize, dstBbox, WGS84, 0.01);
      const byMesh = reprojectRaster(src, srcBbox, MERC, dstBbox, dstSize, WGS84, { method, fill, mesh });
      let worst = 0;
      let fills = 0;
      for (let i = 0; i < byAxes.data.length; i += 4) {
        const a = byAxes.data.subarray(i, i + 4);
        const b = byMesh.data.subarray(i, i + 4);
        if (a[0] === 9 && a[1] === 8 && a[2] === 7) fills++;
        for (let c = 0; c < 4; c++) worst = Math.max(worst, Math.abs(a[c] - b[c]));
      }
      // nearest may pick the neighbour where a centre lies on a pixel edge
      assert.ok(worst <= (method === 'nearest' ? 6 : 2), `${method}: largest difference ${worst}`);
      assert.ok(fills > 320 * 15, `${method}: the margin outside the source keeps the fill (${fills})`);
      assert.deepEqual([...getPixel(byAxes, 2, 2)], fill);
    }
  });

  it('gives the same pixels from the source window as from the whole source', () => {
    const srcBbox = WGS84.transformBbox([1, 45, 17, 57], MERC);
    const src = smooth(640, 800);
    const dstBbox: Bbox = [6, 48, 9, 51];
    const dstSize: [number, number] = [150, 150];
    const whole = reprojectRaster(src, srcBbox, MERC, dstBbox, dstSize, WGS84, { method: 'bicubic' });
    const axes = separableAxes([640, 800], srcBbox, MERC, dstSize, dstBbox, WGS84)!;
    const { window: [x0, y0, x1, y1], axes: moved } = axesSourceWindow(axes, 640, 800);
    assert.ok(x1 - x0 < 400 && y1 - y0 < 400, 'the window is a part of the source');
    const part = createRaster(x1 - x0, y1 - y0);
    for (let y = y0; y < y1; y++) part.data.set(src.data.subarray((y * 640 + x0) * 4, (y * 640 + x1) * 4), (y - y0) * (x1 - x0) * 4);
    const resX = (srcBbox[2] - srcBbox[0]) / 640;
    const resY = (srcBbox[3] - srcBbox[1]) / 800;
    const partBbox: Bbox = [srcBbox[0] + x0 * resX, srcBbox[3] - y1 * resY, srcBbox[0] + x1 * resX, srcBbox[3] - y0 * resY];
    const fromPart = reprojectRaster(part, partBbox, MERC, dstBbox, dstSize, WGS84, { method: 'bicubic', axes: moved });
    assert.deepEqual(fromPart.data, whole.data);
  });
});
