/**
 * Layer dimensions (TIME, ELEVATION, dim_*): the allowed values from the
 * config (an ISO 8601 interval expanded as MapProxy does), the value checks of
 * a tile request, and the cache sub-directory per value combination.
 */
import { RequestError } from '../errors.ts';

/** One dimension of a layer: its identifier as configured, the allowed values and the default. */
export interface Dimension {
  identifier: string;
  values: readonly string[];
  default: string;
}

/** Dimensions by lower-case name. */
export type Dimensions = ReadonlyMap<string, Dimension>;

/** Most values one ISO 8601 interval may expand to: a typo like PT1S over years must not eat the memory. */
export const MAX_DIMENSION_VALUES = 100_000;

/**
 * A layer's `dimensions:` block. A single value of a dimension whose name
 * contains 'time' is an ISO 8601 interval (start/end/period, start/period,
 * period/end) expanded to every instant, as MapProxy does; a single other
 * value is split at '/'. Throws Error with a message for the config error.
 */
export function parseDimensions(conf: Record<string, { values?: unknown[]; default?: unknown }>): Map<string, Dimension> {
  const out = new Map<string, Dimension>();
  for (const [name, c] of Object.entries(conf)) {
    const raw = (c?.values ?? []).map(String);
    if (!raw.length) throw new Error(`dimension '${name}': values must not be empty`);
    let values: string[];
    if (raw.length === 1) values = name.toLowerCase().includes('time') ? expandIsoInterval(raw[0]) : raw[0].trim().split('/');
    else values = raw;
    const def = c.default != null ? String(c.default) : values[values.length - 1];
    out.set(name.toLowerCase(), { identifier: name, values, default: def });
  }
  return out;
}

/**
 * The values a request selects: each dimension of the layer gets the
 * requested value (case-insensitive name), or its default when absent or
 * 'default'. A value not in the list is a RequestError with MapProxy's tile
 * service message and `code` (InvalidParameterValue there; the WMS passes
 * the OGC WMS code InvalidDimensionValue).
 */
export function checkedDimensions(dims: Dimensions, requested: ReadonlyMap<string, string>, code = 'InvalidParameterValue'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, d] of dims) {
    const v = requested.get(name);
    if (v === undefined || v === '' || v === 'default') out[name] = d.default;
    else if (d.values.includes(v)) out[name] = v;
    else throw new RequestError(`invalid dimension value (${name}=${v}).`, 400, code);
  }
  return out;
}

/**
 * The values a WMS request gives for a layer's dimensions, by lower-case
 * dimension name: the parameter of the dimension's own name (TIME, ELEVATION,
 * DIM_LEVEL), or for other names (a dimension configured as `level`) the
 * DIM_ form WMS 1.3.0 Annex C prescribes for sample dimensions. `get` reads
 * a lower-case parameter name.
 */
export function wmsRequestedDimensions(dims: Dimensions, get: (name: string) => string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of dims.keys()) {
    let v = get(name);
    if (v === undefined && name !== 'time' && name !== 'elevation' && !name.startsWith('dim_')) v = get(`dim_${name}`);
    if (v !== undefined) out.set(name, v);
  }
  return out;
}

/**
 * The cache sub-directory of a value combination, MapProxy's layout
 * (`time-2020-08-25T00:00:00Z/dim_level-700`: predefined dimensions sorted,
 * then dim_* sorted, one directory each). Characters that could leave the
 * directory or confuse a file system ('/', '\\', NUL, control characters)
 * become '_': MapProxy would nest or fail there.
 */
export function dimensionsPath(dims: Record<string, string>): string {
  const keys = Object.keys(dims);
  const pre = keys.filter((k) => !k.startsWith('dim_')).sort();
  const custom = keys.filter((k) => k.startsWith('dim_')).sort();
  return [...pre, ...custom].map((k) => `${safeSegment(k)}-${safeSegment(dims[k])}`).join('/');
}

function safeSegment(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[/\\\u0000-\u001f\u007f]/g, '_');
}

interface Instant {
  /** milliseconds since the epoch (UTC) */
  ms: number;
  /** offset of the written zone in minutes; undefined = none given (naive) */
  offset: number | undefined;
}

interface Period {
  years: number;
  months: number;
  /** everything below months, in milliseconds */
  ms: number;
}

const DATETIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?(Z|[+-]\d{2}:?\d{2})?$/;
const PERIOD_RE = /^P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/** Expand `start/end/period`, `start/period`, `period/end` or one instant into ISO 8601 strings (MapProxy's parse_datetime_range). */
export function expandIsoInterval(text: string): string[] {
  const parts = text.trim().split('/');
  if (parts.length === 1) return [formatInstant(parseInstant(parts[0]))];
  let start: Instant;
  let end: Instant;
  let period: Period;
  if (parts.length === 2 && parts[1].startsWith('P')) {
    start = parseInstant(parts[0]);
    period = parsePeriod(parts[1]);
    end = addPeriod(start, period, 1);
  } else if (parts.length === 2 && parts[0].startsWith('P')) {
    period = parsePeriod(parts[0]);
    end = parseInstant(parts[1]);
    start = addPeriod(end, period, -1);
  } else if (parts.length === 3 && parts[2].startsWith('P')) {
    start = parseInstant(parts[0]);
    end = parseInstant(parts[1]);
    period = parsePeriod(parts[2]);
  } else {
    throw new Error(`'${text}' is not an ISO 8601 interval (start/end/period, start/period or period/end)`);
  }
  if (period.years === 0 && period.months === 0 && period.ms <= 0) throw new Error(`'${text}': the period must be longer than zero`);
  const out: string[] = [];
  // MapProxy's loop: while current < end + period (so an end on the step is included)
  const stop = addPeriod(end, period, 1).ms;
  for (let i = 0, cur = start; cur.ms < stop; i++, cur = addPeriod(start, period, i)) {
    if (out.length >= MAX_DIMENSION_VALUES) throw new Error(`'${text}' expands to more than ${MAX_DIMENSION_VALUES} values`);
    out.push(formatInstant(cur));
  }
  return out;
}

function parseInstant(s: string): Instant {
  const m = DATETIME_RE.exec(s.trim());
  if (!m) throw new Error(`'${s}' is not an ISO 8601 date and time (YYYY-MM-DDThh:mm[:ss[.ffffff]][Z|±hh:mm])`);
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  let offset: number | undefined;
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
  } else if (zone === 'Z') offset = 0;
  const fracMs = frac ? Number(`0.${frac}`) * 1000 : 0;
  const local = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec ?? 0)) + fracMs;
  if (Number.isNaN(local)) throw new Error(`'${s}' is not a valid date`);
  return { ms: local - (offset ?? 0) * 60000, offset };
}

function parsePeriod(s: string): Period {
  const m = PERIOD_RE.exec(s.trim());
  if (!m || s.trim() === 'P' || s.trim().endsWith('T')) throw new Error(`'${s}' is not an ISO 8601 period (PnYnMnWnDTnHnMnS)`);
  const n = (v: string | undefined) => (v ? Number(v.replace(',', '.')) : 0);
  const [, y, mo, w, d, h, mi, sec] = m;
  if (!Number.isInteger(n(y)) || !Number.isInteger(n(mo))) throw new Error(`'${s}': years and months must be whole numbers`);
  return { years: n(y), months: n(mo), ms: ((n(w) * 7 + n(d)) * 86400 + n(h) * 3600 + n(mi) * 60 + n(sec)) * 1000 };
}

/** start + k * period; months and years step in the written zone's calendar, clamped to the month's last day. */
function addPeriod(t: Instant, p: Period, k: number): Instant {
  let ms = t.ms;
  if (p.years || p.months) {
    const local = new Date(ms + (t.offset ?? 0) * 60000);
    const total = local.getUTCFullYear() * 12 + local.getUTCMonth() + k * (p.years * 12 + p.months);
    const year = Math.floor(total / 12);
    const month = total - year * 12;
    const lastDay = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    const day = Math.min(local.getUTCDate(), lastDay);
    const moved = Date.UTC(year, month, day, local.getUTCHours(), local.getUTCMinutes(), local.getUTCSeconds(), local.getUTCMilliseconds());
    ms = moved - (t.offset ?? 0) * 60000;
  }
  return { ms: ms + k * p.ms, offset: t.offset };
}

/** Python's isoformat() with +00:00 written as Z, as MapProxy prints the values. */
function formatInstant(t: Instant): string {
  const local = new Date(t.ms + (t.offset ?? 0) * 60000);
  const p2 = (v: number) => String(v).padStart(2, '0');
  let s = `${String(local.getUTCFullYear()).padStart(4, '0')}-${p2(local.getUTCMonth() + 1)}-${p2(local.getUTCDate())}T${p2(local.getUTCHours())}:${p2(local.getUTCMinutes())}:${p2(local.getUTCSeconds())}`;
  const micro = Math.round((((t.ms % 1000) + 1000) % 1000) * 1000);
  if (micro) s += `.${String(micro).padStart(6, '0')}`;
  if (t.offset === undefined) return s;
  if (t.offset === 0) return `${s}Z`;
  const a = Math.abs(t.offset);
  return `${s}${t.offset < 0 ? '-' : '+'}${p2(Math.floor(a / 60))}:${p2(a % 60)}`;
}
