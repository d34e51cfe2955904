/**
 * `mapproxy serve` as a real process tree: a supervisor and 2 workers on a
 * TCP port and a UNIX socket, a debug source behind a file cache, a delaying
 * upstream for slow requests. Every process started here is stopped by pid.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { spawnSync } from 'node:child_process';
import { AcrossReplacements, alive, killGroup, sleep, spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { encodeImage } from '../../src/image/codec.ts';
import { createRaster } from '../../src/image/raster.ts';

const root = path.resolve(import.meta.dir, '../..');
const cli = path.join(root, 'cli', 'main.ts');

/** Upstream delays: a slow request finishes within --timeout, a very slow one does not. */
const SLOW_MS = 1000;
const VERY_SLOW_MS = 4000;
const TIMEOUT_S = 2;

function config(upstream: string, title: string, extraLayer = ''): string {
  return `
services:
  tms:
    use_grid_names: true
layers:
  - name: osm
    title: ${title}
    sources: [osm_cache]
  - name: slow
    title: Slow
    sources: [slow_cache]
  - name: veryslow
    title: Very slow
    sources: [veryslow_cache]
${extraLayer}
caches:
  osm_cache:
    grids: [webmercator]
    sources: [debug]
  slow_cache:
    grids: [webmercator]
    sources: [slow_tiles]
  veryslow_cache:
    grids: [webmercator]
    sources: [veryslow_tiles]
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
sources:
  debug:
    type: debug
  slow_tiles:
    type: tile
    url: ${upstream}/${SLOW_MS}/%(z)s/%(x)s/%(y)s.png
    grid: webmercator
  veryslow_tiles:
    type: tile
    url: ${upstream}/${VERY_SLOW_MS}/%(z)s/%(x)s/%(y)s.png
    grid: webmercator
globals:
  cache:
    base_dir: ./cache_data
  http:
    client_timeout: 20
`;
}

/** A running `mapproxy serve` and what it logged. */
type Served = ServeProcess;

/** Start `mapproxy serve ARGS` in its own process group (so after() can stop the whole tree by pid). */
const startServe = (args: string[], cwd: string): Served => spawnServe(['serve', ...args], cwd);

async function get(url: string, init: RequestInit & { unix?: string } = {}): Promise<{ status: number; worker: string | null; body: Uint8Array; headers: Headers }> {
  const r = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) } as RequestInit);
  const body = new Uint8Array(await r.arrayBuffer());
  return { status: r.status, worker: r.headers.get('x-mapproxy-worker'), body, headers: r.headers };
}

