/** mapproxy seed as a process: kill -9 then --continue, --duration, Ctrl-C, exit codes, the walk's progress arithmetic. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { basicConfig, listFiles, makeCase, startSeedUpstream, type SeedUpstream } from './helpers.ts';
import { canSkip, statusSymbol, type ProgressId } from '../../src/seed/walker.ts';
import { SafeProgress } from '../../src/seed/progress.ts';
import { CacheLock } from '../../src/seed/cache-lock.ts';
import { SeedProcesses } from '../../src/seed/seed-processes.ts';
import { decodeImage } from '../../src/image/codec.ts';

const MAIN = path.resolve(import.meta.dirname, '../../cli/main.ts');

interface Proc {
  pid: number;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>;
  kill(sig: NodeJS.Signals): void;
}

function runCli(dir: string, args: string[]): Proc {
  const child = spawn(process.execPath, [MAIN, 'seed', ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, out, err })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  void done.then(() => clearTimeout(timer));
  return { pid: child.pid!, done, kill: (s) => child.kill(s) };
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

const SEED = 'seeds:\n  s: {caches: [c], levels: {from: 0, to: 5}}\n';
// 1 + 1 + 1 + 4 + 16 + 64 meta tiles
const META_TILES = 87;
const TILES = 1 + 4 + 16 + 64 + 256 + 1024;

describe('mapproxy seed process', () => {
  let up: SeedUpstream;
  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await up.stop();
  });

  it('resumes after kill -9 with --continue: no finished part redone, no partial tile', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED }, up);
    const cache = path.join(dir, 'cache_data/c_EPSG3857');
    up.requests.length = 0;
    // slow enough that the run (87 meta tiles, 2 at a time) lasts about 2.6 s: the progress file is written once a second
    up.delayMs = 60;
    try {
      const p = runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', '2', '--progress-file', 'progress.json']);
      // kill once a good part is done and the progress file says where
      const reached = await waitFor(() => up.requests.length >= 45 && fs.existsSync(path.join(dir, 'progress.json')), 30_000);
      assert.ok(reached, 'the seed made progress');
      process.kill(p.pid, 'SIGKILL');
      const r1 = await p.done;
      assert.equal(r1.signal, 'SIGKILL');
      const firstRun = up.requests.length;
      assert.ok(firstRun < META_TILES, `killed before the end (${firstRun})`);
      const progress = JSON.parse(fs.readFileSync(path.join(dir, 'progress.json'), 'utf8'));
      assert.equal(progress.version, 1);
      up.delayMs = 0;
      const p2 = runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', '2', '--continue', '--progress-file', 'progress.json']);
      const r2 = await p2.done;
      assert.equal(r2.code, 0, r2.err);
      const files = listFiles(cache);
      assert.equal(files.length, TILES, 'every tile there');
      assert.ok(files.every((f) => f.endsWith('.png')), 'no temp files left');
      // the second run asked only for what the first had not finished (plus at most the jobs running at the kill)
      assert.ok(up.requests.length <= META_TILES + 2, `${up.requests.length} requests for ${META_TILES} meta tiles`);
      assert.ok(up.requests.length - firstRun < META_TILES - 10, `second run skipped finished parts (${up.requests.length - firstRun})`);
      assert.ok(!fs.existsSync(path.join(dir, 'progress.json')), 'progress file removed after a complete run');
      for (const f of files.filter((_, i) => i % 97 === 0)) {
        const img = await decodeImage(fs.readFileSync(path.join(cache, f)));
        assert.equal(img.width, 256, f);
      }
    } finally {
      up.delayMs = 0;
    }
  });

  it('--duration stops in time (exit 0) and a --continue run finishes', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED }, up);
    up.requests.length = 0;
    up.delayMs = 40;
    try {
      const r = await runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', '1', '--duration', '1s', '--continue', '--progress-file', 'p.json']).done;
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /stopped after --duration 00:00:01; the next run with --continue goes on from here/);
      assert.ok(up.requests.length < META_TILES, String(up.requests.length));
      assert.ok(fs.existsSync(path.join(dir, 'p.json')));
      up.delayMs = 0;
      const r2 = await runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '--continue', '--progress-file', 'p.json']).done;
      assert.equal(r2.code, 0, r2.err);
      assert.equal(listFiles(path.join(dir, 'cache_data/c_EPSG3857')).length, TILES);
    } finally {
      up.delayMs = 0;
    }
  });

  it('Ctrl-C finishes the running tiles and exits 2', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED }, up);
    up.requests.length = 0;
    up.delayMs = 40;
    try {
      const p = runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '--progress-file', 'p.json']);
      assert.ok(await waitFor(() => up.requests.length >= 5, 20_000));
      p.kill('SIGINT');
      const r = await p.done;
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.out, /exiting\.\.\./);
      assert.ok(listFiles(path.join(dir, 'cache_data/c_EPSG3857')).every((f) => f.endsWith('.png')));
    } finally {
      up.delayMs = 0;
    }
  });

  it('creates the tiles in worker processes (-c 3 --processes 2): every tile once, failures retried, no worker left', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED }, up);
    up.requests.length = 0;
    up.failNext = 2;
    const r = await runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', '3', '--processes', '2', '--retry-delay', '0.05']).done;
    assert.equal(r.code, 0, r.out + r.err);
    const files = listFiles(path.join(dir, 'cache_data/c_EPSG3857'));
    assert.equal(files.length, TILES);
    assert.ok(files.every((f) => f.endsWith('.png')));
    // two failed requests, then every meta tile exactly once
    assert.equal(up.requests.filter((q) => q.startsWith('FAILED')).length, 2);
    assert.equal(up.requests.filter((q) => !q.startsWith('FAILED')).length, META_TILES);
    assert.match(r.out, /retry in/);
    // the workers are started with this case's config path: none may outlive the seed
    const ps = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    assert.ok(!ps.split('\n').some((l) => l.includes('seed-worker') && l.includes(dir)), 'a seed worker outlived the seed');
    // --processes 0: all in the seed process, the same tiles
    const dir2 = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': SEED }, up);
    const r2 = await runCli(dir2, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', '2', '--processes', '0']).done;
    assert.equal(r2.code, 0, r2.err);
    assert.deepEqual(listFiles(path.join(dir2, 'cache_data/c_EPSG3857')), files);
  });

  it('with worker processes, a half-written meta tile is completed, a fresh cache asks nothing, refresh_before remakes only stale meta tiles', async () => {
    // the workers decide which tiles need work (the seed process sends every tile of a meta tile)
    const seed = 'seeds:\n  s: {caches: [c], levels: {from: 0, to: 3}}\n  refresh: {caches: [c], levels: {from: 0, to: 3}, refresh_before: {days: 5}}\n';
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': seed }, up);
    const args = (name: string) => ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '--seed', name, '-c', '2', '--processes', '2'];
    const cache = path.join(dir, 'cache_data/c_EPSG3857');
    const level = (z: number) => listFiles(cache).filter((f) => f.startsWith(`${String(z).padStart(2, '0')}/`));
    let r = await runCli(dir, args('s')).done;
    assert.equal(r.code, 0, r.out + r.err);
    const all = listFiles(cache);
    const l2 = level(2);
    assert.equal(l2.length, 16);
    // killed half-way through writing a level-2 meta tile: its main tile stays, the others are gone
    for (const f of l2.slice(1)) fs.rmSync(path.join(cache, f));
    up.requests.length = 0;
    r = await runCli(dir, args('s')).done;
    assert.equal(r.code, 0, r.out + r.err);
    assert.deepEqual(level(2), l2);
    assert.equal(up.requests.length, 1, 'one request, for the half-written meta tile');
    up.requests.length = 0;
    r = await runCli(dir, args('s')).done;
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(up.requests.length, 0, 'nothing to do');
    // the 16 tiles of one level-3 meta tile (x and y 0-3 of 8) older than refresh_before: that meta tile only is remade
    const l3 = level(3);
    const xy = (f: string) => {
      const p = f.replace(/\.png$/, '').split('/');
      return [Number(p.slice(1, 4).join('')), Number(p.slice(4, 7).join(''))];
    };
    const meta = l3.filter((f) => xy(f).every((v) => v < 4));
    assert.equal(meta.length, 16);
    const stale = Date.now() / 1000 - 10 * 86400;
    for (const f of meta) fs.utimesSync(path.join(cache, f), stale, stale);
    const before = new Map(l3.map((f) => [f, fs.statSync(path.join(cache, f)).mtimeMs]));
    up.requests.length = 0;
    r = await runCli(dir, args('refresh')).done;
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(up.requests.length, 1, `one request, for the stale meta tile:\n${r.out}`);
    const remade = l3.filter((f) => fs.statSync(path.join(cache, f)).mtimeMs !== before.get(f));
    assert.deepEqual(remade, meta);
    assert.deepEqual(listFiles(cache), all);
  });

  it('hands out -c plus one meta tile per worker, and never starts more workers than -c', () => {
    const inFlight = (count: number, c: number) => new SeedProcesses({ command: { cmd: 'unused', args: [] }, config: 'unused', count, upstreamRequests: c }).inFlight;
    assert.equal(inFlight(2, 2), 4);
    assert.equal(inFlight(2, 3), 5);
    assert.equal(inFlight(1, 1), 2);
    // --processes 4 -c 2: two workers
    assert.equal(inFlight(4, 2), 4);
  });

  it('keeps -c N upstream requests at most, as mapproxy-seed -c N, while workers hold a meta tile more', async () => {
    up.delayMs = 25;
    try {
      for (const [c, processes] of [['2', '2'], ['3', '2'], ['2', '3']]) {
        // levels 0-4: 1 + 1 + 1 + 4 + 16 meta tiles
        const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: {from: 0, to: 4}}\n' }, up);
        up.requests.length = 0;
        up.maxOpen = 0;
        const r = await runCli(dir, ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '-c', c, '--processes', processes]).done;
        assert.equal(r.code, 0, r.out + r.err);
        assert.equal(listFiles(path.join(dir, 'cache_data/c_EPSG3857')).length, 1 + 4 + 16 + 64 + 256);
        assert.equal(up.requests.length, 23, 'every meta tile once');
        assert.ok(up.maxOpen <= Number(c), `-c ${c} --processes ${processes}: ${up.maxOpen} upstream requests at once`);
        assert.ok(up.maxOpen >= 2, `-c ${c}: the workers ask in parallel (at most ${up.maxOpen} at once)`);
      }
    } finally {
      up.delayMs = 0;
    }
  });

  it('takes -c CACHE from cron lines written for mapproxy-seed, exits 2 on a config error', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig() }, up);
    const r = await runCli(dir, ['-f', 'mapproxy.yaml', '-c', 'c', '--grid', 'GLOBAL_WEBMERCATOR', '--levels', '0-2', '--bbox', '5.8,50.2,9.0,52.5']).done;
    assert.equal(r.code, 0, r.err);
    assert.equal(listFiles(path.join(dir, 'cache_data/c_EPSG3857')).length, 21);
    assert.doesNotMatch(r.out, /mapproxy\.source\.request/, 'request log is quiet as in mapproxy-seed');
    fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), 'caches:\n  c:\n    grids: [nope]\n');
    const bad = await runCli(dir, ['-f', 'mapproxy.yaml', '-c', 'c']).done;
    assert.equal(bad.code, 2);
    assert.match(bad.err, /mapproxy\.yaml:3/);
  });

  it('--reseed-file with --reseed-interval skips a run that is not due (exit 1)', async () => {
    const dir = makeCase({ 'mapproxy.yaml': basicConfig(), 'seed.yaml': 'seeds:\n  s: {caches: [c], levels: [0]}\n' }, up);
    const args = ['-f', 'mapproxy.yaml', '-s', 'seed.yaml', '--reseed-file', 'reseed', '--reseed-interval', '1d', '--progress-file', 'p.json'];
    const r1 = await runCli(dir, args).done;
    assert.equal(r1.code, 0, r1.err);
    assert.ok(fs.existsSync(path.join(dir, 'reseed')));
    const r2 = await runCli(dir, args).done;
    assert.equal(r2.code, 1);
    assert.match(r2.out, /no need for re-seeding/);
    const old = Date.now() / 1000 - 2 * 86400;
    fs.utimesSync(path.join(dir, 'reseed'), old, old);
    const r3 = await runCli(dir, args).done;
    assert.equal(r3.code, 0, r3.err);
    assert.ok(fs.statSync(path.join(dir, 'reseed')).mtimeMs / 1000 > old + 86400);
  });
});

describe('seed progress arithmetic', () => {
  it('canSkip as mapproxy-seed decides what --continue skips', () => {
    const t: [ProgressId | null, ProgressId | null, boolean][] = [
      [null, [[0, 4]], false],
      [[], [[0, 4]], true],
      [[[0, 4]], null, false],
      [[[0, 4]], [[0, 4]], false],
      [[[1, 4]], [[0, 4]], true],
      [[[0, 4]], [[0, 4], [0, 4]], false],
      [[[0, 4], [0, 4], [2, 4]], [[0, 4], [0, 4]], false],
      [[[0, 4], [0, 4], [2, 4]], [[0, 4], [0, 4], [1, 4]], true],
      [[[0, 4], [0, 4], [2, 4]], [[0, 4], [0, 4], [2, 4]], false],
      [[[0, 4], [0, 4], [2, 4]], [[0, 4], [0, 4], [3, 4]], false],
      [[[0, 4], [0, 4], [2, 4]], [[0, 4], [1, 4]], false],
      [[[0, 4], [0, 4], [2, 4]], [[0, 4], [1, 4], [0, 4]], false],
    ];
    for (const [old, cur, want] of t) assert.equal(canSkip(old, cur), want, JSON.stringify([old, cur]));
  });

  it('status symbols', () => {
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => statusSymbol(i, 4)), ['.', 'o', 'O', '0', 'X']);
    assert.deepEqual([...Array(11).keys()].map((i) => statusSymbol(i, 10)), ['.', '.', 'o', 'o', 'o', 'O', 'O', '0', '0', '0', 'X']);
  });

  it('stores a position only when every tile handed over before it is written', () => {
    const s = new SafeProgress();
    const a = s.start();
    const b = s.start();
    s.snapshot([[1, 4]]);
    assert.equal(s.latestSafe(), undefined);
    s.done(b);
    assert.equal(s.latestSafe(), undefined, 'job a still running');
    s.done(a);
    assert.deepEqual(s.latestSafe(), [[1, 4]]);
    const c = s.start();
    s.snapshot([[2, 4]]);
    s.snapshot([[3, 4]]);
    assert.deepEqual(s.latestSafe(), [[1, 4]]);
    s.done(c);
    assert.deepEqual(s.latestSafe(), [[3, 4]]);
  });

  it('--use-cache-lock: one seed per cache, a dead holder is taken over', async () => {
    const dir = makeCase({});
    const lock = new CacheLock(path.join(dir, '.mapproxy_seed.lck'), 10, 200);
    const a = await lock.acquire('osm', { wait: false });
    assert.ok(a);
    assert.equal(await lock.acquire('osm', { wait: false }), undefined);
    assert.equal(await lock.acquire('osm', { wait: true }), undefined, 'waits at most maxWait');
    const other = await lock.acquire('other', { wait: false });
    assert.ok(other);
    a.release();
    const again = await lock.acquire('osm', { wait: false });
    assert.ok(again);
    again.release();
    // a holder that died (pid not running) does not block
    fs.writeFileSync(path.join(dir, '.mapproxy_seed.lck', 'osm.lck'), '999999999');
    const taken = await lock.acquire('osm', { wait: false });
    assert.ok(taken);
    taken.release();
    other.release();
  });
});

describe('seed progress lines', () => {
  it('stamp log lines with the wall clock, not the monotonic clock', async () => {
    const { ProgressOutput } = await import('../../src/seed/progress.ts');
    let out = '';
    const o = new ProgressOutput({ quiet: 1, tty: false, out: (s) => void (out += s), logInterval: 60 });
    o.update({ label: 'seed s c/g', level: 3, done: 5, total: 10, fraction: 0.5, startedAt: performance.now() - 1000, now: performance.now(), failed: 0 }, true);
    assert.match(out, new RegExp(`^\\[${new Date().getFullYear()}-`));
    assert.match(out, /progress seed s c\/g level=3 tiles=5\/10 percent=50\.0 /);
  });
});
