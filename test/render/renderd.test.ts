/** MapProxy's renderd protocol: our client (remote.ts) and our renderd (renderd.ts), against a real upstream WMS on 127.0.0.1. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { basicConfig, listFiles, makeCase, startSeedUpstream, type SeedUpstream } from '../seed/helpers.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { loadConfig } from '../../src/config/loader.ts';
import { buildProxy, type Proxy } from '../../src/core/build-proxy.ts';
import { SourceError } from '../../src/errors.ts';
import { LockTimeoutError } from '../../src/cache/tile-lock.ts';
import { renderdClient, renderdId, renderdMessage } from '../../src/render/remote.ts';
import { MAX_BODY_BYTES, renderdHandler, renderPriority } from '../../src/render/renderd.ts';
import { Semaphore } from '../../src/util/semaphore.ts';

/** A server on 127.0.0.1 whose handler can be set after it has its port. */
async function startServer(fetch: (req: Request) => Response | Promise<Response>): Promise<{ url: string; server: RunningServer; set(f: typeof fetch): void }> {
  let handler = fetch;
  const server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: (req) => handler(req) });
  return { url: `http://127.0.0.1:${server.port}/`, server, set: (f) => (handler = f) };
}

/** A fake renderd: records what it is sent and answers `answer` (a body text) with `status`. */
async function fakeRenderd(answer: string, status = 200, delayMs = 0) {
  const seen: { method: string; path: string; contentType: string | null; body: string }[] = [];
  const s = await startServer(async (req) => {
    seen.push({ method: req.method, path: new URL(req.url).pathname, contentType: req.headers.get('content-type'), body: await req.text() });
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return new Response(answer, { status });
  });
  return { ...s, seen };
}

const pngs = (dir: string) => listFiles(dir).filter((f) => f.endsWith('.png'));

function post(url: string, body: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) });
}

describe('renderd client: the message MapProxy 1.15 sends', () => {
  it('posts json.dumps() of the message byte for byte, with MapProxy’s sha1 id and no Content-Type', async () => {
    const fake = await fakeRenderd('{"status": "ok"}');
    try {
      await renderdClient(fake.url).create('osm_cache_GLOBAL_WEBMERCATOR', [1, 2, 3], 'ondemand');
      assert.equal(fake.seen.length, 1);
      const { method, path: p, body } = fake.seen[0];
      assert.equal(method, 'POST');
      assert.equal(p, '/');
      // python3: hashlib.sha1(str(('osm_cache_GLOBAL_WEBMERCATOR', [(1, 2, 3)])).encode('ascii')).hexdigest() and json.dumps(message)
      assert.equal(
        body,
        '{"command": "tile", "id": "5997d6dc1fa07065002792cc72a73d01fc9caf86", "tiles": [[1, 2, 3]], "cache_identifier": "osm_cache_GLOBAL_WEBMERCATOR", "priority": 100}',
      );
      assert.ok(!fake.seen[0].contentType?.includes('json'), 'MapProxy sends no JSON content type');
    } finally {
      await fake.server.stop();
    }
  });

  it('keeps to the slots it is given (a seed worker’s share of -c): one request at a time for one slot', async () => {
    let open = 0;
    let maxOpen = 0;
    const fake = await startServer(async () => {
      maxOpen = Math.max(maxOpen, ++open);
      await new Promise((r) => setTimeout(r, 20));
      open--;
      return new Response('{"status": "ok"}');
    });
    try {
      const coords: [number, number, number][] = [[0, 0, 1], [1, 0, 1], [0, 1, 1], [1, 1, 1]];
      await Promise.all(coords.map((c) => renderdClient(fake.url, { slots: new Semaphore(1) }).create('c_g', c, 'seed')));
      assert.equal(maxOpen, 4, 'separate clients, separate slots');
      maxOpen = 0;
      const client = renderdClient(fake.url, { slots: new Semaphore(1) });
      await Promise.all(coords.map((c) => client.create('c_g', c, 'seed')));
      assert.equal(maxOpen, 1);
    } finally {
      await fake.server.stop();
    }
  });

  it('maps priorities as MapProxy (100 on demand, 10 seeding) and back', async () => {
    const fake = await fakeRenderd('{"status": "ok"}');
    try {
      const client = renderdClient(`${fake.url}render`);
      for (const p of ['ondemand', 'refresh', 'seed', 'prefetch'] as const) await client.create('c_g', [0, 0, 0], p);
      assert.deepEqual(
        fake.seen.map((s) => JSON.parse(s.body).priority),
        [100, 50, 10, 5],
      );
      assert.equal(fake.seen[0].path, '/render');
      assert.deepEqual(
        [100, 50, 10, 5].map(renderPriority),
        ['ondemand', 'refresh', 'seed', 'prefetch'],
      );
    } finally {
      await fake.server.stop();
    }
  });

  it('computes the id from Python’s repr (quotes included)', () => {
    // python3: hashlib.sha1(str(("it's", [(0, 0, 0)])).encode('ascii')).hexdigest()
    assert.equal(renderdId("it's", [[0, 0, 0]]), '12400c181eb3f043b5cb2a3d3a76b02a2e8933f6');
    assert.match(renderdMessage('a', [[0, 0, 0]], 10), /"priority": 10}$/);
  });
});

