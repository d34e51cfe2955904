/**
 * Seeding jobs as requests: the body of POST /admin/seed (JSON or YAML: an
 * uploaded seed.yaml, a seed.yaml document, or the quick fields of `mapproxy
 * seed --cache`) into a stored JobRequest, and a JobRequest into seed and
 * cleanup tasks against a built proxy. Both are checked when the job is
 * submitted, so a bad body is a 400 naming the field, and again when the job
 * runs (the configuration may have been reloaded meanwhile).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.ts';
import { ConfigErrors } from '../config/validate.ts';
import type { Proxy } from '../core/build-proxy.ts';
import { loadSeedConf, parseLevelsArg, type CleanupTask, type SeedTask } from '../seed/seed-config.ts';
import { parseBboxArg, parseBefore, quickTasks, type SeedArgs } from '../seed/run-seed.ts';
import { SeedUsageError } from '../seed/usage.ts';
import type { JobOptions, JobRequest, QuickRequest, SeedConfRequest } from './jobs.ts';

type Dict = Record<string, unknown>;

/** A bad request body: the message and the field it is about. */
export class JobRequestError extends Error {
  override name = 'JobRequestError';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** A parsed submission: the request to store and the files that go with it. */
export interface Submission {
  request: JobRequest;
  /** seed.yaml text to store as ID.seed.yaml. */
  seedConfText?: string;
  /** Coverage (GeoJSON or WKT) to store as ID.coverage. */
  coverageText?: string;
}

/** Where a job's uploaded files are. */
export interface JobFiles {
  seedConf: string;
  coverage: string;
}

/** Defaults of the seed options, as `mapproxy seed`. */
export const DEFAULT_JOB_OPTIONS: JobOptions = { concurrency: 2, max_retries: 5, retry_delay: 2 };

const OPTION_FIELDS = ['concurrency', 'max_retries', 'retry_delay'];
const SEED_CONF_FIELDS = ['seed_conf_text', 'seeds', 'cleanups', ...OPTION_FIELDS];
const QUICK_FIELDS = ['cache', 'grid', 'grids', 'levels', 'bbox', 'bbox_srs', 'coverage', 'coverage_srs', 'refresh_before', 'cleanup', 'remove_before', 'remove_all', ...OPTION_FIELDS];
const DOCUMENT_KEYS = ['seeds', 'cleanups', 'coverages'];

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSON or YAML text into data; YAML syntax errors name the line. */
function parseBody(text: string, contentType: string | null): unknown {
  const ct = (contentType ?? '').toLowerCase();
  if (!text.trim()) throw new JobRequestError('empty body: expected JSON or YAML', 'body');
  if (ct.includes('json')) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new JobRequestError(`invalid JSON: ${(e as Error).message}`, 'body');
    }
  }
  if (!ct.includes('yaml')) {
    try {
      return JSON.parse(text);
    } catch {
      /* YAML below (JSON is YAML too, so its errors would be the same) */
    }
  }
  const doc = parseDocument(text);
  if (doc.errors.length) {
    const err = doc.errors[0];
    const line = err.linePos?.[0]?.line;
    throw new JobRequestError(`YAML syntax error${line ? ` at line ${line}` : ''}: ${err.message.split('\n')[0]}`, 'body');
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new JobRequestError(`invalid YAML: ${(e as Error).message}`, 'body');
  }
}

/** A list of names: `[a, b]` or `"a,b"`; `ALL` (or absent) means all: undefined. */
function names(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  let list: unknown[];
  if (typeof v === 'string') list = v.split(',');
  else if (Array.isArray(v)) list = v;
  else throw new JobRequestError(`${field}: expected a list of names or a comma separated string`, field);
  const out = list.map((n) => {
    if (typeof n !== 'string' && typeof n !== 'number') throw new JobRequestError(`${field}: expected names, found ${JSON.stringify(n)}`, field);
    return String(n).trim();
  }).filter(Boolean);
  if (out.length === 1 && out[0] === 'ALL') return undefined;
  return out;
}

function numberField(d: Dict, field: string, dflt: number, opts: { integer?: boolean; min: number; max: number }): number {
  const v = d[field];
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || (opts.integer && !Number.isInteger(n)) || n < opts.min || n > opts.max) {
    throw new JobRequestError(`${field}: expected ${opts.integer ? 'an integer' : 'a number'} from ${opts.min} to ${opts.max}, found ${JSON.stringify(v)}`, field);
  }
  return n;
}

