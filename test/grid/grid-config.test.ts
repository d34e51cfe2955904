/** buildGrids: built-ins, inheritance, defaults and ConfigErrors that name the key path. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors.ts';
import { buildGrids, DEFAULT_GRIDS, parseBbox } from '../../src/grid/grid-config.ts';
import { assertAllClose } from './helpers.ts';

const M = 20037508.342789244;

/** Asserts that building `grids` throws a ConfigError whose message starts with `prefix`. */
function throwsAt(grids: Record<string, unknown>, prefix: string, re?: RegExp): void {
  assert.throws(
    () => buildGrids(grids, {}),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.ok(e.message.startsWith(prefix), `'${e.message}' should start with '${prefix}'`);
      if (re) assert.match(e.message, re);
      return true;
    },
  );
}

describe('buildGrids', () => {
  it('always has the three built-in grids', () => {
    const grids = buildGrids(undefined, {});
    assert.deepEqual([...grids.keys()], Object.keys(DEFAULT_GRIDS));
    const wm = grids.get('GLOBAL_WEBMERCATOR')!;
    assert.equal(wm.origin, 'nw');
    assert.equal(wm.srs.code, 'EPSG:3857');
    assert.deepEqual([...wm.bbox], [-M, -M, M, M]);
    assert.equal(wm.levels, 20);
    const gm = grids.get('GLOBAL_MERCATOR')!;
    assert.equal(gm.origin, 'sw');
    assert.equal(gm.srs.code, 'EPSG:900913');
    assert.equal(gm.resolution(0), 156543.03392804097);
    const gg = grids.get('GLOBAL_GEODETIC')!;
    assert.equal(gg.resolution(0), 1.40625);
    assert.deepEqual(gg.gridSizes[0], [1, 1]);
    assert.deepEqual(gg.gridSizes[1], [2, 1]);
  });

  it('lets a user grid replace a built-in entirely', () => {
    const g = buildGrids({ GLOBAL_MERCATOR: { srs: 'EPSG:3857', num_levels: 3 } }, {}).get('GLOBAL_MERCATOR')!;
    assert.equal(g.levels, 3);
    assert.equal(g.srs.code, 'EPSG:3857');
  });

  it('uses the key as name unless name is set; name is not inherited', () => {
    const grids = buildGrids({ a: { base: 'GLOBAL_WEBMERCATOR' }, b: { base: 'c' }, c: { base: 'GLOBAL_MERCATOR', name: 'see' } }, {});
    assert.equal(grids.get('a')!.name, 'a');
    assert.equal(grids.get('b')!.name, 'b');
    assert.equal(grids.get('c')!.name, 'see');
  });

  it('inherits through chains of base grids, own keys winning', () => {
    const grids = buildGrids(
      {
        child: { base: 'parent', tile_size: [512, 512] },
        parent: { base: 'GLOBAL_WEBMERCATOR', num_levels: 10, origin: 'sw' },
      },
      {},
    );
    const c = grids.get('child')!;
    assert.equal(c.levels, 10);
    assert.equal(c.origin, 'sw');
    assert.deepEqual([...c.tileSize], [512, 512]);
    assert.equal(c.srs.code, 'EPSG:3857');
    assert.equal(c.resolution(0), (2 * M) / 512);
  });

  it('detects base cycles and unknown bases', () => {
    throwsAt({ a: { base: 'b' }, b: { base: 'a' } }, 'grids.b.base: circular base grids: a -> b -> a');
    throwsAt({ a: { base: 'a' } }, 'grids.a.base: circular');
    throwsAt({ a: { base: 'nope' } }, "grids.a.base: unknown base grid 'nope'");
  });

  it('falls back to global tile size, stretch and shrink factors', () => {
    const grids = buildGrids(
      { g: { srs: 'EPSG:3857', origin: 'nw' }, h: { srs: 'EPSG:3857', stretch_factor: 1.3, max_shrink_factor: 2 } },
      { tileSize: [512, 512], stretchFactor: 1.2, maxShrinkFactor: 3 },
    );
    const g = grids.get('g')!;
    assert.deepEqual([...g.tileSize], [512, 512]);
    assert.equal(g.stretchFactor, 1.2);
    assert.equal(g.maxShrinkFactor, 3);
    assert.equal(grids.get('h')!.stretchFactor, 1.3);
    assert.equal(grids.get('h')!.maxShrinkFactor, 2);
    // built-ins follow globals too, as in MapProxy
    assert.deepEqual([...grids.get('GLOBAL_MERCATOR')!.tileSize], [512, 512]);
  });

  it('accepts bbox as list or string, with bbox_srs', () => {
    const g = buildGrids({ g: { srs: 'EPSG:4326', bbox: ' 5, 45,15 ,55', origin: 'nw' } }, {}).get('g')!;
    assert.deepEqual([...g.bbox], [5, 45, 15, 55]);
    const u = buildGrids({ u: { srs: 'EPSG:25832', bbox: [5.5, 47, 15.5, 55.5], bbox_srs: 'EPSG:4326', num_levels: 12 } }, {}).get('u')!;
    // MapProxy 1.15: (233921.88415498222, 5205649.347624754, 994091.6959524213, 6169647.100448116)
    assertAllClose(u.bbox, [233921.88415498222, 5205649.347624754, 994091.6959524213, 6169647.100448116], 'bbox', 1e-12);
    assert.deepEqual(parseBbox(['1', 2, '3.5', 4], 'x'), [1, 2, 3.5, 4]);
  });

  it('warns about a missing origin and unknown keys', () => {
    const warnings: string[] = [];
    buildGrids({ g: { srs: 'EPSG:3857', colour: 'red' } }, { warn: (p, m) => warnings.push(`${p}: ${m}`) });
    assert.ok(warnings.some((w) => w.startsWith('grids.g.origin: grid g does not have an origin')));
    assert.ok(warnings.some((w) => w.startsWith("grids.g.colour: unknown grid option 'colour'")));
    assert.ok(!warnings.some((w) => w.includes('GLOBAL_')));
  });

  it('supports align_resolutions_with', () => {
    const g = buildGrids(
      { g: { srs: 'EPSG:3857', bbox: [0, 0, 1000000, 1000000], align_resolutions_with: 'GLOBAL_WEBMERCATOR', origin: 'nw' } },
      {},
    ).get('g')!;
    // MapProxy 1.15: the webmercator resolutions <= 1e6/256, i.e. from level 6
    assert.equal(g.resolution(0), 2445.98490512564);
    assert.equal(g.levels, 14);
  });

  it('puts the config path in front of grid errors', () => {
    throwsAt({ g: { srs: 'EPSG:25832' } }, 'grids.g: need a bbox for grid with EPSG:25832');
    throwsAt({ g: { srs: 'EPSG:999999' } }, 'grids.g.srs:');
    throwsAt({ g: { srs: ['EPSG:3857'] } }, 'grids.g.srs: expected an SRS code');
    throwsAt({ g: { bbox_srs: 'FOO:1' } }, 'grids.g.bbox_srs:');
  });

  it('rejects wrong values naming the key', () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ res_factor: 'two' }, "grids.g.res_factor: expected a number or 'sqrt2'"],
      [{ res_factor: 1 }, 'grids.g.res_factor: must be greater than 1'],
      [{ res: 5 }, 'grids.g.res: expected a list of resolutions'],
      [{ res: [100, 'x'] }, 'grids.g.res[1]: expected a positive number'],
      [{ res: [['a', 100]] }, 'grids.g.res: named resolutions are not supported'],
      [{ res: [100, 50], min_res: 100 }, 'grids.g.res: cannot be combined with min_res'],
      [{ min_res: -1 }, 'grids.g.min_res: expected a positive number'],
      [{ max_res: '10' }, 'grids.g.max_res: expected a positive number'],
      [{ num_levels: 2.5 }, 'grids.g.num_levels: expected a positive integer'],
      [{ num_levels: 1, max_res: 10 }, 'grids.g.num_levels: must be at least 2 together with max_res'],
      [{ threshold_res: 100 }, 'grids.g.threshold_res: expected a list of resolutions'],
      [{ threshold_res: [100, 0] }, 'grids.g.threshold_res[1]: expected a positive number'],
      [{ stretch_factor: 'big' }, 'grids.g.stretch_factor: expected a positive number'],
      [{ max_shrink_factor: 0 }, 'grids.g.max_shrink_factor: expected a positive number'],
      [{ origin: 'top' }, "grids.g.origin: unknown origin value 'top'"],
      [{ tile_size: [256] }, 'grids.g.tile_size: expected [width, height]'],
      [{ tile_size: [256, 0] }, 'grids.g.tile_size: expected [width, height]'],
      [{ bbox: [1, 2, 3] }, 'grids.g.bbox: expected [minx, miny, maxx, maxy]'],
      [{ bbox: '1,2,x,4' }, 'grids.g.bbox: expected four numbers'],
      [{ bbox: [10, 0, 0, 10] }, 'grids.g.bbox: minx/miny must be smaller'],
      [{ name: 3 }, 'grids.g.name: expected a grid name string'],
      [{ base: ['GLOBAL_MERCATOR'] }, 'grids.g.base: expected a grid name string'],
    ];
    for (const [conf, prefix] of cases) throwsAt({ g: { srs: 'EPSG:3857', ...conf } }, prefix);
  });

  it('reports an error inherited from a base at the base', () => {
    throwsAt({ child: { base: 'parent' }, parent: { srs: 'EPSG:3857', res_factor: 'x' } }, 'grids.parent.res_factor');
  });

  it('uses the path prefix it is given', () => {
    assert.throws(() => buildGrids({ g: { origin: 'x' } }, {}, 'conf.grids'), /^ConfigError: conf\.grids\.g\.origin|conf\.grids\.g\.origin/);
    assert.throws(() => buildGrids([] as never, {}), /grids: expected a mapping/);
    assert.throws(() => buildGrids({ g: 5 }, {}), /grids\.g: expected a mapping/);
  });

  it('does not modify the given config', () => {
    const conf = { g: { srs: 3857, base: 'GLOBAL_MERCATOR' } };
    buildGrids(conf, {});
    assert.deepEqual(conf, { g: { srs: 3857, base: 'GLOBAL_MERCATOR' } });
  });
});
