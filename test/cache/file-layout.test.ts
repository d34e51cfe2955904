import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { levelRelPath, tileRelPath } from '../../src/cache/file-layout.ts';
import { FileCache } from '../../src/cache/file-cache.ts';

// Expected paths are MapProxy 1.15's own doctest values (mapproxy/cache/path.py).
describe('file cache layouts', () => {
  it('tc', () => {
    assert.equal(tileRelPath('tc', [3, 4, 2], 'png'), '02/000/000/003/000/000/004.png');
    assert.equal(tileRelPath('tc', [1234567, 87654321, 9], 'jpeg'), '09/001/234/567/087/654/321.jpeg');
  });
  it('mp', () => {
    assert.equal(tileRelPath('mp', [3, 4, 2], 'png'), '02/0000/0003/0000/0004.png');
    assert.equal(tileRelPath('mp', [12345678, 98765432, 22], 'png'), '22/1234/5678/9876/5432.png');
  });
  it('tms, reverse_tms, quadkey, arcgis', () => {
    assert.equal(tileRelPath('tms', [3, 4, 2], 'png'), '2/3/4.png');
    assert.equal(tileRelPath('reverse_tms', [3, 4, 2], 'png'), '4/3/2.png');
    assert.equal(tileRelPath('quadkey', [3, 4, 2], 'png'), '11.png');
    assert.equal(tileRelPath('quadkey', [0, 0, 0], 'png'), '.png');
    assert.equal(tileRelPath('arcgis', [1234567, 87654321, 9], 'png'), 'L09/R05397fb1/C0012d687.png');
  });
  it('level directories', () => {
    assert.equal(levelRelPath('tc', 2), '02');
    assert.equal(levelRelPath('tms', 2), '2');
    assert.equal(levelRelPath('arcgis', 9), 'L09');
    assert.equal(levelRelPath('quadkey', 2), undefined);
  });
});

/** Runs fn with a tc-layout PNG FileCache in a fresh temp directory, removed afterwards. */
function withCache(fn: (c: FileCache, dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fc-'));
  try {
    fn(new FileCache(dir, 'png', 'tc'), dir);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('FileCache', () => {
  it('stores atomically and loads bytes with mtime', () => {
    withCache((c) => {
      assert.equal(c.load([1, 2, 3]), undefined);
      c.store([1, 2, 3], new Uint8Array([1, 2, 3, 4]));
      const t = c.load([1, 2, 3]);
      assert.deepEqual([...t!.bytes], [1, 2, 3, 4]);
      assert.ok(Math.abs(t!.mtime - Date.now() / 1000) < 60);
      // no temp files left next to the tile
      const tileDir = path.dirname(c.tilePath([1, 2, 3]));
      assert.deepEqual(fs.readdirSync(tileDir), ['002.png']);
      c.remove([1, 2, 3]);
      assert.equal(c.isCached([1, 2, 3]), false);
    });
  });

  it('replaces a linked single-colour tile without touching the shared file', () => {
    withCache((c, dir) => {
      c.storeSingleColor([4, 5, 6], new Uint8Array([9, 9]), [255, 0, 0], 'symlink');
      c.storeSingleColor([4, 6, 6], new Uint8Array([9, 9]), [255, 0, 0], 'symlink');
      const shared = path.join(dir, 'single_color_tiles', 'ff0000.png');
      assert.ok(fs.lstatSync(c.tilePath([4, 5, 6])).isSymbolicLink());
      c.store([4, 5, 6], new Uint8Array([7, 7, 7]));
      assert.ok(!fs.lstatSync(c.tilePath([4, 5, 6])).isSymbolicLink(), 'the tile is a file of its own now');
      assert.deepEqual([...c.load([4, 5, 6])!.bytes], [7, 7, 7]);
      assert.deepEqual([...fs.readFileSync(shared)], [9, 9], 'the single-colour file is unchanged');
      assert.deepEqual([...c.load([4, 6, 6])!.bytes], [9, 9], 'other links still read it');
    });
  });

  it('creates missing directories, overwrites whole tiles and reuses a stale temp file name', () => {
    withCache((c, dir) => {
      c.store([1, 1, 1], new Uint8Array(100).fill(1));
      // a directory removed behind the cache's back (cache-clean) is made again
      fs.rmSync(path.join(dir, '01'), { recursive: true });
      c.store([1, 1, 1], new Uint8Array(100).fill(2));
      // a shorter tile replaces a longer one completely
      c.store([1, 1, 1], new Uint8Array([3]));
      assert.deepEqual([...c.load([1, 1, 1])!.bytes], [3]);
      // A crashed process left a temp file under the name a new process with
      // its pid uses first: a fresh process, so the temp name is predictable.
      const script = `
        import * as fs from 'node:fs';
        import { FileCache } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/cache/file-cache.ts'))};
        const c = new FileCache(${JSON.stringify(dir)}, 'png', 'tc');
        const tile = c.tilePath([2, 1, 1]);
        fs.mkdirSync(tile.slice(0, tile.lastIndexOf('/')), { recursive: true });
        fs.writeFileSync(tile + '.' + process.pid + '.1.tmp', 'stale stale stale');
        c.store([2, 1, 1], new Uint8Array([4, 4]));
      `;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual([...c.load([2, 1, 1])!.bytes], [4, 4]);
      assert.deepEqual(fs.readdirSync(path.dirname(c.tilePath([2, 1, 1]))), ['001.png'], 'no temp file left');
    });
  });

  it('reports a failed write (disk full) and leaves neither tile nor temp file', { skip: !fs.existsSync('/dev/full') }, () => {
    withCache((c, dir) => {
      c.store([3, 1, 1], new Uint8Array([5]));
      // the temp name a fresh process uses first points at /dev/full: every write fails with ENOSPC
      const script = `
        import * as fs from 'node:fs';
        import { FileCache } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/cache/file-cache.ts'))};
        const c = new FileCache(${JSON.stringify(dir)}, 'png', 'tc');
        fs.symlinkSync('/dev/full', c.tilePath([3, 1, 1]) + '.' + process.pid + '.1.tmp');
        try {
          c.store([3, 1, 1], new Uint8Array(70000).fill(6));
          console.log('stored');
        } catch (e) {
          console.log('error', e.code);
        }
      `;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
      assert.equal(r.stdout.trim(), 'error ENOSPC', r.stderr);
      assert.deepEqual([...c.load([3, 1, 1])!.bytes], [5], 'the old tile stays');
      assert.deepEqual(fs.readdirSync(path.dirname(c.tilePath([3, 1, 1]))), ['001.png'], 'no temp file or link left');
    });
  });
});
