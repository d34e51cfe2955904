import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pyFloat, xmlEscape } from '../../src/util/py-format.ts';

describe('pyFloat', () => {
  it('prints floats as Python repr does, including next to powers of ten', () => {
    // expected values from python3 -c 'print(repr(x))'
    const cases: [number, string][] = [
      [9999999999999998, '9999999999999998.0'],
      [0.00009999999999999999, '9.999999999999999e-05'],
      [1e16, '1e+16'],
      [0.0001, '0.0001'],
      [123.456, '123.456'],
      [1e-5, '1e-05'],
      [-180, '-180.0'],
      [0, '0.0'],
    ];
    for (const [n, want] of cases) assert.equal(pyFloat(n), want, String(n));
  });

  it('escapes XML special characters', () => {
    assert.equal(xmlEscape(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});