describe('mapproxy serve', () => {
  let dir: string;
  let cfg: string;
  let sock: string;
  let pidFile: string;
  let accessLog: string;
  let upstream: RunningServer;
  let up: string;
  let mp: Served;
  const tile = (layer: string, z: number, x: number, y: number) => `/tiles/${layer}/webmercator/${z}/${x}/${y}.png`;
  const tcp = (p: string) => get(mp.url + p);
  const unix = (p: string) => get(`http://localhost${p}`, { unix: sock });

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-'));
    const png = await encodeImage(createRaster(256, 256, [200, 40, 40, 255]), { format: 'png' });
    upstream = await serveHttp({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (req) => {
        await sleep(Number(new URL(req.url).pathname.split('/')[1]) || 0);
        return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      },
    });
    up = `http://127.0.0.1:${upstream.port}`;
    cfg = path.join(dir, 'mapproxy.yaml');
    fs.writeFileSync(cfg, config(up, 'First title'));
    sock = path.join(dir, 'mapproxy.sock');
    pidFile = path.join(dir, 'mapproxy.pid');
    accessLog = path.join(dir, 'access.log');
    const args = [cfg, '-b', '127.0.0.1:0', '-b', `unix:${sock}`, '-w', '2', '--debug', '--log-level', 'info'];
    mp = startServe([...args, '--timeout', String(TIMEOUT_S), '--access-log', accessLog, '--pid-file', pidFile], dir);
    expect(await mp.waitForLog(/listening at http:\/\/127\.0\.0\.1:(\d+)/, 15_000)).toBe(true);
    mp.url = `http://127.0.0.1:${/listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(mp.log())![1]}`;
  }, 20_000);

  afterAll(async () => {
    if (mp) killGroup(mp.pid);
    await upstream?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('writes the supervisor pid to --pid-file', () => {
    expect(fs.readFileSync(pidFile, 'utf8').trim()).toBe(String(mp.pid));
  });

  test('both workers answer, on the TCP port and on the UNIX socket', async () => {
    const seen = { tcp: new Set<string>(), unix: new Set<string>() };
    // SO_REUSEPORT spreads connections by hash: new connections each time, bounded attempts
    for (let i = 0; i < 40 && (seen.tcp.size < 2 || seen.unix.size < 2); i++) {
      const a = await get(mp.url + tile('osm', 1, 0, 0), { headers: { Connection: 'close' } });
      const b = await get(`http://localhost${tile('osm', 1, 0, 0)}`, { unix: sock, headers: { Connection: 'close' } });
      expect(a.status).toBe(200);
      expect(b.status).toBe(200);
      expect([...a.body.slice(0, 4)]).toEqual([0x89, 0x50, 0x4e, 0x47]);
      seen.tcp.add(a.worker!);
      seen.unix.add(b.worker!);
    }
    expect(seen.tcp.size).toBe(2);
    expect(seen.unix.size).toBe(2);
  }, 20_000);

  test('access log lines are in combined format', async () => {
    await get(mp.url + '/tiles/osm/webmercator/0/0/0.png?x="y"', { headers: { 'User-Agent': 'serve-test/1.0', Referer: 'http://example.org/map' } });
    let text = '';
    for (let i = 0; i < 40 && !text.includes('serve-test/1.0'); i++, await sleep(50)) text = fs.existsSync(accessLog) ? fs.readFileSync(accessLog, 'utf8') : '';
    const line = text.split('\n').find((l) => l.includes('serve-test/1.0'));
    expect(line).toMatch(
      /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET \/tiles\/osm\/webmercator\/0\/0\/0\.png\?x=(%22|\\")y(%22|\\") HTTP\/1\.1" 200 \d+ "http:\/\/example\.org\/map" "serve-test\/1\.0"$/,
    );
  }, 10_000);

  test('a request running longer than --timeout is answered 503', async () => {
    const t0 = Date.now();
    const r = await tcp(tile('veryslow', 2, 1, 1));
    expect(r.status).toBe(503);
    expect(new TextDecoder().decode(r.body)).not.toMatch(/\bat\s/);
    expect(Date.now() - t0).toBeLessThan(VERY_SLOW_MS - 500);
    expect(mp.log()).toMatch(/request timed out after 2 s, answered 503: GET \/tiles\/veryslow/);
  }, 10_000);

  test('SIGHUP with a changed config replaces the workers without a failed request', async () => {
    const before = new Set<string>();
    for (let i = 0; i < 10; i++) before.add((await get(mp.url + tile('osm', 1, 0, 0), { headers: { Connection: 'close' } })).worker!);
    const failures: string[] = [];
    const titles = new Set<string>();
    let ok = 0;
    let stop = false;
    const from = mp.log().length;
    // the UNIX socket never closes; on the TCP port a connection the kernel resets as an old worker
    // leaves is asked again, and the access log must show no worker handled it (see AcrossReplacements)
    const across = new AcrossReplacements();
    const fetcher = async (n: number) => {
      const viaUnix = n % 2 === 1;
      while (!stop) {
        try {
          const r = viaUnix ? await unix('/tms/1.0.0/') : await across.get(`${mp.url}/tms/1.0.0/`, (u) => get(u));
          if (r.status !== 200) failures.push(`status ${r.status}`);
          else ok++;
          const t = /title="([^"]*title)"/.exec(new TextDecoder().decode(r.body))?.[1];
          if (t) titles.add(t);
        } catch (e) {
          failures.push(`${viaUnix ? 'unix' : 'tcp'}: ${(e as Error).message}`);
        }
      }
    };
    const load = Array.from({ length: 8 }, (_, i) => fetcher(i));
    const deadline = setTimeout(() => (stop = true), 5000);
    await sleep(300);
    fs.writeFileSync(cfg, config(up, 'Second title', '  - name: osm2\n    title: New layer\n    sources: [osm_cache]\n'));
    process.kill(mp.pid, 'SIGHUP');
    const reloaded = await mp.waitForLog(/reloaded .*mapproxy\.yaml/, 4000, from);
    await sleep(400);
    stop = true;
    clearTimeout(deadline);
    await Promise.all(load);
    expect(reloaded).toBe(true);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
    if (across.reset.length) {
      // the old workers' lines are in the log once they have exited
      for (const end = Date.now() + 10_000; [...before].some(alive) && Date.now() < end; ) await sleep(50);
      across.assertNotHandled(fs.readFileSync(accessLog, 'utf8'));
    }
    expect(titles.has('First title') && titles.has('Second title')).toBe(true);
    // after the reload: only new workers, only the new config
    const r = await tcp(tile('osm2', 1, 0, 0));
    expect(r.status).toBe(200);
    expect(before.has(r.worker!)).toBe(false);
    expect(new TextDecoder().decode((await unix('/tms/1.0.0/')).body)).toContain('Second title');
  }, 15_000);

  test('SIGHUP with a broken config keeps the workers and logs why', async () => {
    const workerBefore = (await tcp(tile('osm2', 1, 0, 0))).worker;
    const from = mp.log().length;
    fs.writeFileSync(cfg, config(up, 'Third title').replace('sources: [debug]', 'sources: [nosuchsource]'));
    process.kill(mp.pid, 'SIGHUP');
    expect(await mp.waitForLog(/configuration has errors, keeping the running workers: .*mapproxy\.yaml:\d+: caches\.osm_cache\.sources\[0\]: unknown source 'nosuchsource'/, 5000, from)).toBe(true);
    const r = await tcp(tile('osm2', 1, 0, 0));
    expect(r.status).toBe(200);
    const pids = new Set<string>();
    for (let i = 0; i < 10; i++) pids.add((await get(mp.url + tile('osm', 1, 0, 0), { headers: { Connection: 'close' } })).worker!);
    expect(pids.has(workerBefore!)).toBe(true);
    expect(new TextDecoder().decode((await unix('/tms/1.0.0/')).body)).toContain('Second title');
    // put a good config back for the tests below
    fs.writeFileSync(cfg, config(up, 'Second title', '  - name: osm2\n    title: New layer\n    sources: [osm_cache]\n'));
  }, 10_000);

  test('a worker killed with SIGKILL is restarted', async () => {
    const victim = Number((await tcp(tile('osm', 1, 0, 0))).worker);
    const from = mp.log().length;
    process.kill(victim, 'SIGKILL');
    expect(await mp.waitForLog(new RegExp(`worker ${victim} died \\(signal SIGKILL\\)`), 5000, from)).toBe(true);
    const seen = new Set<string>();
    for (let i = 0; i < 60 && seen.size < 2; i++) {
      try {
        const r = await get(mp.url + tile('osm', 1, 0, 0), { headers: { Connection: 'close' } });
        if (r.status === 200) seen.add(r.worker!);
      } catch {
        /* a connection that hashed to the dead worker's socket before it went away */
      }
      await sleep(25);
    }
    expect(seen.has(String(victim))).toBe(false);
    expect(seen.size).toBe(2);
    expect(mp.log().slice(from)).toMatch(/restarting worker \d\/2 in \d+ ms/);
  }, 10_000);

  test('SIGTERM lets an in-flight request finish, then exits and removes the pid file and socket', async () => {
    const t0 = Date.now();
    const slow = tcp(tile('slow', 4, 3, 3));
    const slowUnix = unix(tile('slow', 4, 3, 4));
    await sleep(200);
    process.kill(mp.pid, 'SIGTERM');
    const [a, b] = await Promise.all([slow, slowUnix]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(SLOW_MS - 50);
    const code = await Promise.race([mp.exited, sleep(8000).then(() => 'timeout')]);
    expect(code).toBe(0);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(fs.existsSync(sock)).toBe(false);
    expect(mp.log()).toMatch(/SIGTERM: shutting down gracefully/);
    expect(mp.log()).not.toMatch(/^\s+at /m);
  }, 15_000);
});

