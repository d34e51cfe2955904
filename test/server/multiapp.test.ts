import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MultiApp } from '../../src/server/multiapp.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';

const conf = (title: string) => `
services:
  tms:
    md:
      title: ${title}
layers:
  - name: osm
    title: ${title}
    sources: [c]
caches:
  c:
    grids: [GLOBAL_MERCATOR]
    sources: [dbg]
sources:
  dbg:
    type: debug
`;

describe('serve-multiapp', () => {
  let dir: string;
  let server: RunningServer;
  let multi: MultiApp;
  let url: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-multi-'));
    fs.writeFileSync(path.join(dir, 'alpha.yaml'), conf('Alpha'));
    fs.writeFileSync(path.join(dir, 'beta.yaml'), `base: [beta-base.yaml]\n${conf('Beta')}`);
    fs.writeFileSync(path.join(dir, 'beta-base.yaml'), 'globals:\n  cache:\n    base_dir: ./beta_cache\n');
    fs.writeFileSync(path.join(dir, 'broken.yaml'), 'services:\n  tms:\nlayers:\n  - name: x\n    title: X\n    sources: [nope]\n');
    fs.writeFileSync(path.join(dir, 'bad name.yaml'), conf('Bad'));
    multi = new MultiApp(dir, { allowListing: true, maxLoaded: 2, checkInterval: 0 });
    server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: multi.fetch });
    url = `http://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists the configs with valid names at / when listing is allowed', async () => {
    const html = await (await fetch(`${url}/`)).text();
    for (const n of ['alpha', 'beta', 'broken']) assert.match(html, new RegExp(`href="/${n}/"`));
    assert.doesNotMatch(html, /bad name/);
  });

  it('serves each config under /NAME/ with URLs that carry the prefix', async () => {
    const r = await fetch(`${url}/alpha/tms/1.0.0/`);
    assert.equal(r.status, 200);
    const xml = await r.text();
    assert.match(xml, /<Title>Alpha<\/Title>/);
    assert.match(xml, new RegExp(`href="${url}/alpha/tms/1\\.0\\.0/osm/EPSG900913"`));
    const tile = await fetch(`${url}/beta/tms/1.0.0/osm/EPSG900913/0/0/0.png`);
    assert.equal(tile.status, 200);
    assert.ok(fs.existsSync(path.join(dir, 'beta_cache')), 'the base file of beta was applied');
    // a trusted proxy prefix goes in front of the app name
    const prox = await fetch(`${url}/mapproxy/alpha/tms/1.0.0/`, { headers: { 'X-Script-Name': '/mapproxy' } });
    assert.match(await prox.text(), new RegExp(`href="${url}/mapproxy/alpha/tms/`));
  });

  it('a broken config breaks only its own /NAME/, with a clear message', async () => {
    const r = await fetch(`${url}/broken/tms/1.0.0/`);
    assert.equal(r.status, 503);
    assert.match(await r.text(), /configuration error in broken\.yaml: .*broken\.yaml:\d+: layers\[0\]\.sources\[0\]/);
    assert.equal((await fetch(`${url}/alpha/tms/1.0.0/`)).status, 200);
  });

  it('refuses names outside [A-Za-z0-9_-] and unknown names', async () => {
    assert.equal((await fetch(`${url}/bad%20name/tms/1.0.0/`)).status, 404);
    assert.equal((await fetch(`${url}/nothere/tms/1.0.0/`)).status, 404);
    assert.equal((await fetch(`${url}/..%2fetc/`)).status, 404);
  });

  it('reloads a config when it or its base file changes', async () => {
    assert.match(await (await fetch(`${url}/alpha/tms/1.0.0/`)).text(), /Alpha/);
    fs.writeFileSync(path.join(dir, 'alpha.yaml'), conf('Alpha Two'));
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(path.join(dir, 'alpha.yaml'), later, later);
    assert.match(await (await fetch(`${url}/alpha/tms/1.0.0/`)).text(), /Alpha Two/);
    // fixing the broken config makes it work without a restart
    fs.writeFileSync(path.join(dir, 'broken.yaml'), conf('Fixed'));
    fs.utimesSync(path.join(dir, 'broken.yaml'), later, later);
    assert.equal((await fetch(`${url}/broken/tms/1.0.0/`)).status, 200);
  });

  it('keeps at most maxLoaded configs, reloading an evicted one on its next use', async () => {
    for (const n of ['alpha', 'beta', 'broken', 'alpha']) assert.equal((await fetch(`${url}/${n}/tms/1.0.0/`)).status, 200, n);
    const loaded = (multi as unknown as { loaded: Map<string, unknown> }).loaded;
    assert.deepEqual([...loaded.keys()], ['broken', 'alpha']);
  });
});
