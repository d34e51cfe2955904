import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
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

describe('FileCache', () => {
  it('stores atomically and loads bytes with mtime', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fc-'));
    try {
      const c = new FileCache(dir, 'png', 'tc');
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
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
