/**
 * Tiles kept in memory (serve --tile-memory), through the file cache that
 * uses them: a kept tile comes back as the same bytes object, anything that
 * changed the file is read again.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FileCache } from '../../src/cache/file-cache.ts';
import { HotTiles, hotTiles, keepsTilesBelow, setTileMemory } from '../../src/cache/hot-tiles.ts';
import { metrics } from '../../src/util/metrics.ts';
import type { TileCoord } from '../../src/grid/tile-grid.ts';

const KB = 1024;

/** Runs fn with a tc-layout PNG FileCache in a fresh temp directory, removed afterwards. */
async function withCache(fn: (c: FileCache) => void | Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hot-'));
  try {
    await fn(new FileCache(dir, 'png', 'tc'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe('tiles kept in memory', () => {
  afterEach(() => setTileMemory(0));

  it('is off unless turned on: every load reads the file', async () => {
    assert.equal(hotTiles(), undefined);
    await withCache((fc) => {
      fc.store([1, 2, 3], bytes(100, 1));
      assert.notEqual(fc.load([1, 2, 3])!.bytes, fc.load([1, 2, 3])!.bytes);
    });
  });

  it('keeps a tile once read and answers the same bytes and mtime again', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      fc.store([1, 2, 3], bytes(100, 1));
      const first = fc.load([1, 2, 3])!;
      const again = fc.load([1, 2, 3])!;
      assert.equal(again.bytes, first.bytes);
      assert.equal(again.mtime, first.mtime);
      assert.equal(hotTiles()!.count, 1);
    });
  });

  it('reads a tile again once a new file was renamed over it, as seeding stores tiles', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      fc.store([1, 2, 3], bytes(100, 1));
      fc.load([1, 2, 3]);
      fc.store([1, 2, 3], bytes(100, 2));
      assert.deepEqual(fc.load([1, 2, 3])!.bytes, bytes(100, 2));
    });
  });

  it('reads a tile again after it was rewritten in place, at the same size, with a new mtime', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      const file = fc.tilePath([1, 2, 3]);
      fc.store([1, 2, 3], bytes(100, 1));
      fc.load([1, 2, 3]);
      const before = fs.statSync(file);
      fs.writeFileSync(file, bytes(100, 3));
      fs.utimesSync(file, before.atime, new Date(before.mtimeMs + 5000));
      const now = fc.load([1, 2, 3])!;
      assert.deepEqual(now.bytes, bytes(100, 3));
      assert.equal(Math.round(now.mtime), Math.round(before.mtimeMs / 1000) + 5);
    });
  });

  it('reads a tile again after a same-size rewrite in place with its mtime put back: only the ctime tells', async () => {
    setTileMemory(64 * KB, 20);
    await withCache(async (fc) => {
      const file = fc.tilePath([1, 2, 3]);
      // a whole-second mtime, so that putting it back restores it to the nanosecond
      const mtime = Math.floor(Date.now() / 1000) - 60;
      fc.store([1, 2, 3], bytes(100, 1));
      fs.utimesSync(file, mtime, mtime);
      // longer than a file-clock tick and the settle time
      await sleep(60);
      const kept = fc.load([1, 2, 3])!;
      assert.equal(fc.load([1, 2, 3])!.bytes, kept.bytes);
      fs.writeFileSync(file, bytes(100, 5));
      fs.utimesSync(file, mtime, mtime);
      assert.equal(fs.statSync(file, { bigint: true }).mtimeNs, BigInt(mtime) * 1_000_000_000n);
      assert.deepEqual(fc.load([1, 2, 3])!.bytes, bytes(100, 5));
    });
  });

  it('counts the tiles it answers in mapproxy_tile_memory_hits_total', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      const before = metrics.tileMemoryHits.get([]);
      fc.store([1, 2, 3], bytes(100, 1));
      fc.load([1, 2, 3]);
      fc.load([1, 2, 3]);
      fc.load([1, 2, 3]);
      assert.equal(metrics.tileMemoryHits.get([]) - before, 2);
    });
  });

  it('keeps tiles only on local file systems, where stat() sees what open() would', () => {
    assert.equal(keepsTilesBelow(os.tmpdir()), true);
    // procfs stands in for anything not known to be local (NFS, SMB, FUSE answer stat() from a cache)
    assert.equal(keepsTilesBelow('/proc'), false);
    assert.equal(keepsTilesBelow(path.join(os.tmpdir(), 'no-such-dir-here')), false);
  });

  it('does not keep a file changed less than the settle time ago: a rewrite within one clock tick could look unchanged', async () => {
    setTileMemory(64 * KB);
    await withCache((fc) => {
      fc.store([1, 2, 3], bytes(100, 1));
      assert.notEqual(fc.load([1, 2, 3])!.bytes, fc.load([1, 2, 3])!.bytes);
      assert.equal(hotTiles()!.count, 0);
      // an unchanged size and mtime: without the settle time this could be answered from memory
      const file = fc.tilePath([1, 2, 3]);
      const st = fs.statSync(file);
      fs.writeFileSync(file, bytes(100, 4));
      fs.utimesSync(file, st.atime, st.mtime);
      assert.deepEqual(fc.load([1, 2, 3])!.bytes, bytes(100, 4));
    });
  });

  it('answers a removed tile missing at once and gives its memory back', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      fc.store([1, 2, 3], bytes(100, 1));
      fc.store([4, 5, 6], bytes(100, 1));
      fc.load([1, 2, 3]);
      fc.load([4, 5, 6]);
      assert.equal(hotTiles()!.count, 2);
      fs.unlinkSync(fc.tilePath([1, 2, 3]));
      assert.equal(fc.load([1, 2, 3]), undefined);
      fc.remove([4, 5, 6]);
      assert.equal(fc.load([4, 5, 6]), undefined);
      assert.equal(hotTiles()!.count, 0);
      assert.equal(hotTiles()!.size, 0);
    });
  });

  it('answers a tile path that became a directory missing, as without memory', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      const file = fc.tilePath([1, 2, 3]);
      fc.store([1, 2, 3], bytes(100, 1));
      fc.load([1, 2, 3]);
      fs.unlinkSync(file);
      fs.mkdirSync(file);
      assert.equal(fc.load([1, 2, 3]), undefined);
    });
  });

  it('stays within its budget and keeps no tile larger than a sixteenth of it', async () => {
    setTileMemory(64 * KB, 0);
    await withCache((fc) => {
      for (let x = 0; x < 100; x++) {
        fc.store([x, 0, 5], bytes(KB, x));
        fc.load([x, 0, 5]);
        assert.ok(hotTiles()!.size <= 64 * KB, `${hotTiles()!.size} bytes held after ${x + 1} tiles`);
      }
      const n = hotTiles()!.count;
      assert.ok(n > 10 && n < 100, `${n} tiles kept`);
      // the newest tiles are the ones kept
      assert.equal(fc.load([99, 0, 5])!.bytes, fc.load([99, 0, 5])!.bytes);
      // tiles dropped from the middle of the queue leave it whole
      for (const x of [60, 80, 98]) fc.remove([x, 0, 5]);
      assert.equal(hotTiles()!.count, n - 3);
      for (let x = 100; x < 140; x++) {
        fc.store([x, 0, 5], bytes(KB, x));
        fc.load([x, 0, 5]);
      }
      assert.equal(hotTiles()!.count, n);
      assert.ok(hotTiles()!.size <= 64 * KB);
      fc.store([0, 1, 5], bytes(5 * KB, 1));
      assert.notEqual(fc.load([0, 1, 5])!.bytes, fc.load([0, 1, 5])!.bytes);
    });
  });

  it('gives a tile used since the last sweep a second chance over tiles never used again', async () => {
    await withCache((fc) => {
      const st = (c: TileCoord) => fs.statSync(fc.tilePath(c), { bigint: true });
      const hot = new HotTiles(16 * KB, 0);
      const keep = (c: TileCoord) => hot.add(fc.tilePath(c), fc.load(c)!.bytes, 0, st(c));
      for (let x = 0; x < 20; x++) fc.store([x, 0, 5], bytes(KB, x));
      keep([0, 0, 5]);
      // as many 1 KB tiles as the budget holds, with their overhead
      const room = Math.floor(hot.budget / hot.size);
      for (let x = 1; x < room; x++) keep([x, 0, 5]);
      assert.equal(hot.count, room);
      // the oldest tile is used again, the second oldest is not
      assert.ok(hot.current(fc.tilePath([0, 0, 5]), st([0, 0, 5])));
      keep([room, 0, 5]);
      assert.equal(hot.count, room);
      assert.ok(hot.size <= hot.budget);
      assert.ok(hot.has(fc.tilePath([0, 0, 5])), 'the used tile survives');
      assert.ok(!hot.has(fc.tilePath([1, 0, 5])), 'the unused older tile is evicted');
    });
  });
});