describe('mapproxy serve --max-requests, --keepalive', () => {
  let dir: string;
  let upstream: RunningServer;
  let mp: Served | undefined;
  afterAll(async () => {
    if (mp) killGroup(mp.pid);
    await upstream?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a worker over its request limit is replaced without a failed request; long requests outlive --keepalive', async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-mr-'));
    const png = await encodeImage(createRaster(256, 256, [40, 40, 200, 255]), { format: 'png' });
    upstream = await serveHttp({
      hostname: '127.0.0.1',
      port: 0,
      fetch: async (req) => {
        await sleep(Number(new URL(req.url).pathname.split('/')[1]) || 0);
        return new Response(png, { headers: { 'Content-Type': 'image/png' } });
      },
    });
    const cfg = path.join(dir, 'mapproxy.yaml');
    fs.writeFileSync(cfg, config(`http://127.0.0.1:${upstream.port}`, 'T'));
    const log = path.join(dir, 'access.log');
    mp = startServe([cfg, '-b', '127.0.0.1:0', '-w', '1', '--max-requests', '5', '--keepalive', '1', '--timeout', '10', '--debug', '--access-log', log], dir);
    expect(await mp.waitForLog(/listening at http:\/\/127\.0\.0\.1:(\d+)/, 15_000)).toBe(true);
    const url = `http://127.0.0.1:${/listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(mp.log())![1]}`;
    // a request longer than the keep-alive idle time (Bun would cut it as idle)
    const long = get(`${url}/tiles/veryslow/webmercator/1/1/1.png`);
    const pids = new Set<string>();
    const statuses: number[] = [];
    // see AcrossReplacements: a reset connection is asked again if no worker handled it
    const across = new AcrossReplacements();
    for (let i = 0; i < 30 && pids.size < 3; i++) {
      const r = await across.get(`${url}/tiles/osm/webmercator/1/0/0.png`, (u) => get(u));
      statuses.push(r.status);
      pids.add(r.worker!);
      await sleep(30);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(pids.size).toBeGreaterThanOrEqual(2);
    expect(mp.log()).toMatch(/reached its request limit, starting its replacement/);
    expect((await long).status).toBe(200);
    if (across.reset.length) {
      // the replaced workers' lines are in the log once they have exited
      for (const end = Date.now() + 5000; [...pids].slice(0, -1).some(alive) && Date.now() < end; ) await sleep(50);
      across.assertNotHandled(fs.readFileSync(log, 'utf8'));
    }
  }, 20_000);
});

