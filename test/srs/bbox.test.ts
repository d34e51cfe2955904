/** MapProxy's own doctests for the bbox helpers in srs.py. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SrsError } from '../../src/errors.ts';
import { bboxEquals, calculateBbox, generateEnvelopePoints, mergeBbox } from '../../src/srs/bbox.ts';

describe('generateEnvelopePoints', () => {
  it('gives the corners for n <= 4', () => {
    assert.deepEqual(generateEnvelopePoints([10, 5, 20, 15], 4), [[10, 5], [20, 5], [20, 15], [10, 15]]);
  });
  it('adds edge midpoints for n = 8', () => {
    assert.deepEqual(generateEnvelopePoints([10, 5, 20, 15], 8), [
      [10, 5], [15, 5], [20, 5], [20, 10], [20, 15], [15, 15], [10, 15], [10, 10],
    ]);
  });
  it('gives 16 points for the default density', () => {
    assert.equal(generateEnvelopePoints([0, 0, 1, 1], 16).length, 16);
    assert.equal(generateEnvelopePoints([0, 0, 1, 1], 17).length, 20);
  });
});

describe('calculateBbox', () => {
  it('is the min/max of the points', () => {
    assert.deepEqual(calculateBbox([[-5, 20], [3, 8], [99, 0]]), [-5, 0, 99, 20]);
  });
  it('ignores points that failed to transform', () => {
    assert.deepEqual(calculateBbox([[Infinity, Infinity], [1, 2], [3, 4]]), [1, 2, 3, 4]);
  });
  it('throws SrsError when every point failed', () => {
    assert.throws(() => calculateBbox([[Infinity, Infinity]]), SrsError);
  });
});

describe('mergeBbox / bboxEquals', () => {
  it('merges', () => {
    assert.deepEqual(mergeBbox([-10, 20, 0, 30], [30, -20, 90, 10]), [-10, -20, 90, 30]);
  });
  it('compares with a tolerance', () => {
    const a: [number, number, number, number] = [939258.20356824622, 6887893.4928338043, 1095801.2374962866, 7044436.5267618448];
    const b: [number, number, number, number] = [939258.20260000182, 6887893.4908000007, 1095801.2365000017, 7044436.5247000009];
    assert.ok(bboxEquals(a, b, 61.1, 61.1));
    assert.ok(!bboxEquals(a, b, 0.0001));
  });
});
