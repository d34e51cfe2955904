/**
 * `mapproxy serve --tile-memory`: a worker keeps served tiles in memory, yet
 * every answer is the file as it is now. The server is a real process tree,
 * stopped by its pid; the tiles are files the test writes, as a seed would.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileCache } from '../../src/cache/file-cache.ts';
import { cli, get, killGroup, sleep, startServe, type ServeProcess } from '../helpers/serve-process.ts';

const CONFIG = `
services:
  tms:
layers:
  - name: osm
    title: kept tiles
    sources: [osm_cache]
caches:
  osm_cache:
    grids: [GLOBAL_MERCATOR]
    sources: []
globals:
  cache:
    base_dir: ./cache_data
`;

const URL_PATH = '/tms/1.0.0/osm/EPSG900913/0/0/0.png';

/** A distinct body per version, all of one size: only the content tells them apart. */
const version = (v: number) => new TextEncoder().encode(`\x89PNG\r\n\x1a\n version ${v}`);
const text = (v: number) => new TextDecoder().decode(version(v));
/** Every version gets this whole-second mtime, so putting it back after a rewrite restores it exactly. */
const MTIME = Math.floor(Date.now() / 1000) - 60;

describe('serve --tile-memory', () => {
  let dir: string;
  let cache: FileCache;
  let serve: ServeProcess | undefined;
  const store = (v: number) => {
    cache.store([0, 0, 1], version(v));
    fs.utimesSync(cache.tilePath([0, 0, 1]), MTIME, MTIME);
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tile-memory-'));
    fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), CONFIG);
    cache = new FileCache(path.join(dir, 'cache_data', 'osm_cache_EPSG900913'), 'png', 'tc');
    store(1);
    // a worker keeps only files unchanged for 2 s
    await sleep(2200);
    serve = await startServe(['serve', 'mapproxy.yaml', '-b', '127.0.0.1:0', '-w', '1', '--tile-memory', '1'], dir);
  });
  after(() => {
    if (serve) killGroup(serve.pid);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The group's mapproxy_tile_memory_hits_total once it reaches at least `want` (the supervisor sums within a second), or its last value. */
  async function memoryHits(want: number): Promise<number> {
    let n = 0;
    for (const end = Date.now() + 5000; Date.now() < end; await sleep(100)) {
      const text = (await get(`${serve!.url}/metrics`)).text;
      n = Number(/^mapproxy_tile_memory_hits_total (\d+)$/m.exec(text)?.[1] ?? 0);
      if (n >= want) break;
    }
    return n;
  }

  it('answers every request with the file as it is now: kept, replaced, rewritten in place, removed', async () => {
    const body = async () => (await get(serve!.url + URL_PATH)).text;
    const first = await get(serve!.url + URL_PATH);
    assert.equal(first.status, 200);
    assert.equal(first.text, text(1));
    // the second answer comes from the worker's memory, with the same validators
    const kept = await get(serve!.url + URL_PATH);
    assert.equal(kept.text, first.text);
    assert.equal(kept.headers.get('etag'), first.headers.get('etag'));
    assert.equal(kept.headers.get('last-modified'), first.headers.get('last-modified'));
    assert.equal(await memoryHits(1), 1);

    // a seed renames a new file over the tile: read at once
    store(2);
    assert.equal(await body(), text(2));
    // once settled it is kept too
    await sleep(2200);
    assert.equal(await body(), text(2));
    assert.equal(await body(), text(2));
    assert.equal(await memoryHits(2), 2);

    // rewritten in place, same size, mtime put back: only the ctime differs from the kept tile
    fs.writeFileSync(cache.tilePath([0, 0, 1]), version(3));
    fs.utimesSync(cache.tilePath([0, 0, 1]), MTIME, MTIME);
    assert.equal(await body(), text(3));

    fs.unlinkSync(cache.tilePath([0, 0, 1]));
    assert.equal((await get(serve!.url + URL_PATH)).status, 404);
  });

  it('refuses a negative --tile-memory with the flag named', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', 'mapproxy.yaml', '-b', '127.0.0.1:0', '--tile-memory', '-1'], { cwd: dir, encoding: 'utf8', timeout: 15_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /invalid --tile-memory '-1'/);
  });
});
