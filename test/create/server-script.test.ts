import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCreate } from '../../src/create/create.ts';
import { resolveLib } from '../../src/create/server-script.ts';
import * as lib from '../../src/index.ts';
import * as esbuild from 'esbuild';
import { bundleOptions } from '../../build.ts';
import { DEBUG_CONFIG, startScript, which, type Started } from './helpers.ts';

const root = path.resolve(import.meta.dir, '../..');
const srcIndex = path.join(root, 'src', 'index.ts');
const quiet = { out: () => {}, err: () => {} };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function setup(): { dir: string; config: string; script: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-script-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const config = path.join(dir, 'mapproxy.yaml');
  fs.writeFileSync(config, DEBUG_CONFIG);
  return { dir, config, script: path.join(dir, 'server.ts') };
}

async function start(cmd: string, args: string[], env: Record<string, string>): Promise<Started> {
  const s = await startScript(cmd, args, env);
  cleanup.push(() => s.stop());
  return s;
}

async function get(url: string, init?: RequestInit & { unix?: string }): Promise<{ status: number; type: string | null; body: Uint8Array }> {
  const r = await fetch(url, init as RequestInit);
  return { status: r.status, type: r.headers.get('content-type'), body: new Uint8Array(await r.arrayBuffer()) };
}

describe('mapproxy create -t wsgi-app', () => {
  it('writes a server script with the absolute config path and commented logging and reloader lines', () => {
    const { dir, script } = setup();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      assert.equal(runCreate({ template: 'wsgi-app', mapproxyConf: 'mapproxy.yaml', lib: srcIndex, dest: 'server.ts' }, quiet), 0);
    } finally {
      process.chdir(cwd);
    }
    const text = fs.readFileSync(script, 'utf8');
    assert.match(text, new RegExp(`^const CONFIG = ${escape(JSON.stringify(path.join(fs.realpathSync(dir), 'mapproxy.yaml')))};$`, 'm'));
    assert.match(text, new RegExp(`^import \\* as mapproxy from ${escape(JSON.stringify(srcIndex))};$`, 'm'));
    assert.match(text, /^\/\/ mapproxy\.applyLogConfig\(".*log\.ini"\);$/m);
    assert.match(text, /^const app = mapproxy\.makeApp\(CONFIG\);$/m);
    assert.match(text, /^\/\/ const app = mapproxy\.makeApp\(CONFIG, \{ reloader: true \}\);$/m);
    assert.match(text, /Bun\.serve/);
    assert.match(text, /Deno\.serve/);
  });

  it('finds the library: --lib paths become absolute, package names stay, the default is the one beside mapproxy', () => {
    assert.deepEqual(resolveLib('../nowhere/mapproxy-lib.js', '/x'), { lib: path.resolve('../nowhere/mapproxy-lib.js'), found: false });
    assert.deepEqual(resolveLib(srcIndex, '/x'), { lib: srcIndex, found: true });
    assert.deepEqual(resolveLib('mapproxy-ts/lib', '/x'), { lib: 'mapproxy-ts/lib', found: true });
    // running from source the default is src/index.ts
    assert.deepEqual(resolveLib(undefined, '/x'), { lib: srcIndex, found: true });
  });

  it('the script serves tiles and capabilities under Bun (TCP and UNIX socket)', async () => {
    const { dir, config, script } = setup();
    assert.equal(runCreate({ template: 'wsgi-app', mapproxyConf: config, lib: srcIndex, dest: script }, quiet), 0);
    const s = await start(process.execPath, [script], { MAPPROXY_BIND: '127.0.0.1:0' });
    assert.match(s.where, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const caps = await get(`${s.where}tms/1.0.0/`);
    assert.equal(caps.status, 200);
    assert.match(new TextDecoder().decode(caps.body), /<TileMap [^>]*href="http:\/\/127\.0\.0\.1:\d+\/tms\/1\.0\.0\/dbg\/webmercator"/);
    const tile = await get(`${s.where}tiles/dbg/webmercator/2/1/1.png`);
    assert.equal(tile.status, 200);
    assert.equal(tile.type, 'image/png');
    assert.deepEqual([...tile.body.slice(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    const wms = await get(`${s.where}service?SERVICE=WMS&REQUEST=GetCapabilities`);
    assert.equal(wms.status, 200);
    assert.match(new TextDecoder().decode(wms.body), /<Title>Debug WMS<\/Title>/);
    await s.stop();
    assert.notEqual(s.child.exitCode ?? s.child.signalCode, null, 'stopped by its PID');

    const sock = path.join(dir, 'mapproxy.sock');
    const u = await start(process.execPath, [script], { MAPPROXY_BIND: `unix:${sock}` });
    assert.equal(u.where, `unix:${sock}`);
    const r = await fetch('http://localhost/tms/1.0.0/', { unix: sock } as RequestInit);
    assert.equal(r.status, 200);
    await r.arrayBuffer();
  });

  it('the script serves under Deno with the bundled library', async (t) => {
    const deno = [path.join(root, 'node_modules', '.bin', 'deno'), which('deno')].find((p) => p && fs.existsSync(p));
    if (!deno) {
      t.skip('deno is not installed');
      return;
    }
    const { dir, config, script } = setup();
    const bundle = path.join(dir, 'mapproxy-lib.js');
    // the options build.ts uses for dist/mapproxy-lib.js (with the demo viewer bundled in)
    await esbuild.build({ ...(await bundleOptions()), entryPoints: [srcIndex], outfile: bundle, logLevel: 'error' });
    assert.equal(runCreate({ template: 'wsgi-app', mapproxyConf: config, lib: bundle, dest: script }, quiet), 0);
    const s = await start(deno, ['run', '--allow-all', '--no-config', script], { MAPPROXY_BIND: '127.0.0.1:0', DENO_NO_UPDATE_CHECK: '1' });
    const tile = await get(`${s.where}tms/1.0.0/dbg/webmercator/1/0/0.png`);
    assert.equal(tile.status, 200);
    assert.equal(tile.type, 'image/png');
  });

  it('with logging and the reloader switched on, a changed config is picked up and logged', async () => {
    const { dir, config, script } = setup();
    let libPath = srcIndex;
    if (!('applyLogConfig' in lib)) {
      // until the embedding API exports applyLogConfig, a wrapper adds it
      libPath = path.join(dir, 'lib.ts');
      fs.writeFileSync(libPath, `export * from ${JSON.stringify(srcIndex)};\nexport { applyLogConfig } from ${JSON.stringify(path.join(root, 'src/log/log-config.ts'))};\n`);
    }
    assert.equal(runCreate({ template: 'wsgi-app', mapproxyConf: config, lib: libPath, dest: script }, quiet), 0);
    assert.equal(runCreate({ template: 'log-ini', dest: path.join(dir, 'log.ini') }, quiet), 0);
    const text = fs
      .readFileSync(script, 'utf8')
      .replace(/^\/\/ (mapproxy\.applyLogConfig)/m, '$1')
      .replace(/^const app = mapproxy\.makeApp\(CONFIG\);\n\/\/ (const app = .*reloader: true.*)$/m, '$1');
    assert.match(text, /^const app = mapproxy\.makeApp\(CONFIG, \{ reloader: true \}\);$/m);
    fs.writeFileSync(script, text);
    const s = await start(process.execPath, [script], { MAPPROXY_BIND: '127.0.0.1:0' });
    assert.equal((await get(`${s.where}tiles/dbg/webmercator/0/0/0.png`)).status, 200);
    await new Promise((r) => setTimeout(r, 1100)); // mtimes in whole seconds on some file systems
    fs.writeFileSync(config, DEBUG_CONFIG.replace('name: dbg', 'name: renamed'));
    let status = 0;
    for (let i = 0; i < 60 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await get(`${s.where}tiles/renamed/webmercator/0/0/0.png`)).status;
    }
    assert.equal(status, 200, 'the reloader picked up the new layer name');
    assert.match(s.stderr(), /^\[[^\]]+\] mapproxy\.system - INFO - reloaded configuration /m);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
