import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { parseBind } from '../../src/server/serve-options.ts';
import { VERSION } from '../../src/version.ts';

const root = path.resolve(import.meta.dir, '../..');
const cli = path.join(root, 'cli', 'main.ts');

const tmsConfig = (layer: string) => `
services:
  tms:
layers:
  - name: ${layer}
    title: Debug
    sources: [dbg_cache]
caches:
  dbg_cache:
    grids: [GLOBAL_MERCATOR]
    sources: [dbg]
sources:
  dbg:
    type: debug
`;

describe('mapproxy serve-develop', () => {
  it('prints file, line and key path for a broken config and exits non-zero, without a stack trace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-cli-'));
    const file = path.join(dir, 'mapproxy.yaml');
    fs.writeFileSync(file, tmsConfig('osm').replace('sources: [dbg]', 'sources: [osm_tile]'));
    const r = spawnSync(process.execPath, [cli, 'serve-develop', file, '-b', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20000 });
    fs.rmSync(dir, { recursive: true, force: true });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /mapproxy\.yaml:11: caches\.dbg_cache\.sources\[0\]: unknown source 'osm_tile'/);
    assert.doesNotMatch(r.stderr, /^\s+at /m);
  });

  it('rejects a bad bind address', () => {
    assert.throws(() => parseBind('localhost:http'), /invalid bind address/);
    assert.throws(() => parseBind('1:99999'), /invalid bind address/);
    assert.deepEqual(parseBind('8081'), { hostname: 'localhost', port: 8081 });
    assert.deepEqual(parseBind('0.0.0.0:8080'), { hostname: '0.0.0.0', port: 8080 });
  });

  it('--version matches package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.equal(VERSION, pkg.version);
    const r = spawnSync(process.execPath, [cli, '--version'], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.stdout.trim(), VERSION);
  });

  it('serves the built-in demo without a config', async () => {
    const port = 18600 + Math.floor(Math.random() * 300);
    const child = spawn(process.execPath, [cli, 'serve-develop', '-b', `127.0.0.1:${port}`], { stdio: 'ignore' });
    try {
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        try {
          const r = await fetch(`http://127.0.0.1:${port}/tms/1.0.0/osm/EPSG900913/3/4/2.png`);
          const b = new Uint8Array(await r.arrayBuffer());
          ok = r.status === 200 && b[0] === 0x89 && b[1] === 0x50;
        } catch {
          await new Promise((res) => setTimeout(res, 100));
        }
      }
      assert.ok(ok, 'demo TMS tile served');
      const x = await fetch(`http://127.0.0.1:${port}/tiles/osm/webmercator/3/4/5.png?origin=nw`);
      assert.equal(x.status, 200);
      assert.equal(x.headers.get('content-type'), 'image/png');
      await x.arrayBuffer();
      const w = await fetch(`http://127.0.0.1:${port}/service?SERVICE=WMS&REQUEST=GetMap&VERSION=1.1.1&LAYERS=osm&STYLES=&SRS=EPSG:25832&BBOX=300000,5400000,700000,5900000&WIDTH=300&HEIGHT=300&FORMAT=image/png`);
      assert.equal(w.status, 200, 'demo WMS GetMap with reprojection');
      assert.equal(w.headers.get('content-type'), 'image/png');
      await w.arrayBuffer();
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('config reloading', () => {
  let mp: TestProxy;
  before(async () => {
    mp = await startProxy(tmsConfig('first'), { reloader: true, reloadInterval: 50 });
  });
  after(() => mp.stop());

  const waitFor = async (cond: () => Promise<boolean>) => {
    for (let i = 0; i < 100; i++) {
      if (await cond()) return true;
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  };
  const status = async (p: string) => {
    const r = await fetch(mp.url + p);
    await r.arrayBuffer();
    return r.status;
  };

  it('picks up a changed config file', async () => {
    assert.equal(await status('/tiles/first/EPSG900913/0/0/0.png'), 200);
    fs.writeFileSync(mp.configFile, tmsConfig('second'));
    assert.ok(await waitFor(async () => (await status('/tiles/second/EPSG900913/0/0/0.png')) === 200));
    assert.equal(await status('/tiles/first/EPSG900913/0/0/0.png'), 404);
  });

  it('keeps the old config when the new one is broken', async () => {
    fs.writeFileSync(mp.configFile, 'services: [unclosed');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await status('/tiles/second/EPSG900913/0/0/0.png'), 200);
    assert.equal(mp.app.reload(), false);
  });
});

describe('reloading on base file changes and HTTP globals', () => {
  it('reloads when a base file changes, and applies expires_hours and an empty CORS origin', async () => {
    const mp = await startProxy(`base: [base.yaml]\n${tmsConfig('l')}`, {
      reloader: true,
      reloadInterval: 50,
      files: { 'base.yaml': 'globals:\n  tiles:\n    expires_hours: 1\n' },
    });
    try {
      let r = await fetch(`${mp.url}/tiles/l/EPSG900913/0/0/0.png`);
      await r.arrayBuffer();
      assert.equal(r.headers.get('cache-control'), 'public, max-age=3600, s-maxage=3600');
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      fs.writeFileSync(path.join(mp.dir, 'base.yaml'), "globals:\n  tiles:\n    expires_hours: 2\n  http:\n    access_control_allow_origin: ''\n");
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        await new Promise((res) => setTimeout(res, 50));
        r = await fetch(`${mp.url}/tiles/l/EPSG900913/0/0/0.png`);
        await r.arrayBuffer();
        ok = r.headers.get('cache-control') === 'public, max-age=7200, s-maxage=7200';
      }
      assert.ok(ok, 'base file change picked up');
      assert.equal(r.headers.get('access-control-allow-origin'), null);
    } finally {
      await mp.stop();
    }
  });
});