/** concurrency, max_retries, retry_delay of a body or query. */
export function jobOptions(d: Dict): JobOptions {
  return {
    concurrency: numberField(d, 'concurrency', DEFAULT_JOB_OPTIONS.concurrency, { integer: true, min: 1, max: 64 }),
    max_retries: numberField(d, 'max_retries', DEFAULT_JOB_OPTIONS.max_retries, { integer: true, min: 0, max: 100 }),
    retry_delay: numberField(d, 'retry_delay', DEFAULT_JOB_OPTIONS.retry_delay, { min: 0, max: 600 }),
  };
}

function stringField(d: Dict, field: string): string | undefined {
  const v = d[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string' || !v.trim()) throw new JobRequestError(`${field}: expected a non-empty string, found ${JSON.stringify(v)}`, field);
  return v.trim();
}

function boolField(d: Dict, field: string): boolean | undefined {
  const v = d[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw new JobRequestError(`${field}: expected true or false, found ${JSON.stringify(v)}`, field);
  return v;
}

function checkFields(d: Dict, allowed: string[], form: string): void {
  for (const k of Object.keys(d)) if (!allowed.includes(k)) throw new JobRequestError(`unknown field '${k}' for ${form} (known: ${allowed.join(', ')})`, k);
}

/**
 * The body of POST /admin/seed into a submission: `{seed_conf_text, seeds,
 * cleanups}`, a seed.yaml document (names from ?seeds=&cleanups=), or the
 * quick fields. Throws JobRequestError naming the field.
 */
export function parseSubmission(text: string, contentType: string | null, query: URLSearchParams): Submission {
  const data = parseBody(text, contentType);
  if (!isDict(data)) throw new JobRequestError('expected a mapping (JSON object or YAML document)', 'body');
  if ('base' in data) throw new JobRequestError("'base' is not allowed in an uploaded seed configuration", 'base');
  if ('seed_conf_text' in data) {
    checkFields(data, SEED_CONF_FIELDS, 'an uploaded seed.yaml');
    const conf = data.seed_conf_text;
    if (typeof conf !== 'string' || !conf.trim()) throw new JobRequestError('seed_conf_text: expected the text of a seed.yaml', 'seed_conf_text');
    return { request: seedConfRequest(data.seeds, data.cleanups, jobOptions(data)), seedConfText: conf };
  }
  if (DOCUMENT_KEYS.some((k) => isDict(data[k]))) {
    // the body is the seed.yaml itself: stored as sent, so errors keep its line numbers
    const q = Object.fromEntries(query) as Dict;
    checkFields(q, ['seeds', 'cleanups', ...OPTION_FIELDS], 'a seed.yaml document (query parameters)');
    return { request: seedConfRequest(q.seeds, q.cleanups, jobOptions(q)), seedConfText: text };
  }
  if ('cache' in data) return quickSubmission(data);
  throw new JobRequestError('expected seed_conf_text, a seed.yaml document (seeds:, cleanups:, coverages:) or the quick fields (cache, levels, bbox ...)', 'cache');
}

function seedConfRequest(seeds: unknown, cleanups: unknown, opts: JobOptions): SeedConfRequest {
  const r: SeedConfRequest = { type: 'seed_conf', ...opts };
  const seedsGiven = seeds !== undefined && seeds !== null;
  const cleanupsGiven = cleanups !== undefined && cleanups !== null;
  // as mapproxy seed: neither named runs all of both; naming only seeds runs no cleanups, and the other way round
  if (seedsGiven) {
    r.seeds = names(seeds, 'seeds');
    if (!cleanupsGiven) r.cleanups = [];
  }
  if (cleanupsGiven) {
    r.cleanups = names(cleanups, 'cleanups');
    if (!seedsGiven) r.seeds = [];
  }
  return r;
}

function quickSubmission(d: Dict): Submission {
  checkFields(d, QUICK_FIELDS, 'the quick form');
  const cache = stringField(d, 'cache');
  if (!cache) throw new JobRequestError('cache: expected the name of a cache', 'cache');
  const r: QuickRequest = { type: 'quick', cache, ...jobOptions(d) };
  const gridField = 'grids' in d ? 'grids' : 'grid';
  const grids = names(d[gridField], gridField);
  if (grids?.length) r.grids = grids;

  const levels = d.levels;
  if (levels !== undefined && levels !== null) {
    let s: string;
    if (typeof levels === 'number') s = String(levels);
    else if (typeof levels === 'string') s = levels;
    else if (Array.isArray(levels) && levels.length && levels.every((l) => typeof l === 'number')) s = levels.join(',');
    else throw new JobRequestError(`levels: expected e.g. "0-10", "3,5,7" or [0, 1, 2], found ${JSON.stringify(levels)}`, 'levels');
    try {
      parseLevelsArg(s);
    } catch (e) {
      throw new JobRequestError(`levels: ${(e as Error).message}`, 'levels');
    }
    r.levels = s;
  }

  const bbox = d.bbox;
  if (bbox !== undefined && bbox !== null) {
    let s: string;
    if (typeof bbox === 'string') s = bbox;
    else if (Array.isArray(bbox) && bbox.every((v) => typeof v === 'number')) s = bbox.join(',');
    else throw new JobRequestError(`bbox: expected [minx, miny, maxx, maxy] or "minx,miny,maxx,maxy", found ${JSON.stringify(bbox)}`, 'bbox');
    try {
      parseBboxArg(s, 'bbox');
    } catch (e) {
      throw new JobRequestError((e as Error).message, 'bbox');
    }
    r.bbox = s;
  }
  const bboxSrs = stringField(d, 'bbox_srs');
  if (bboxSrs) r.bbox_srs = bboxSrs;

  let coverageText: string | undefined;
  const cov = d.coverage;
  if (cov !== undefined && cov !== null) {
    if (r.bbox !== undefined) throw new JobRequestError('give either bbox or coverage, not both', 'coverage');
    if (isDict(cov)) coverageText = JSON.stringify(cov);
    else if (typeof cov === 'string' && cov.trim()) coverageText = cov;
    else throw new JobRequestError('coverage: expected a GeoJSON object or the text of a GeoJSON or WKT geometry', 'coverage');
    r.coverage = true;
  }
  const covSrs = stringField(d, 'coverage_srs');
  if (covSrs) r.coverage_srs = covSrs;

  const cleanup = boolField(d, 'cleanup');
  if (cleanup) r.cleanup = true;
  const removeAll = boolField(d, 'remove_all');
  if (removeAll) r.remove_all = true;
  for (const f of ['refresh_before', 'remove_before'] as const) {
    const v = stringField(d, f);
    if (v === undefined) continue;
    let ts: number;
    try {
      ts = parseBefore(v, f);
    } catch (e) {
      throw new JobRequestError((e as Error).message, f);
    }
    // an age (7d) counts from the submission, so a job resumed after a restart keeps its tiles fresh
    r[f] = /^\s*\d{4}-/.test(v) ? v : new Date(ts * 1000).toISOString();
  }
  return { request: r, coverageText };
}

/** The SeedArgs of `mapproxy seed --cache ...` for a quick request. */
function quickArgs(r: QuickRequest, coverageFile: string): SeedArgs {
  return {
    concurrency: r.concurrency,
    dryRun: false,
    summary: false,
    quiet: 2,
    interactive: false,
    cleanupNames: r.cleanup ? [] : undefined,
    skipUncached: false,
    skipGeomsForLastLevels: 0,
    useCacheLock: false,
    continueSeed: false,
    maxRetries: r.max_retries,
    retryDelay: r.retry_delay,
    maxRate: 0,
    maxFailures: 10,
    cache: r.cache,
    grids: r.grids,
    levels: r.levels,
    bbox: r.bbox,
    bboxSrs: r.bbox_srs,
    coverageFile: r.coverage ? coverageFile : undefined,
    coverageSrs: r.coverage_srs,
    refreshBefore: r.refresh_before,
    removeBefore: r.remove_before,
    removeAll: r.remove_all === true,
  };
}

/** Command line flags in quickTasks' messages -> the API's field names. */
const FLAG_FIELDS: [RegExp, string][] = [
  [/^--bbox-srs\b/, 'bbox_srs'],
  [/^--bbox\b/, 'bbox'],
  [/^--levels\b/, 'levels'],
  [/^--coverage-srs\b/, 'coverage_srs'],
  [/^--coverage-file\b/, 'coverage'],
  [/^--refresh-before\b/, 'refresh_before'],
  [/^--remove-before\b/, 'remove_before'],
  [/^unknown cache|^can't seed cache/, 'cache'],
  [/^grid '/, 'grid'],
  [/^give either/, 'coverage'],
  [/^the area does not meet|^coverage transformation/, 'bbox'],
];

function quickError(e: SeedUsageError, r: QuickRequest, coverageFile: string): JobRequestError {
  let field = 'cache';
  for (const [re, f] of FLAG_FIELDS) {
    if (re.test(e.message)) {
      field = f;
      break;
    }
  }
  if (field === 'bbox' && r.coverage && !r.bbox) field = 'coverage';
  const msg = e.message
    .replaceAll(coverageFile, 'coverage')
    .replace(/--coverage-file/g, 'coverage')
    .replace(/--(bbox-srs|bbox|levels|coverage-srs|refresh-before|remove-before|remove-all|cleanup)\b/g, (_m, f: string) => f.replace(/-/g, '_'));
  return new JobRequestError(msg, field);
}

/** `seed.yaml:5: seeds.s1.caches[0]: ...` with the upload's file name hidden. */
function describeConfigError(e: ConfigError, label: string | undefined): { message: string; path: string } {
  const one = (c: ConfigError) => {
    const loc = c.location;
    if (!loc) return c.message;
    const where = `${label ?? loc.file}${loc.line ? `:${loc.line}` : ''}`;
    return `${where}: ${loc.path ? `${loc.path}: ` : ''}${c.detail}`;
  };
  const all = e instanceof ConfigErrors ? e.errors : [e];
  return { message: all.map(one).join('\n'), path: all[0].location?.path ?? '' };
}

const FILE_KEYS = ['datasource', 'polygons', 'ogr_datasource', 'expire_tiles'];

/**
 * Coverage files named by an uploaded seed.yaml must lie in the directory of
 * mapproxy.yaml (or below it): an upload must not read other files of the server.
 */
function checkUploadPaths(file: string, configDir: string): void {
  let data: unknown;
  try {
    data = parseDocument(fs.readFileSync(file, 'utf8')).toJS({ maxAliasCount: 100 });
  } catch {
    return; // loadSeedConf reports it
  }
  const root = path.resolve(configDir);
  const walk = (cov: unknown, at: string) => {
    if (!isDict(cov)) return;
    for (const k of FILE_KEYS) {
      const v = cov[k];
      if (typeof v !== 'string' || (k === 'datasource' && /^[-+\d.,\s_eE]+$/.test(v))) continue;
      const abs = path.resolve(root, v);
      if (abs !== root && !abs.startsWith(`${root}${path.sep}`)) throw new JobRequestError(`${at}.${k}: an uploaded seed.yaml may only name files in the configuration directory`, `${at}.${k}`);
    }
    for (const op of ['union', 'intersection', 'difference']) {
      const list = cov[op];
      if (Array.isArray(list)) list.forEach((sub, i) => walk(sub, `${at}.${op}[${i}]`));
    }
  };
  const covs = isDict(data) ? data.coverages : undefined;
  if (isDict(covs)) for (const [name, c] of Object.entries(covs)) walk(c, `coverages.${name}`);
}

/**
 * The seed and cleanup tasks of a request against `proxy`; throws
 * JobRequestError naming the field (or the key path in the seed.yaml).
 */
export function buildJobTasks(r: JobRequest, proxy: Proxy, files: JobFiles): { seeds: SeedTask[]; cleanups: CleanupTask[] } {
  let out: { seeds: SeedTask[]; cleanups: CleanupTask[] };
  if (r.type === 'quick') {
    try {
      out = quickTasks(quickArgs(r, files.coverage), proxy);
    } catch (e) {
      if (e instanceof SeedUsageError) throw quickError(e, r, files.coverage);
      throw e;
    }
  } else {
    const upload = r.seed_conf_file === undefined;
    const file = r.seed_conf_file ?? files.seedConf;
    const docField = upload ? 'seed_conf_text' : 'seed_conf';
    if (upload) checkUploadPaths(file, proxy.config.configDir);
    try {
      // an upload gets no $ENV substitution: it must not read the server's environment
      const conf = loadSeedConf(file, proxy, { env: upload ? {} : undefined });
      for (const [field, given, known] of [['seeds', r.seeds, conf.seedNames], ['cleanups', r.cleanups, conf.cleanupNames]] as const) {
        const missing = (given ?? []).filter((n) => !known.includes(n));
        if (missing.length) throw new JobRequestError(`unknown ${field === 'seeds' ? 'seed' : 'cleanup'} task${missing.length > 1 ? 's' : ''}: ${missing.join(', ')} (available: ${known.join(', ') || 'none'})`, field);
      }
      out = {
        seeds: r.seeds && !r.seeds.length ? [] : conf.seeds(r.seeds),
        cleanups: r.cleanups && !r.cleanups.length ? [] : conf.cleanups(r.cleanups),
      };
    } catch (e) {
      if (e instanceof ConfigError) {
        const d = describeConfigError(e, upload ? 'seed.yaml' : undefined);
        throw new JobRequestError(d.message, d.path || docField);
      }
      throw e;
    }
  }
  if (!out.seeds.length && !out.cleanups.length) throw new JobRequestError('no seed or cleanup tasks to run', r.type === 'quick' ? 'cache' : 'seeds');
  return out;
}
