/**
 * /metrics of `mapproxy serve -w 2`: the figures of the whole worker group,
 * whichever worker answers the scrape, and counters that never go back when
 * a worker is killed or recycled. Real process trees, stopped by pid; and
 * the supervisor's summing on its own, in-process.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MetricsGroup } from '../../src/server/metrics-group.ts';
import { AcrossReplacements, get, killGroup, sample, scrapeUntil, sleep, startServe, type ServeProcess, debugTileConfig } from '../helpers/serve-process.ts';


const TILES_200 = /^mapproxy_requests_total\{service="tiles",status="200"\} /;
const TILES_COUNT = /^mapproxy_request_duration_seconds_count\{service="tiles"\} /;
const tile = (i: number) => `/tiles/osm/webmercator/3/${i % 8}/${Math.floor(i / 8) % 8}.png`;

/** A config dir and a started server; stop() kills the process tree and removes the dir. */
async function serveWith(args: string[]): Promise<{ mp: ServeProcess; stop(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-metrics-workers-'));
  fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), debugTileConfig());
  try {
    const mp = await startServe(['serve', path.join(dir, 'mapproxy.yaml'), '-b', '127.0.0.1:0', '--debug', '--log-level', 'info', ...args], dir);
    return {
      mp,
      stop: () => {
        killGroup(mp.pid);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

describe('/metrics of serve -w 2', () => {
  let server: Awaited<ReturnType<typeof serveWith>>;
  let mp: ServeProcess;
  before(async () => {
    server = await serveWith(['-w', '2']);
    mp = server.mp;
  });
  after(() => server?.stop());

  it('sums the requests of both workers, whichever worker answers the scrape', { timeout: 20_000 }, async () => {
    const N = 30;
    const workers = new Set<string>();
    for (let i = 0; i < N; i++) {
      const r = await get(mp.url + tile(i));
      assert.equal(r.status, 200);
      workers.add(r.worker!);
    }
    assert.equal(workers.size, 2, 'the requests went to both workers');
    const text = await scrapeUntil(mp.url, (t) => sample(t, TILES_200) >= N, 5000);
    assert.equal(sample(text, TILES_200), N, text);
    assert.equal(sample(text, TILES_COUNT), N);
    assert.match(text, /^mapproxy_workers 2$/m);
    assert.match(text, /^# TYPE mapproxy_workers gauge$/m);
    assert.match(text, /^# TYPE mapproxy_requests_total counter$/m);
    // every worker answers the same sums (new connections until both have answered)
    const answered = new Set<string>();
    for (let i = 0; i < 40 && answered.size < 2; i++) {
      const r = await get(`${mp.url}/metrics`);
      assert.equal(sample(r.text, TILES_200), N, `worker ${r.worker}`);
      answered.add(r.worker!);
    }
    assert.equal(answered.size, 2);
  });

  it('keeps the figures of a worker killed with SIGKILL', { timeout: 20_000 }, async () => {
    const before = sample(await scrapeUntil(mp.url, () => true, 0), TILES_200);
    let victim = '';
    for (let i = 0; i < 10; i++) victim = (await get(mp.url + tile(i))).worker!;
    const total = before + 10;
    assert.equal(sample(await scrapeUntil(mp.url, (t) => sample(t, TILES_200) >= total, 5000), TILES_200), total);
    const from = mp.log().length;
    process.kill(Number(victim), 'SIGKILL');
    assert.ok(await mp.waitForLog(new RegExp(`worker ${victim} died`), 5000, from));
    // its replacement serves; the sums still hold what the dead worker had counted
    const text = await scrapeUntil(mp.url, (t) => /^mapproxy_workers 2$/m.test(t) && sample(t, /^mapproxy_workers_exited_total /) >= 1, 10_000);
    assert.match(text, /^mapproxy_workers 2$/m, text);
    assert.equal(sample(text, /^mapproxy_workers_exited_total /), 1);
    assert.equal(sample(text, TILES_200), total);
  });
});

describe('/metrics of serve -w 2 --max-requests', () => {
  let server: Awaited<ReturnType<typeof serveWith>>;
  let mp: ServeProcess;
  before(async () => {
    server = await serveWith(['-w', '2', '--max-requests', '8']);
    mp = server.mp;
  });
  after(() => server?.stop());

  it('counters never go back while workers are recycled, and end at the number of requests', { timeout: 30_000 }, async () => {
    const workers = new Set<string>();
    const scraped: number[] = [];
    // at 8 requests per worker (scrapes included) until several generations of workers have served, bounded;
    // a connection the kernel reset as its worker left is asked again (see AcrossReplacements): the counts
    // below must then still be those of the requests answered, so no worker handled a reset one
    const across = new AcrossReplacements();
    const fetchIt = (u: string) => across.get(u, get);
    let n = 0;
    for (const end = Date.now() + 15_000; (n < 40 || workers.size < 4) && Date.now() < end; n++) {
      const r = await fetchIt(mp.url + tile(n));
      assert.equal(r.status, 200);
      workers.add(r.worker!);
      if (n % 4 === 3) scraped.push(sample((await fetchIt(`${mp.url}/metrics`)).text, TILES_200));
      await sleep(10);
    }
    const N = n;
    assert.ok(workers.size >= 4, `workers: ${[...workers].join(', ')}\n${mp.log()}`);
    assert.match(mp.log(), /reached its request limit, starting its replacement/);
    const text = await scrapeUntil(mp.url, (t) => sample(t, TILES_200) >= N, 10_000, fetchIt);
    scraped.push(sample(text, TILES_200));
    for (let i = 1; i < scraped.length; i++) assert.ok(scraped[i] >= scraped[i - 1], `scrapes went back: ${scraped.join(', ')}`);
    assert.equal(sample(text, TILES_200), N, `${text}\nreset and asked again: ${across.reset.join(', ')}`);
    assert.equal(sample(text, TILES_COUNT), N);
    assert.ok(sample(text, /^mapproxy_workers_exited_total /) >= 2, text);
  });
});

describe('MetricsGroup (the supervisor side)', () => {
  it('sums live workers and keeps retired ones; a late message of a retired worker does not count twice', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-metrics-group-'));
    try {
      let serving = 2;
      const group = new MetricsGroup(path.join(dir, 'metrics.prom'), () => serving);
      const read = () => fs.readFileSync(group.file, 'utf8');
      assert.match(read(), /^mapproxy_workers 2$/m);
      const a = {};
      const b = {};
      const hist = (n: number, sum: number) => [...new Array(11).fill(n), n, sum];
      group.update(a, { mapproxy_requests_total: [['tiles\u0000200', [3]]], mapproxy_request_duration_seconds: [['tiles', hist(3, 0.3)]] });
      group.update(b, { mapproxy_requests_total: [['tiles\u0000200', [4]], ['tiles\u0000404', [1]]] });
      // only the series that moved: the 404 series of b is kept as it was
      group.update(b, { mapproxy_requests_total: [['tiles\u0000200', [5]]] });
      group.write();
      let text = read();
      assert.equal(sample(text, /^mapproxy_requests_total\{service="tiles",status="200"\} /), 8);
      assert.equal(sample(text, /^mapproxy_requests_total\{service="tiles",status="404"\} /), 1);
      assert.equal(sample(text, /^mapproxy_request_duration_seconds_count\{service="tiles"\} /), 3);
      assert.equal(sample(text, /^mapproxy_request_duration_seconds_bucket\{service="tiles",le="0.005"\} /), 3);
      serving = 1;
      group.retire(a);
      group.retire(a);
      group.update(a, { mapproxy_requests_total: [['tiles\u0000200', [100]]] });
      group.update({}, { mapproxy_requests_total: [['tiles\u0000200', [2]]] });
      group.write();
      text = read();
      assert.equal(sample(text, /^mapproxy_requests_total\{service="tiles",status="200"\} /), 10);
      assert.equal(sample(text, /^mapproxy_workers_exited_total /), 1);
      assert.match(text, /^mapproxy_workers 1$/m);
      group.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
