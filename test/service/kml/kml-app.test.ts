import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startProxy, type TestProxy } from '../../helpers/proxy-server.ts';

const CONFIG = `
services:
  kml:
  tms:
layers:
  - name: osm
    title: OSM
    sources: [c]
caches:
  c:
    grids: [GLOBAL_MERCATOR]
    sources: [debug]
sources:
  debug:
    type: debug
`;

describe('KML through the app', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startProxy(CONFIG);
  });
  after(() => proxy.stop());

  it('routes /kml documents and tiles when services.kml is configured', async () => {
    const doc = await fetch(`${proxy.url}/kml/osm_EPSG900913`);
    assert.equal(doc.status, 200);
    assert.equal(doc.headers.get('content-type'), 'application/vnd.google-earth.kml+xml');
    const text = await doc.text();
    const href = /<href>([^<]+\.png)<\/href>/.exec(text)?.[1];
    assert.ok(href, text);
    const img = await fetch(href!);
    assert.equal(img.status, 200);
    assert.equal(img.headers.get('content-type'), 'image/png');
    // the same tile over TMS (KML levels are TMS levels + 1 on global grids)
    const [z, x, y] = /\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(href!)!.slice(1).map(Number);
    const tms = await fetch(`${proxy.url}/tms/1.0.0/osm/EPSG900913/${z - 1}/${x}/${y}.png`);
    assert.deepEqual(new Uint8Array(await tms.arrayBuffer()), new Uint8Array(await img.arrayBuffer()));
    assert.equal((await fetch(`${proxy.url}/kml/nope_EPSG900913`)).status, 404);
  });
});