describe('renderd client: failures', () => {
  const cases: [string, string, number, RegExp][] = [
    ['status error', '{"status": "error", "error_message": "boom"}', 200, /^error from renderd: boom$/],
    ['status error without message', '{"status": "error"}', 200, /error from renderd: unknown error/],
    ['invalid JSON', '<html>oops</html>', 200, /renderd at .*: invalid JSON/],
    ['an HTML error page', 'Bad Gateway', 502, /HTTP 502, invalid JSON/],
    ['an unknown status', '{"status": "maybe"}', 200, /unexpected answer/],
  ];
  for (const [name, answer, status, message] of cases) {
    it(`throws SourceError on ${name}`, async () => {
      const fake = await fakeRenderd(answer, status);
      try {
        await assert.rejects(renderdClient(fake.url).create('c_g', [0, 0, 0], 'ondemand'), (e: Error) => {
          assert.ok(e instanceof SourceError, `${e.name}: ${e.message}`);
          assert.match(e.message, message);
          return true;
        });
      } finally {
        await fake.server.stop();
      }
    });
  }

  it('throws LockTimeoutError on status lock', async () => {
    const fake = await fakeRenderd('{"status": "lock", "error_message": "still locked"}');
    try {
      await assert.rejects(renderdClient(fake.url).create('c_g', [0, 0, 0], 'seed'), (e: Error) => {
        assert.ok(e instanceof LockTimeoutError, e.name);
        assert.match(e.message, /lock timeout from renderd: still locked/);
        return true;
      });
    } finally {
      await fake.server.stop();
    }
  });

  it('throws SourceError when the connection is refused', async () => {
    const gone = await startServer(() => new Response('{"status": "ok"}'));
    await gone.server.stop();
    await assert.rejects(renderdClient(gone.url).create('c_g', [0, 0, 0], 'ondemand'), (e: Error) => {
      assert.ok(e instanceof SourceError, e.name);
      assert.match(e.message, /error while communicating with renderd at http:\/\/127\.0\.0\.1:\d+\//);
      return true;
    });
  });

  it('throws SourceError when the renderd does not answer in time', async () => {
    const fake = await fakeRenderd('{"status": "ok"}', 200, 1500);
    try {
      await assert.rejects(renderdClient(fake.url, { timeoutSeconds: 0.2 }).create('c_g', [0, 0, 0], 'ondemand'), (e: Error) => {
        assert.ok(e instanceof SourceError, e.name);
        assert.match(e.message, /no answer within 0.2 s/);
        return true;
      });
    } finally {
      await fake.server.stop();
    }
  });

  it('refuses an address that is not an http(s) URL', () => {
    assert.throws(() => renderdClient('localhost:8191'), /globals\.renderd\.address.*http/);
  });
});

describe('renderd handler (mapproxy renderd) with our client', () => {
  let up: SeedUpstream;
  let dir: string;
  let proxy: Proxy;
  let rd: Awaited<ReturnType<typeof startServer>>;
  const cacheDir = () => path.join(dir, 'cache_data/c_EPSG3857');

  before(async () => {
    up = await startSeedUpstream();
    rd = await startServer(() => new Response('not ready', { status: 503 }));
    // the shared config of a MapProxy + renderd setup names the renderd itself: the renderd must not delegate to itself
    const conf = basicConfig(`
  a_b:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [wms]
`).replace('globals:\n', `globals:\n  renderd:\n    address: ${rd.url}\n`);
    dir = makeCase({ 'mapproxy.yaml': conf }, up);
    proxy = buildProxy(loadConfig(path.join(dir, 'mapproxy.yaml')));
    rd.set(renderdHandler(proxy));
  });
  after(async () => {
    await rd.server.stop();
    await up.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates the whole meta tile on disk with one upstream request', async () => {
    up.requests.length = 0;
    const client = renderdClient(rd.url);
    await client.create('c_GLOBAL_WEBMERCATOR', [5, 9, 4], 'ondemand');
    assert.equal(up.requests.length, 1, up.requests.join('\n'));
    assert.match(up.requests[0], / 1024x1024$/);
    assert.equal(pngs(cacheDir()).filter((f) => f.startsWith('04/')).length, 16);
    // another tile of the same meta tile is there already
    await client.create('c_GLOBAL_WEBMERCATOR', [6, 10, 4], 'seed');
    assert.equal(up.requests.length, 1);
  });

  it('answers identical concurrent requests from one creation; other meta tiles get one request each', async () => {
    up.requests.length = 0;
    up.delayMs = 150;
    try {
      const client = renderdClient(rd.url);
      await Promise.all([
        client.create('c_GLOBAL_WEBMERCATOR', [0, 0, 5], 'ondemand'),
        client.create('c_GLOBAL_WEBMERCATOR', [0, 0, 5], 'ondemand'),
        client.create('c_GLOBAL_WEBMERCATOR', [1, 1, 5], 'seed'),
        client.create('c_GLOBAL_WEBMERCATOR', [4, 0, 5], 'ondemand'),
      ]);
    } finally {
      up.delayMs = 0;
    }
    assert.equal(up.requests.length, 2, up.requests.join('\n'));
    assert.equal(pngs(cacheDir()).filter((f) => f.startsWith('05/')).length, 32);
  });

  it('delegates from a proxy with globals.renderd.address: the tile comes from the renderd-made cache', async () => {
    up.requests.length = 0;
    const front = buildProxy(loadConfig(path.join(dir, 'mapproxy.yaml')));
    const tm = front.caches.get('c')!.get('GLOBAL_WEBMERCATOR')!;
    assert.ok(tm.opts.remote, 'the front proxy delegates');
    const tile = await tm.getTile([3, 3, 3]);
    assert.equal(up.requests.length, 1);
    assert.deepEqual([...tile.bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]);
    assert.equal(pngs(cacheDir()).filter((f) => f.startsWith('03/')).length, 16);
  });

  it('finds caches whose names contain _', async () => {
    const r = await post(rd.url, { command: 'tile', id: 'x1', tiles: [[0, 0, 1]], cache_identifier: 'a_b_GLOBAL_WEBMERCATOR', priority: 100 });
    assert.deepEqual(await r.json(), { status: 'ok' });
    assert.ok(pngs(path.join(dir, 'cache_data/a_b_EPSG3857')).length > 0);
  });

  it('answers status error with the upstream failure and no stack', async () => {
    up.failAll = true;
    try {
      const r = await post(rd.url, { command: 'tile', id: 'x2', tiles: [[7, 7, 7]], cache_identifier: 'c_GLOBAL_WEBMERCATOR', priority: 100 });
      assert.equal(r.status, 200);
      const a = await r.json();
      assert.equal(a.status, 'error');
      assert.match(a.error_message, /500/);
      assert.doesNotMatch(a.error_message, /\n\s+at /);
      await assert.rejects(renderdClient(rd.url).create('c_GLOBAL_WEBMERCATOR', [7, 7, 7], 'ondemand'), SourceError);
    } finally {
      up.failAll = false;
    }
  });

  describe('bad requests', () => {
    it('GET is 405', async () => {
      const r = await fetch(rd.url);
      assert.equal(r.status, 405);
      assert.equal(r.headers.get('allow'), 'POST');
      assert.equal((await r.json()).status, 'error');
    });

    it('a body that is not JSON, or not a JSON object, is 400', async () => {
      for (const body of ['{"command": "tile",', '[1, 2]', '']) {
        const r = await post(rd.url, body);
        assert.equal(r.status, 400, body);
        assert.equal((await r.json()).status, 'error');
      }
    });

    it('a body over 1 MB is 413', async () => {
      const r = await post(rd.url, `{"pad": "${'x'.repeat(MAX_BODY_BYTES)}"}`);
      assert.equal(r.status, 413);
      await r.body?.cancel();
      // without Content-Length: reading stops past the limit
      let sent = 0;
      const chunk = new Uint8Array(64 * 1024).fill(32);
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent > 4 * MAX_BODY_BYTES) return c.close();
          sent += chunk.length;
          c.enqueue(chunk);
        },
      });
      const streamed = await renderdHandler(proxy)(new Request(rd.url, { method: 'POST', body, duplex: 'half' } as RequestInit));
      assert.equal(streamed.status, 413);
      assert.ok(sent < 2 * MAX_BODY_BYTES, `read ${sent} bytes`);
    });

    const statusErrors: [string, Record<string, unknown>, RegExp][] = [
      ['an unknown command', { command: 'dance', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [[0, 0, 0]] }, /unknown command "dance"/],
      ['an unknown cache_identifier', { command: 'tile', cache_identifier: 'nope_GLOBAL_WEBMERCATOR', tiles: [[0, 0, 0]] }, /unknown cache_identifier 'nope_GLOBAL_WEBMERCATOR'/],
      ['a tile outside the grid', { command: 'tile', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [[16, 0, 4]] }, /tile \[16,0,4\] is outside the grid/],
      ['a level past the grid', { command: 'tile', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [[0, 0, 40]] }, /outside the grid/],
      ['a negative coordinate', { command: 'tile', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [[-1, 0, 4]] }, /invalid tile \[-1,0,4\]/],
      ['a fractional coordinate', { command: 'tile', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [[0.5, 0, 4]] }, /invalid tile/],
      ['no tiles', { command: 'tile', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [] }, /non-empty list/],
      ['a priority that is not a number', { command: 'tile', cache_identifier: 'c_GLOBAL_WEBMERCATOR', tiles: [[0, 0, 0]], priority: 'high' }, /invalid priority/],
    ];
    for (const [name, msg, message] of statusErrors) {
      it(`${name} is status error`, async () => {
        const n = up.requests.length;
        const r = await post(rd.url, msg);
        assert.equal(r.status, 200);
        const a = await r.json();
        assert.equal(a.status, 'error');
        assert.match(a.error_message, message);
        assert.equal(up.requests.length, n, 'nothing was requested upstream');
      });
    }
  });
});
