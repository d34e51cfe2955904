import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arcgisPath, quadkey, substituteTileUrl, tcPath, tmsPath, unknownTemplateVars } from '../../src/source/tile-url.ts';
import { splitAuth } from '../../src/source/http-client.ts';

// Expected values are MapProxy 1.15's doctests (mapproxy/client/tile.py).
describe('tile URL templates', () => {
  it('substitutes x, y, z and format', () => {
    assert.equal(substituteTileUrl('http://foo/tiles/%(z)s/%(x)d/%(y)s.png', [7, 4, 3], 'png'), 'http://foo/tiles/3/7/4.png');
    assert.equal(substituteTileUrl('http://foo/tms/1.0.0/lyr/%(tms_path)s.%(format)s', [7, 4, 3], 'jpeg'), 'http://foo/tms/1.0.0/lyr/3/7/4.jpeg');
  });
  it('builds tc, tms, arcgis paths and quadkeys', () => {
    assert.equal(tcPath([7, 4, 3]), '03/000/000/007/000/000/004');
    assert.equal(tcPath([1234567, 87654321, 9]), '09/001/234/567/087/654/321');
    assert.equal(tmsPath([1234567, 87654321, 9]), '9/1234567/87654321');
    assert.equal(arcgisPath([1234567, 87654321, 9]), 'L09/R05397fb1/C0012d687');
    assert.equal(quadkey([0, 0, 1]), '0');
    assert.equal(quadkey([1, 0, 1]), '1');
    assert.equal(quadkey([1, 2, 2]), '21');
  });
  it('formats %(bbox)s with 8 decimals', () => {
    assert.equal(substituteTileUrl('x?bbox=%(bbox)s', [0, 0, 0], 'png', [0, -15, 10, -5]), 'x?bbox=0.00000000,-15.00000000,10.00000000,-5.00000000');
  });
  it('names unknown variables', () => {
    assert.deepEqual(unknownTemplateVars('http://a/%(z)s/%(col)s/%(row)s'), ['col', 'row']);
  });
  it('moves user:pass@ into a Basic header and out of the URL', () => {
    assert.deepEqual(splitAuth('http://me:s%40cret@host/t/%(z)s'), { url: 'http://host/t/%(z)s', authorization: 'Basic ' + btoa('me:s@cret') });
    assert.deepEqual(splitAuth('http://host/x'), { url: 'http://host/x' });
  });
});
