/**
 * `mapproxy serve-multiapp` as a real process tree: a supervisor and 2
 * workers over a directory of configs, on a TCP port and a UNIX socket.
 * Every process started here is stopped by pid.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { alive, cli, debugTileConfig as config, get, killGroup, sample, scrapeUntil, sleep, startServe, type ServeProcess } from '../helpers/serve-process.ts';


const BROKEN = 'layers:\n  - name: x\n    title: X\n    sources: [nope]\n';
const tile = (app: string) => `/${app}/tiles/osm/webmercator/1/0/0.png`;

describe('mapproxy serve-multiapp -w 2', () => {
  let dir: string;
  let confDir: string;
  let sock: string;
  let pidFile: string;
  let mp: ServeProcess;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-multi-'));
    confDir = path.join(dir, 'conf');
    fs.mkdirSync(confDir);
    fs.writeFileSync(path.join(confDir, 'alpha.yaml'), config('Alpha'));
    fs.writeFileSync(path.join(confDir, 'beta.yaml'), config('Beta'));
    fs.writeFileSync(path.join(confDir, 'broken.yaml'), BROKEN);
    sock = path.join(dir, 'mapproxy.sock');
    pidFile = path.join(dir, 'mapproxy.pid');
    mp = await startServe(['serve-multiapp', confDir, '-b', '127.0.0.1:0', '-b', `unix:${sock}`, '-w', '2', '--debug', '--log-level', 'info', '--allow-listing', '--pid-file', pidFile], dir);
  });

  after(() => {
    if (mp) killGroup(mp.pid);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves each config under its prefix, from both workers', { timeout: 20_000 }, async () => {
    assert.equal(fs.readFileSync(pidFile, 'utf8').trim(), String(mp.pid));
    const workers = { alpha: new Set<string>(), beta: new Set<string>() };
    // SO_REUSEPORT spreads new connections by hash: bounded attempts until both workers served both apps
    for (let i = 0; i < 40 && (workers.alpha.size < 2 || workers.beta.size < 2); i++) {
      for (const app of ['alpha', 'beta'] as const) {
        const r = await get(mp.url + tile(app));
        assert.equal(r.status, 200, `${app}: ${r.text}`);
        assert.match(r.headers.get('content-type') ?? '', /^image\/png/);
        workers[app].add(r.worker!);
      }
    }
    assert.equal(workers.alpha.size, 2);
    assert.equal(workers.beta.size, 2);
    // the prefix is in every URL the app generates
    const caps = await get(`${mp.url}/beta/tms/1.0.0/`);
    assert.match(caps.text, /title="Beta"/);
    assert.match(caps.text, new RegExp(`href="${mp.url}/beta/tms/1\\.0\\.0/osm/webmercator"`));
    assert.equal((await get(`${mp.url}/nothere/tms/1.0.0/`)).status, 404);
  });

  it('a broken config answers its error on its own prefix; the others and the workers are unaffected', { timeout: 20_000 }, async () => {
    const from = mp.log().length;
    const seen = new Set<string>();
    // until both workers have tried (and failed) to load it
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const r = await get(`${mp.url}/broken/tms/1.0.0/`);
      assert.equal(r.status, 503);
      assert.match(r.text, /configuration error in broken\.yaml: .*broken\.yaml:4: layers\[0\]\.sources\[0\]: unknown source 'nope'/);
      assert.doesNotMatch(r.text, /\bat\s/);
      seen.add(r.worker!);
    }
    assert.equal(seen.size, 2);
    const after = new Set<string>();
    for (let i = 0; i < 40 && after.size < 2; i++) {
      const r = await get(mp.url + tile('alpha'));
      assert.equal(r.status, 200);
      after.add(r.worker!);
    }
    // the same two workers: none died or was replaced
    assert.deepEqual([...after].sort(), [...seen].sort());
    assert.doesNotMatch(mp.log().slice(from), /died|failed to boot|restarting worker/);
  });

  it('answers on the UNIX socket too, with the listing, /metrics and /healthz at the root', { timeout: 10_000 }, async () => {
    const r = await get('http://localhost/alpha/tms/1.0.0/', { unix: sock });
    assert.equal(r.status, 200);
    assert.match(r.text, /title="Alpha"/);
    const index = await get('http://localhost/', { unix: sock });
    for (const n of ['alpha', 'beta', 'broken']) assert.match(index.text, new RegExp(`href="/${n}/"`));
    const m = await get(`${mp.url}/metrics`);
    assert.equal(m.status, 200);
    assert.match(m.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    // the workers' figures reach the group's document within a second
    const text = await scrapeUntil(mp.url, (t) => sample(t, /^mapproxy_requests_total\{service="tiles",status="200"\} /) > 0, 5000);
    assert.match(text, /^mapproxy_workers 2$/m);
    assert.ok(sample(text, /^mapproxy_requests_total\{service="tiles",status="200"\} /) > 0, text);
    assert.deepEqual(JSON.parse((await get(`${mp.url}/healthz`)).text), { status: 'ok' });
  });

  it('SIGHUP replaces the workers, which serve a config file added and one changed meanwhile', { timeout: 20_000 }, async () => {
    const before = new Set<string>();
    for (let i = 0; i < 10; i++) before.add((await get(mp.url + tile('alpha'))).worker!);
    fs.writeFileSync(path.join(confDir, 'gamma.yaml'), config('Gamma'));
    fs.writeFileSync(path.join(confDir, 'broken.yaml'), config('Fixed'));
    const from = mp.log().length;
    process.kill(mp.pid, 'SIGHUP');
    assert.ok(await mp.waitForLog(/reloaded .*conf, workers \d+, \d+/, 10_000, from), mp.log().slice(from));
    assert.match(mp.log().slice(from), /4 configuration\(s\) in .*conf: alpha, beta, broken, gamma/);
    // the old workers drain and exit (bounded by the graceful timeout)
    for (const end = Date.now() + 10_000; [...before].some(alive) && Date.now() < end; ) await sleep(25);
    assert.ok(![...before].some(alive), 'the old workers have exited');
    const now = new Set<string>();
    for (let i = 0; i < 40 && now.size < 2; i++) {
      const r = await get(`${mp.url}/gamma/tms/1.0.0/`);
      assert.equal(r.status, 200, r.text);
      assert.match(r.text, /title="Gamma"/);
      now.add(r.worker!);
    }
    assert.equal(now.size, 2);
    for (const w of now) assert.ok(!before.has(w), `worker ${w} is from before the reload`);
    const fixed = await get(`${mp.url}/broken/tms/1.0.0/`);
    assert.equal(fixed.status, 200);
    assert.match(fixed.text, /title="Fixed"/);
  });

  it('SIGTERM drains and exits 0, removing the pid file and the socket', { timeout: 15_000 }, async () => {
    process.kill(mp.pid, 'SIGTERM');
    const code = await Promise.race([mp.exited, sleep(10_000).then(() => 'timeout')]);
    assert.equal(code, 0);
    assert.equal(fs.existsSync(pidFile), false);
    assert.equal(fs.existsSync(sock), false);
    assert.doesNotMatch(mp.log(), /^\s+at /m);
  });
});

describe('mapproxy serve-multiapp startup errors', () => {
  it('a missing directory exits with code 2 before starting workers; --admin-bind is not an option', { timeout: 20_000 }, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-serve-multi-bad-'));
    try {
      const r = spawnSync(process.execPath, [cli, 'serve-multiapp', path.join(dir, 'missing'), '-b', '127.0.0.1:0', '-w', '1'], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
      assert.equal(r.status, 2);
      assert.match(r.stderr, /error: no such directory: .*missing/);
      assert.doesNotMatch(r.stderr, /booting worker/);
      const a = spawnSync(process.execPath, [cli, 'serve-multiapp', dir, '--admin-bind', '127.0.0.1:0'], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
      assert.notEqual(a.status, 0);
      assert.match(a.stderr, /unknown option '--admin-bind'/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
