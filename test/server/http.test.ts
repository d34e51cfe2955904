import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { tileEtag } from '../../src/server/http.ts';

// md5(str(st_mtime) + str(size)) as MapProxy computes it, from Python 3:
// hashlib.md5((str(t) + str(s)).encode()).hexdigest()
const MAPPROXY = {
  a: [1763739383.1234567, 864, '32dfe82f9dfaef1447bf2fcf4b94d43b'],
  b: [1763739383.1234567, 871, '6fdf5be524b3bd34b2d7d85c3f0d9e1a'],
  c: [1700000000.0, 5, '6d55ce593f7ae10a7df82536d8d2bcd1'],
} as const;

describe('tileEtag', () => {
  it("is MapProxy's md5 of the Python float mtime and the size", () => {
    for (const [mtime, size, etag] of Object.values(MAPPROXY)) assert.equal(tileEtag(mtime, size), etag);
  });

  it('tells tiles with one mtime apart by their size, asked in any order', () => {
    // tiles written within one clock tick share their mtime: a meta tile's 16, a fast seed's thousands
    const { a, b } = MAPPROXY;
    for (let i = 0; i < 3; i++) {
      assert.equal(tileEtag(a[0], a[1]), a[2]);
      assert.equal(tileEtag(b[0], b[1]), b[2]);
    }
    assert.equal(tileEtag(b[0], b[1]), b[2]);
    assert.equal(tileEtag(a[0], a[1]), a[2]);
  });
});
