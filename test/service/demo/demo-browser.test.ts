/**
 * The demo in a real browser (Debian's chromium, headless): viewer links
 * followed from /demo/, tiles drawn into the map (checked by pixels and by
 * the requests the proxy saw), injected titles never run.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type { Browser, Page } from 'puppeteer-core';
import { decodeImage } from '../../../src/image/codec.ts';
import type { Raster } from '../../../src/image/raster.ts';
import { startDemoServer, type DemoServer } from './demo-server.ts';

const CHROMIUM = '/usr/bin/chromium';
const skip = fs.existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install -y chromium)`;
if (skip) console.log(`skipping the demo browser tests: ${skip}`);

/** Enough for a cold chromium on a small CI machine; every wait below is bounded by it. */
const WAIT_MS = 10_000;

/** Colour statistics of a screenshot. */
function colours(r: Raster): { distinct: number; white: number; red: number } {
  const seen = new Set<number>();
  let white = 0;
  let red = 0;
  const d = r.data;
  for (let i = 0; i < d.length; i += 4) {
    seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (d[i] > 245 && d[i + 1] > 245 && d[i + 2] > 245) white++;
    if (d[i] > 200 && d[i + 1] < 80 && d[i + 2] < 80) red++;
  }
  return { distinct: seen.size, white: white / (r.width * r.height), red };
}

describe('demo viewer in chromium', () => {
  let s: DemoServer | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let ready: Promise<void> | undefined;
  const dialogs: string[] = [];
  const pageErrors: string[] = [];

  // set up by the first test, not in before(): Bun bounds hooks at 5 s, tests take a timeout of their own
  function setup(): Promise<void> {
    ready ??= (async () => {
      s = await startDemoServer();
      const puppeteer = (await import('puppeteer-core')).default;
      browser = await puppeteer.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
        timeout: WAIT_MS,
      });
      page = await browser.newPage();
      await page.setViewport({ width: 1000, height: 900 });
      page.setDefaultTimeout(WAIT_MS);
      page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      page.on('pageerror', (e) => pageErrors.push(String((e as Error).message ?? e)));
    })();
    return ready;
  }
  const server = () => s!;

  after(async () => {
    await browser?.close();
    await s?.stop();
  });

  /** Open /demo/, follow the first link matching `selector`, wait until the map has rendered; the map's pixels. */
  async function followViewer(selector: string): Promise<{ image: Raster; loaded: number; failed: number }> {
    await page.goto(`${server().url}/demo/`, { waitUntil: 'load' });
    const link = await page.$(selector);
    assert.ok(link, `index has a link ${selector}`);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), link.click()]);
    return renderedMap();
  }

  async function renderedMap(): Promise<{ image: Raster; loaded: number; failed: number }> {
    await page.waitForSelector('#map-status[data-state="rendered"]');
    const [loaded, failed] = await page.$eval('#map-status', (e) => [Number((e as HTMLElement).dataset.loaded), Number((e as HTMLElement).dataset.failed)]);
    const map = await page.$('#map');
    assert.ok(map);
    const png = await map.screenshot({ type: 'png' });
    return { image: await decodeImage(new Uint8Array(png)), loaded, failed };
  }

  /** Debug tiles are black with red borders and white labels: a drawn map is far from the white background. */
  function assertDrawn(what: string, m: { image: Raster; loaded: number; failed: number }): void {
    assert.ok(m.loaded > 0, `${what}: images loaded`);
    assert.equal(m.failed, 0, `${what}: no image failed`);
    const c = colours(m.image);
    assert.ok(c.distinct >= 3, `${what}: ${c.distinct} distinct colours`);
    assert.ok(c.white < 0.8, `${what}: ${Math.round(c.white * 100)}% of the map is still background`);
    assert.ok(c.red > 100, `${what}: tile borders are visible (${c.red} red pixels)`);
  }

  it('draws a TMS layer in its grid, with tiles from the proxy', { skip, timeout: WAIT_MS * 4 }, async () => {
    await setup();
    const s = server();
    const before = s.count('/tms/1.0.0/osm/webmercator/');
    const m = await followViewer('a.viewer.tms[href*="tms_layer=osm"][href*="grid=webmercator"]');
    assert.match(page.url(), /tms_layer=osm/);
    assertDrawn('TMS', m);
    assert.ok(s.count('/tms/1.0.0/osm/webmercator/') - before >= 4, 'the proxy served the tiles');
  });

  it('draws /tiles of the geographic grid', { skip, timeout: WAIT_MS * 4 }, async () => {
    await setup();
    const s = server();
    const before = s.count('/tiles/osm/GLOBAL_GEODETIC/');
    const m = await followViewer('a.viewer.tiles[href*="tiles_layer=osm"][href*="grid=GLOBAL_GEODETIC"]');
    assertDrawn('/tiles EPSG:4326', m);
    assert.ok(s.count('/tiles/osm/GLOBAL_GEODETIC/') - before >= 2);
  });

  it('draws WMTS RESTful and KVP layers in a projected national grid', { skip, timeout: WAIT_MS * 5 }, async (t) => {
    await setup();
    const s = server();
    const rest = await fetch(`${s.url}/wmts/1.0.0/WMTSCapabilities.xml`);
    await rest.arrayBuffer();
    if (rest.status === 404) {
      console.log('skipping the WMTS viewer test: /wmts answers 404 (no WMTS service in this build)');
      t.skip('WMTS routes answer 404');
      return;
    }
    const beforeRest = s.count('/wmts/utm/utm32/');
    assertDrawn('WMTS RESTful', await followViewer('a.viewer.wmts-rest[href*="wmts_layer=utm"]'));
    assert.ok(s.count('/wmts/utm/utm32/') - beforeRest >= 1, 'the proxy served RESTful tiles');
    const beforeKvp = s.count('/service');
    assertDrawn('WMTS KVP', await followViewer('a.viewer.wmts-kvp[href*="wmts_layer=utm"]'));
    assert.ok(s.count('/service') - beforeKvp >= 1, 'the proxy served KVP tiles');
  });

  it('draws a WMS layer after choosing a projected SRS in the index form', { skip, timeout: WAIT_MS * 4 }, async () => {
    await setup();
    const s = server();
    await page.goto(`${s.url}/demo/`, { waitUntil: 'load' });
    const form = await page.$('form:has(input[name="wms_layer"][value="utm"])');
    assert.ok(form, 'index has a WMS form for utm');
    await form.$eval('select[name="srs"]', (el) => ((el as HTMLSelectElement).value = 'EPSG:31467'));
    const button = await form.$('button');
    assert.ok(button);
    const before = s.count('/service');
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
    assert.match(page.url(), /srs=EPSG%3A31467/);
    assertDrawn('WMS EPSG:31467', await renderedMap());
    assert.ok(s.count('/service') - before >= 1, 'the proxy served GetMap');
  });

  it('never runs the injected titles and raises no page errors', { skip, timeout: WAIT_MS * 3 }, async () => {
    await setup();
    const s = server();
    for (const url of ['/demo/', '/demo/?wms_layer=utm&format=image%2Fpng&srs=EPSG%3A25832', '/demo/?wms_capabilities']) {
      await page.goto(`${s.url}${url}`, { waitUntil: 'load' });
      assert.equal(await page.$$eval('img[src="x"], main script:not([src]):not([type="application/json"])', (els) => els.length), 0, url);
    }
    assert.deepEqual(dialogs, [], 'no alert() ran');
    assert.deepEqual(pageErrors, []);
  });
});