describe('mapproxy serve startup errors', () => {
  test('a broken config exits with code 2 and the ConfigError; its workers are stopped unannounced', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-bad-'));
    try {
      const file = path.join(dir, 'mapproxy.yaml');
      const pidFile = path.join(dir, 'mapproxy.pid');
      const sock = path.join(dir, 'mapproxy.sock');
      fs.writeFileSync(file, config('http://127.0.0.1:9', 'T').replace('sources: [debug]', 'sources: [osm_tile]'));
      const args = [cli, 'serve', file, '-b', '127.0.0.1:0', '-b', `unix:${sock}`, '-w', '2', '--pid-file', pidFile, '--log-level', 'debug'];
      const r = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      // once, as the supervisor's verdict, not once per worker
      expect(r.stderr.match(/mapproxy\.yaml:\d+: caches\.osm_cache\.sources\[0\]: unknown source 'osm_tile'/g)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/booting worker|failed to boot|restarting worker|listening at/);
      expect(r.stderr).not.toMatch(/^\s+at /m);
      // the workers that found the problem are gone before the supervisor exits, and so are its files
      const pids = [...r.stderr.matchAll(/worker (\d+) exited/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
      expect(fs.existsSync(pidFile)).toBe(false);
      expect(fs.existsSync(sock)).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  test('services.admin without a token on the public address exits with code 2', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-admin-'));
    try {
      const file = path.join(dir, 'mapproxy.yaml');
      fs.writeFileSync(file, config('http://127.0.0.1:9', 'T').replace('services:\n', 'services:\n  admin: {}\n'));
      const r = spawnSync(process.execPath, [cli, 'serve', file, '-b', '127.0.0.1:0', '-w', '2'], { cwd: dir, encoding: 'utf8', timeout: 20_000, env: { ...process.env, MAPPROXY_ADMIN_TOKEN: '' } });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/mapproxy\.yaml:\d+: services\.admin: the seeding API needs 'token' or 'token_file'/);
      expect(r.stderr).not.toMatch(/booting worker/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  test('a config warning is logged once, after the startup line', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-warn-'));
    let mp: Served | undefined;
    try {
      const file = path.join(dir, 'mapproxy.yaml');
      fs.writeFileSync(file, config('http://127.0.0.1:9', 'T').replace('    sources: [debug]\n', '    sources: [debug]\n    colour: red\n'));
      mp = startServe([file, '-b', '127.0.0.1:0', '-w', '2'], dir);
      expect(await mp.waitForLog(/listening at/, 15_000)).toBe(true);
      const log = mp.log();
      expect(log.match(/mapproxy\.yaml:\d+: caches\.osm_cache\.colour: unknown 'colour' in caches\.osm_cache/g)).toHaveLength(1);
      expect(log.indexOf("unknown 'colour'")).toBeGreaterThan(log.indexOf('(supervisor pid'));
      expect(log.indexOf("unknown 'colour'")).toBeLessThan(log.indexOf('booting worker'));
    } finally {
      if (mp) killGroup(mp.pid);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);

  test('bad options exit with code 2', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', 'x.yaml', '-w', '0'], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/invalid --workers '0'/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-opt-'));
    try {
      const file = path.join(dir, 'mapproxy.yaml');
      fs.writeFileSync(file, config('http://127.0.0.1:9', 'T'));
      const ini = spawnSync(process.execPath, [cli, 'serve', file, '-b', '127.0.0.1:0', '--log-config', path.join(dir, 'missing.ini')], { encoding: 'utf8', timeout: 20_000 });
      expect(ini.status).toBe(2);
      expect(ini.stderr).toMatch(/missing\.ini: log config file not found/);
      const tp = spawnSync(process.execPath, [cli, 'serve', file, '-b', '127.0.0.1:0', '--trusted-proxies', '10.0.0.0/99'], { encoding: 'utf8', timeout: 20_000 });
      expect(tp.status).toBe(2);
      expect(tp.stderr).toMatch(/10\.0\.0\.0\/99/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 20_000);
});
