import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseForwarded, parseTrustedProxies } from '../../src/server/proxy-headers.ts';
import { makeApp, type MapProxyApp } from '../../src/server/reloading-app.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';

const CONFIG = `
services:
  tms:
  wms:
layers:
  - name: osm
    title: OSM
    sources: [c]
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [debug]
sources:
  debug:
    type: debug
`;

describe('trusted proxies', () => {
  it('match addresses, CIDR ranges, IPv6, IPv4-mapped IPv6 and UNIX socket peers', () => {
    const t = parseTrustedProxies(['10.1.0.0/16, 192.168.1.5', 'fd00::/8', 'unix']);
    assert.ok(t.trusts('10.1.200.3'));
    assert.ok(!t.trusts('10.2.0.1'));
    assert.ok(t.trusts('192.168.1.5'));
    assert.ok(!t.trusts('192.168.1.6'));
    assert.ok(t.trusts('::ffff:10.1.0.9'));
    assert.ok(t.trusts('fd12:3456::1'));
    assert.ok(!t.trusts('fe80::1'));
    assert.ok(t.trusts(''));
    assert.ok(!t.trusts('not-an-ip'));
    // an embedding that does not pass the peer gets MapProxy's behaviour
    assert.ok(t.trusts(undefined));
  });
  it('default to loopback and UNIX sockets; * trusts everyone', () => {
    const d = parseTrustedProxies();
    assert.ok(d.trusts('127.0.0.1'));
    assert.ok(d.trusts('127.8.9.10'));
    assert.ok(d.trusts('::1'));
    assert.ok(d.trusts(''));
    assert.ok(!d.trusts('192.0.2.1'));
    assert.ok(parseTrustedProxies(['*']).trusts('192.0.2.1'));
  });
  it('reject entries that are not addresses', () => {
    assert.throws(() => parseTrustedProxies(['10.0.0.0/33']), /invalid trusted proxy '10\.0\.0\.0\/33'/);
    assert.throws(() => parseTrustedProxies(['proxy.local']), /invalid trusted proxy/);
    assert.throws(() => parseTrustedProxies(['1::2::3']), /invalid trusted proxy/);
  });
  it('read host and proto from the first Forwarded element, quoted or not', () => {
    assert.deepEqual(parseForwarded('for=192.0.2.60;proto=HTTPS;host="maps.example.org:8443", for=10.0.0.1;host=inner'), { host: 'maps.example.org:8443', proto: 'https' });
    assert.deepEqual(parseForwarded('for=1.2.3.4'), {});
  });
});

async function serve(trusted?: string[]): Promise<{ url: string; app: MapProxyApp; server: RunningServer; dir: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-proxyhdr-'));
  fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), CONFIG);
  const app = makeApp(path.join(dir, 'mapproxy.yaml'), { trustedProxies: trusted ? parseTrustedProxies(trusted) : undefined });
  const server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: app.fetch });
  return { url: `http://127.0.0.1:${server.port}`, app, server, dir };
}

describe('proxy headers over HTTP', () => {
  let trusted: Awaited<ReturnType<typeof serve>>;
  let untrusted: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    trusted = await serve();
    untrusted = await serve(['10.0.0.1']);
  });
  after(async () => {
    for (const s of [trusted, untrusted]) {
      s.app.close();
      await s.server.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  });

  const headers = { 'X-Forwarded-Host': 'maps.example.org', 'X-Forwarded-Proto': 'https', 'X-Script-Name': '/mapproxy' };

  it('from a trusted peer: the prefix is stripped from the path and added to generated URLs', async () => {
    const r = await fetch(`${trusted.url}/mapproxy/tms/1.0.0/`, { headers });
    assert.equal(r.status, 200);
    assert.match(await r.text(), /href="https:\/\/maps\.example\.org\/mapproxy\/tms\/1\.0\.0\/osm\/EPSG3857"/);
    // the prefix is optional: a proxy that strips it itself still gets prefixed URLs
    const r2 = await fetch(`${trusted.url}/tms/1.0.0/`, { headers });
    assert.match(await r2.text(), /https:\/\/maps\.example\.org\/mapproxy\/tms\//);
    const tile = await fetch(`${trusted.url}/mapproxy/tiles/osm/EPSG3857/1/0/0.png`, { headers });
    assert.equal(tile.status, 200);
    assert.equal(tile.headers.get('content-type'), 'image/png');
  });

  it('from a trusted peer: RFC 7239 Forwarded sets host and scheme', async () => {
    const r = await fetch(`${trusted.url}/service?SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.1.1`, { headers: { Forwarded: 'for=192.0.2.1;host=gis.example.net;proto=https' } });
    assert.match(await r.text(), /xlink:href="https:\/\/gis\.example\.net\/service\?/);
  });

  it('from an untrusted peer: the headers are ignored, so capabilities cannot be rewritten', async () => {
    const r = await fetch(`${untrusted.url}/tms/1.0.0/`, { headers: { ...headers, Forwarded: 'host=evil.example;proto=https' } });
    const xml = await r.text();
    assert.doesNotMatch(xml, /example/);
    assert.match(xml, /href="http:\/\/127\.0\.0\.1:\d+\/tms\/1\.0\.0\/osm\/EPSG3857"/);
    assert.equal((await fetch(`${untrusted.url}/mapproxy/tms/1.0.0/`, { headers })).status, 404);
  });
});
