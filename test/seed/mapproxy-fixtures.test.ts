/**
 * Our seeder against MapProxy 1.15's own mapproxy-seed: the same configs
 * (test/seed/fixtures, made by make-fixtures.py) must leave the same tiles on
 * disk after the same upstream requests. MapProxy is not needed to run this.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listFiles, seedIn, startSeedUpstream, type SeedUpstream } from './helpers.ts';
import type { SeedArgs } from '../../src/seed/run-seed.ts';

const FIXTURES = path.join(import.meta.dirname, 'fixtures');

interface Expected {
  argv: string[];
  exit: number;
  tiles: Record<string, string[]>;
  upstreamRequests: number;
  refreshed?: string[];
}

/** mapproxy-seed's argv (after -f/-s) as our options. */
function argsOf(argv: string[]): Partial<SeedArgs> {
  const a: Partial<SeedArgs> = {};
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => argv[++i];
    if (v === '-f' || v === '-s') next();
    else if (v === '-c') a.concurrency = Math.max(2, Number(next()));
    else if (v === '--seed') a.seedNames = [...(a.seedNames ?? []), next()];
    else if (v === '--cleanup') a.cleanupNames = [...(a.cleanupNames ?? []), next()];
    else if (v === '-l') a.skipGeomsForLastLevels = Number(next());
    else if (v === '--skip-uncached') a.skipUncached = true;
    else if (v !== 'mapproxy-seed') throw new Error(`fixture argument ${v} not mapped`);
  }
  return a;
}

/** Tiles per cache directory below cache_data (lock files left out). */
function tilesByCache(dir: string): Record<string, string[]> {
  const root = path.join(dir, 'cache_data');
  const out: Record<string, string[]> = {};
  if (!fs.existsSync(root)) return out;
  for (const d of fs.readdirSync(root)) {
    if (d === 'tile_locks' || d === 'locks') continue;
    const files = listFiles(path.join(root, d)).filter((f) => !f.endsWith('.lck'));
    out[d] = files;
  }
  return out;
}

function copyCase(name: string, up: SeedUpstream): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `mp-fix-${name}-`));
  for (const f of fs.readdirSync(path.join(FIXTURES, name))) {
    if (f === 'expected.json' || f === 'case.txt') continue;
    const text = fs.readFileSync(path.join(FIXTURES, name, f), 'utf8');
    fs.writeFileSync(path.join(dir, f), text.replaceAll('@UPSTREAM@', up.url));
  }
  return dir;
}

const cases = fs.readdirSync(FIXTURES).filter((d) => fs.existsSync(path.join(FIXTURES, d, 'expected.json'))).sort();

describe('seeding as MapProxy 1.15 seeds (fixtures)', () => {
  let up: SeedUpstream;
  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await up.stop();
  });

  it('has the fixtures', () => {
    assert.ok(cases.length >= 12, cases.join(','));
  });

  for (const name of cases) {
    it(name, async () => {
      const expected = JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'expected.json'), 'utf8')) as Expected;
      const extra = fs.existsSync(path.join(FIXTURES, name, 'args.json')) ? JSON.parse(fs.readFileSync(path.join(FIXTURES, name, 'args.json'), 'utf8')) : {};
      const dir = copyCase(name, up);
      try {
        if (extra.prepare) {
          const prep = await seedIn(dir, { seedConf: 'seed.yaml', ...argsOf(extra.prepare) });
          assert.equal(prep.code, 0, prep.err);
          const now = Date.now() / 1000;
          // prepared tiles are a little older than the main run, so that rewritten ones stand out
          for (const [cache, tiles] of Object.entries(tilesByCache(dir))) for (const t of tiles) fs.utimesSync(path.join(dir, 'cache_data', cache, t), now - 2, now - 2);
          for (const [rel, delta] of Object.entries(extra.touch ?? {})) fs.utimesSync(path.join(dir, 'cache_data', rel), now + Number(delta), now + Number(delta));
        }
        const started = Date.now() / 1000;
        up.requests.length = 0;
        const r = await seedIn(dir, { seedConf: 'seed.yaml', ...argsOf(expected.argv) });
        assert.equal(r.code, expected.exit, r.err);
        const got = tilesByCache(dir);
        const want = { ...expected.tiles };
        if (name === 'cleanup-remove-all') {
          // MapProxy 1.15 removes nothing for remove_all with a coverage (its remove timestamp 0 makes no tile
          // old enough); we remove what was asked: the meta tiles of levels 3-4 that meet the coverage
          const removed = want.cov_cache_EPSG3857.filter((t) => !got.cov_cache_EPSG3857.includes(t));
          assert.ok(removed.length > 0);
          assert.ok(removed.every((t) => t.startsWith('03/') || t.startsWith('04/')), removed.join(' '));
          assert.ok(got.cov_cache_EPSG3857.every((t) => want.cov_cache_EPSG3857.includes(t)));
          delete want.cov_cache_EPSG3857;
          delete got.cov_cache_EPSG3857;
        }
        assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort());
        for (const k of Object.keys(want)) assert.deepEqual(got[k], want[k], `${name}: ${k}`);
        assert.equal(up.requests.length, expected.upstreamRequests, `${name}: upstream requests`);
        if (expected.refreshed) {
          const refreshed: string[] = [];
          for (const [cache, tiles] of Object.entries(got)) for (const t of tiles) if (fs.statSync(path.join(dir, 'cache_data', cache, t)).mtimeMs / 1000 >= started - 0.01) refreshed.push(`${cache}/${t}`);
          assert.deepEqual(refreshed.sort(), [...expected.refreshed].sort(), `${name}: refreshed tiles`);
        }
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
