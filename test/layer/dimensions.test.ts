import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkedDimensions, dimensionsPath, expandIsoInterval, parseDimensions } from '../../src/layer/dimensions.ts';
import { RequestError } from '../../src/errors.ts';

describe('expandIsoInterval', () => {
  // expected values from MapProxy 1.15's parse_datetime_range
  it('expands start/end/period including the end', () => {
    assert.deepEqual(expandIsoInterval('2020-03-25T12:00:00Z/2020-03-26T00:00:00Z/PT6H'), ['2020-03-25T12:00:00Z', '2020-03-25T18:00:00Z', '2020-03-26T00:00:00Z']);
  });
  it('expands start/period and period/end', () => {
    assert.deepEqual(expandIsoInterval('2020-01-01T00:00:00Z/P1D'), ['2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z']);
    assert.deepEqual(expandIsoInterval('P1D/2020-01-03T00:00:00Z'), ['2020-01-02T00:00:00Z', '2020-01-03T00:00:00Z']);
  });
  it('keeps a written offset and fractions of seconds', () => {
    assert.deepEqual(expandIsoInterval('2020-01-01T00:00:00+02:00/2020-01-01T02:00:00+02:00/PT1H'), ['2020-01-01T00:00:00+02:00', '2020-01-01T01:00:00+02:00', '2020-01-01T02:00:00+02:00']);
    assert.deepEqual(expandIsoInterval('2020-03-25T12:00:00.5Z/2020-03-25T12:00:02Z/PT0.5S'), ['2020-03-25T12:00:00.500000Z', '2020-03-25T12:00:01Z', '2020-03-25T12:00:01.500000Z', '2020-03-25T12:00:02Z']);
  });
  it('steps months in the calendar, clamped to the last day', () => {
    assert.deepEqual(expandIsoInterval('2020-01-31T00:00:00Z/2020-04-30T00:00:00Z/P1M'), ['2020-01-31T00:00:00Z', '2020-02-29T00:00:00Z', '2020-03-31T00:00:00Z', '2020-04-30T00:00:00Z']);
  });
  it('rejects what is not an interval, a zero period and runaway expansions', () => {
    assert.throws(() => expandIsoInterval('2020-01-01/2020-01-03/P1D'), /not an ISO 8601 date/);
    assert.throws(() => expandIsoInterval('2020-01-01T00:00:00Z/2020-01-03T00:00:00Z/PT0S'), /longer than zero/);
    assert.throws(() => expandIsoInterval('2000-01-01T00:00:00Z/2020-01-01T00:00:00Z/PT1S'), /more than/);
    assert.throws(() => expandIsoInterval('2020-01-01T00:00:00Z/2020-01-03T00:00:00Z/1D'), /not an ISO 8601 interval/);
  });
});

describe('layer dimensions', () => {
  const dims = parseDimensions({ Time: { values: ['2020-01-01T00:00:00Z/P1D'] }, elevation: { values: ['0/500/1000'] }, dim_level: { values: [700, 850], default: 850 } });
  it('parses values as MapProxy: time intervals expanded, other single values split at /, default the last', () => {
    assert.deepEqual(dims.get('time')!.values, ['2020-01-01T00:00:00Z', '2020-01-02T00:00:00Z']);
    assert.equal(dims.get('time')!.identifier, 'Time');
    assert.equal(dims.get('time')!.default, '2020-01-02T00:00:00Z');
    assert.deepEqual(dims.get('elevation')!.values, ['0', '500', '1000']);
    assert.equal(dims.get('dim_level')!.default, '850');
  });
  it('checks request values, fills defaults and refuses unknown values', () => {
    assert.deepEqual(checkedDimensions(dims, new Map([['time', '2020-01-01T00:00:00Z'], ['elevation', 'default']])), { time: '2020-01-01T00:00:00Z', elevation: '1000', dim_level: '850' });
    assert.throws(() => checkedDimensions(dims, new Map([['elevation', '3']])), (e: unknown) => e instanceof RequestError && e.code === 'InvalidParameterValue');
  });
  it('cache paths follow MapProxy (predefined sorted, then dim_*), with unsafe characters replaced', () => {
    assert.equal(dimensionsPath({ time: '2020-08-25T00:00:00Z', dim_reference_time: 'x', dim_level: '700' }), 'time-2020-08-25T00:00:00Z/dim_level-700/dim_reference_time-x');
    assert.equal(dimensionsPath({ elevation: '../../etc' }), 'elevation-.._.._etc');
    assert.equal(dimensionsPath({ time: 'a\u0000b\\c' }), 'time-a_b_c');
    assert.equal(dimensionsPath({}), '');
  });
});
