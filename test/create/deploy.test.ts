import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCreate, type CreateOptions } from '../../src/create/create.ts';
import { DEBUG_CONFIG, freePort, startScript, which } from './helpers.ts';

const root = path.resolve(import.meta.dir, '../..');
const srcIndex = path.join(root, 'src', 'index.ts');

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-deploy-'));
  cleanup.push(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** The text a template writes to stdout. */
function render(o: CreateOptions): string {
  let out = '';
  let err = '';
  const code = runCreate({ ...o, dest: '-' }, { out: (t) => (out += t), err: (t) => (err += t) });
  assert.equal(code, 0, err);
  return out;
}

/** The value(s) of a key in the [Service] etc. sections of a unit file. */
function unitValues(unit: string, key: string): string[] {
  const joined = unit.replace(/\\\n\s*/g, '');
  return [...joined.matchAll(new RegExp(`^${key}=(.*)$`, 'gm'))].map((m) => m[1]);
}

/** A server script on a UNIX socket in dir, serving the debug config (for the reverse-proxy tests). */
async function mapproxyOnSocket(dir: string): Promise<string> {
  const config = path.join(dir, 'mapproxy.yaml');
  fs.writeFileSync(config, DEBUG_CONFIG);
  const script = path.join(dir, 'server.ts');
  assert.equal(runCreate({ template: 'wsgi-app', mapproxyConf: config, lib: srcIndex, dest: script }, { out: () => {}, err: () => {} }), 0);
  const sock = path.join(dir, 'mp.sock');
  const s = await startScript(process.execPath, [script], { MAPPROXY_BIND: `unix:${sock}` });
  cleanup.push(() => s.stop());
  return sock;
}

/** Start a long-running child, stopped by PID after the test. */
function spawnStopped(cmd: string, args: string[], env: Record<string, string> = {}): { err: () => string } {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  cleanup.push(async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid, 'SIGTERM');
    await exited;
  });
  return { err: () => err };
}

