import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pyFixed } from '../../../src/service/kml/py-fixed.ts';

describe("pyFixed ('%f' as Python prints it)", () => {
  it('rounds exact ties to even and keeps the sign of negative zero results', () => {
    // expected values printed by CPython 3: '%f' % v
    const cases: [number, string][] = [
      [0, '0.000000'],
      [-0, '-0.000000'],
      [0.0078125, '0.007812'],
      [-0.0078125, '-0.007812'],
      [0.3515625, '0.351562'],
      [1.0546875, '1.054688'],
      [180, '180.000000'],
      [-180, '-180.000000'],
      [85.0511287798066, '85.051129'],
      [66.51326044311186, '66.513260'],
      [1e-9, '0.000000'],
      [-1e-9, '-0.000000'],
      [123456789.12345679, '123456789.123457'],
      [1e22, '10000000000000000000000.000000'],
      [5e-324, '0.000000'],
    ];
    for (const [v, want] of cases) assert.equal(pyFixed(v), want, String(v));
  });

  it('takes other precisions and non-finite values', () => {
    assert.equal(pyFixed(2.5, 0), '2');
    assert.equal(pyFixed(3.5, 0), '4');
    assert.equal(pyFixed(0.125, 2), '0.12');
    assert.equal(pyFixed(Infinity), 'inf');
    assert.equal(pyFixed(-Infinity), '-inf');
    assert.equal(pyFixed(NaN), 'nan');
  });
});