/** GET until the server answers (bounded), then return the answer. */
async function getWhenUp(url: string, headers: Record<string, string>, why: () => string): Promise<Response> {
  for (let i = 0; i < 100; i++) {
    try {
      return await fetch(url, { headers, redirect: 'manual' });
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`no answer from ${url}: ${why()}`);
}

/** Check what the proxy passes on: mapproxy writes URLs with the public host, port and prefix. */
async function checkProxied(base: string, host: string): Promise<void> {
  const caps = await getWhenUp(`${base}/mapproxy/tms/1.0.0/`, { Host: host }, () => '');
  assert.equal(caps.status, 200);
  assert.match(await caps.text(), new RegExp(`href="http://${host.replace(/\./g, '\\.')}/mapproxy/tms/1\\.0\\.0/dbg/webmercator"`));
  const tile = await fetch(`${base}/mapproxy/tiles/dbg/webmercator/1/0/1.png`, { headers: { Host: host } });
  assert.equal(tile.status, 200);
  assert.equal(tile.headers.get('content-type'), 'image/png');
  await tile.arrayBuffer();
  const bare = await fetch(`${base}/mapproxy`, { headers: { Host: host }, redirect: 'manual' });
  assert.ok([301, 308].includes(bare.status), `redirect for the bare prefix, got ${bare.status}`);
  assert.match(bare.headers.get('location') ?? '', /\/mapproxy\/$/);
  await bare.arrayBuffer();
}

describe('mapproxy create -t systemd', () => {
  it('writes a hardened unit for mapproxy serve with the given paths', () => {
    const unit = render({ template: 'systemd', user: 'tiles', config: '/srv/mapproxy/mapproxy.yaml', cacheDir: '/data/tiles', bin: '/opt/mapproxy/bin/mapproxy', workers: '8', logConfig: '/srv/mapproxy/log.ini' });
    assert.deepEqual(unitValues(unit, 'ExecStart'), [
      '/opt/mapproxy/bin/mapproxy serve --bind unix:/run/mapproxy/mapproxy.sock --workers 8 --access-log /var/log/mapproxy/access.log --error-log /var/log/mapproxy/error.log --log-config /srv/mapproxy/log.ini /srv/mapproxy/mapproxy.yaml',
    ]);
    const expect: Record<string, string> = {
      User: 'tiles',
      Group: 'tiles',
      RuntimeDirectory: 'mapproxy',
      LogsDirectory: 'mapproxy',
      ProtectSystem: 'strict',
      ReadWritePaths: '/data/tiles',
      NoNewPrivileges: 'yes',
      PrivateTmp: 'yes',
      ProtectHome: 'yes',
      ExecReload: '/bin/kill -HUP $MAINPID',
      Restart: 'on-failure',
      WorkingDirectory: '/srv/mapproxy',
      WantedBy: 'multi-user.target',
    };
    for (const [k, v] of Object.entries(expect)) assert.deepEqual(unitValues(unit, k), [v], k);
    assert.deepEqual(unitValues(unit, 'MemoryDenyWriteExecute'), [], 'the JIT needs W+X memory');
  });

  it('keeps other socket and log places writable, and home directories readable', () => {
    const unit = render({ template: 'systemd', bind: 'unix:/srv/sock/mp.sock', logDir: '/srv/logs', cacheDir: '/home/maps/cache' });
    assert.deepEqual(unitValues(unit, 'ReadWritePaths'), ['/home/maps/cache /srv/sock /srv/logs']);
    assert.deepEqual(unitValues(unit, 'LogsDirectory'), []);
    assert.deepEqual(unitValues(unit, 'ProtectHome'), ['read-only']);
  });

  it('passes systemd-analyze verify', (t) => {
    const analyze = which('systemd-analyze');
    if (!analyze) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    const dir = tmpDir();
    const file = path.join(dir, 'mapproxy.service');
    // verify wants an existing executable for ExecStart
    const r = runCreate({ template: 'systemd', dest: file, bin: process.execPath, config: path.join(dir, 'mapproxy.yaml'), cacheDir: path.join(dir, 'cache'), logConfig: path.join(dir, 'log.ini') }, { out: () => {}, err: () => {} });
    assert.equal(r, 0);
    const v = spawnSync(analyze, ['verify', file], { encoding: 'utf8', timeout: 30000 });
    const ours = (v.stderr + v.stdout).split('\n').filter((l) => l.includes('mapproxy.service'));
    assert.deepEqual(ours, [], 'no complaints about the unit');
    assert.equal(v.status, 0, v.stderr);
  });
});

describe('mapproxy create -t nginx', () => {
  it('proxies a sub-path to the socket with the forwarding headers', () => {
    const conf = render({ template: 'nginx' });
    assert.match(conf, /upstream mapproxy \{\s*# [^\n]*\n\s*server unix:\/run\/mapproxy\/mapproxy\.sock;/);
    assert.match(conf, /location \/mapproxy\/ \{[^}]*proxy_pass http:\/\/mapproxy\/;/);
    for (const h of ['Host \\$host', 'X-Forwarded-For \\$proxy_add_x_forwarded_for', 'X-Forwarded-Proto \\$scheme', 'X-Forwarded-Host \\$http_host', 'X-Script-Name /mapproxy']) {
      assert.match(conf, new RegExp(`proxy_set_header ${h};`));
    }
    const atRoot = render({ template: 'nginx', path: '/', upstream: '10.0.0.5:8080', serverName: 'tiles.example.org' });
    assert.match(atRoot, /server 10\.0\.0\.5:8080;/);
    assert.match(atRoot, /location \/ \{\s*proxy_pass http:\/\/mapproxy;/);
    assert.match(atRoot, /server_name tiles\.example\.org;/);
    assert.doesNotMatch(atRoot, /X-Script-Name/);
  });

  it('passes nginx -t and serves through nginx with the public host and prefix', async (t) => {
    const nginx = which('nginx');
    if (!nginx) {
      t.skip('nginx is not installed');
      return;
    }
    const dir = tmpDir();
    const sock = await mapproxyOnSocket(dir);
    const port = await freePort();
    const site = render({ template: 'nginx', upstream: `unix:${sock}` }).replace('listen 80;', `listen 127.0.0.1:${port};`);
    fs.writeFileSync(path.join(dir, 'site.conf'), site);
    const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `  ${k}_temp_path ${dir}/${k};`).join('\n');
    const main = `${process.getuid?.() === 0 ? 'user root;\n' : ''}pid ${dir}/nginx.pid;
error_log stderr;
events {}
http {
  access_log off;
${temp}
  include ${dir}/site.conf;
}
`;
    fs.writeFileSync(path.join(dir, 'nginx.conf'), main);
    const test = spawnSync(nginx, ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr'], { encoding: 'utf8', timeout: 30000 });
    assert.equal(test.status, 0, test.stderr);
    const n = spawnStopped(nginx, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off;']);
    await checkProxied(`http://127.0.0.1:${port}`, `maps.example.test:8443`);
    assert.doesNotMatch(n.err(), /\[(error|crit|alert|emerg)\]/);
  });
});

describe('mapproxy create -t caddy', () => {
  it('proxies a sub-path to the socket and adds X-Script-Name', () => {
    const conf = render({ template: 'caddy', serverName: 'tiles.example.org' });
    assert.match(conf, /^tiles\.example\.org \{$/m);
    assert.match(conf, /^\tredir \/mapproxy \/mapproxy\/ 308$/m);
    assert.match(conf, /^\thandle_path \/mapproxy\/\* \{\n\t\treverse_proxy unix\/\/run\/mapproxy\/mapproxy\.sock \{\n(\t\t\t#.*\n)*\t\t\theader_up X-Script-Name \/mapproxy\n\t\t\}\n\t\}\n\}\n$/m);
    // Caddy sets these itself and warns when they are set again
    assert.doesNotMatch(conf, /header_up (Host|X-Forwarded)/);
    assert.match(conf, /X-Forwarded-For,\n# X-Forwarded-Proto and X-Forwarded-Host itself/);
    const opens = conf.replace(/#.*$/gm, '').split('{').length;
    assert.equal(opens, conf.replace(/#.*$/gm, '').split('}').length, 'braces balance');
    const tcp = render({ template: 'caddy', path: '/', upstream: '192.0.2.10:8080' });
    assert.match(tcp, /^example\.org \{\n\treverse_proxy 192\.0\.2\.10:8080\n\}$/m);
  });

  it('caddy adapts it without warnings and serves through it with the public host and prefix', async (t) => {
    const caddy = which('caddy');
    if (!caddy) {
      t.skip('caddy is not installed');
      return;
    }
    const dir = tmpDir();
    const env = { HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config') };
    const file = path.join(dir, 'Caddyfile');
    fs.writeFileSync(file, render({ template: 'caddy' }));
    const adapt = spawnSync(caddy, ['adapt', '--config', file, '--adapter', 'caddyfile'], { encoding: 'utf8', timeout: 30000, env: { ...process.env, ...env } });
    assert.equal(adapt.status, 0, adapt.stderr);
    assert.doesNotMatch(adapt.stderr, /"level":"(warn|error)"/);
    const json = JSON.stringify(JSON.parse(adapt.stdout));
    assert.match(json, /"X-Script-Name":\["\/mapproxy"\]/);
    assert.match(json, /"dial":"unix\/\/run\/mapproxy\/mapproxy\.sock"/);

    const sock = await mapproxyOnSocket(dir);
    const port = await freePort();
    // plain HTTP on 127.0.0.1 only, no admin endpoint: the site itself as generated
    const site = render({ template: 'caddy', upstream: `unix:${sock}` }).replace(/^example\.org \{$/m, `{\n\tadmin off\n\tauto_https off\n}\n\nhttp://:${port} {\n\tbind 127.0.0.1`);
    fs.writeFileSync(file, site);
    const c = spawnStopped(caddy, ['run', '--config', file, '--adapter', 'caddyfile'], env);
    await checkProxied(`http://127.0.0.1:${port}`, 'maps.example.test:8443');
    assert.doesNotMatch(c.err(), /"level":"error"/);
  });
});
