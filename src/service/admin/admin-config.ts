/**
 * `services.admin` of mapproxy.yaml, resolved against a built proxy: the API
 * token (token, token_file or $MAPPROXY_ADMIN_TOKEN), the jobs directory, the
 * bound on queued jobs and the reseed entries. Bad values are ConfigErrors
 * naming file, line and key path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configErrorAt } from '../../config/loader.ts';
import type { PathSegment } from '../../config/positions.ts';
import type { Proxy } from '../../core/build-proxy.ts';
import { ConfigError } from '../../errors.ts';
import { DEFAULT_JOB_OPTIONS } from '../../render/job-tasks.ts';
import type { ReseedSpec, RunnerContext } from '../../render/job-runner.ts';
import { loadSeedConf } from '../../seed/seed-config.ts';
import { parseDuration } from '../../seed/usage.ts';

/** Environment variable with the admin token, when the config has none. */
export const TOKEN_ENV = 'MAPPROXY_ADMIN_TOKEN';

/** Default bound on queued plus running jobs. */
export const DEFAULT_MAX_JOBS = 16;

/** The resolved services.admin. */
export interface AdminSettings {
  /** Bearer token; undefined: none configured (allowed only on --admin-bind). */
  token: string | undefined;
  jobsDir: string;
  maxJobs: number;
  reseed: ReseedSpec[];
}

type Dict = Record<string, unknown>;

const cache = new WeakMap<Proxy, AdminSettings | null>();

/** services.admin of a proxy (undefined when not configured); throws ConfigError. Resolved once per proxy. */
export function adminSettings(proxy: Proxy): AdminSettings | undefined {
  const known = cache.get(proxy);
  if (known !== undefined) return known ?? undefined;
  const services = (proxy.config.conf.services ?? {}) as Dict;
  if (!('admin' in services)) {
    cache.set(proxy, null);
    return undefined;
  }
  const s = resolve(proxy, (services.admin ?? {}) as Dict);
  cache.set(proxy, s);
  return s;
}

/**
 * Throws a ConfigError when services.admin is configured without a token and
 * its API would be served on the public binds (everything but --admin-bind).
 */
export function checkAdminConfig(proxy: Proxy, opts: { adminBind: boolean }): AdminSettings | undefined {
  const s = adminSettings(proxy);
  if (s && s.token === undefined && !opts.adminBind) {
    throw configErrorAt(proxy.config, ['services', 'admin'], `the seeding API needs 'token' or 'token_file' (or $${TOKEN_ENV}), unless it is served only on --admin-bind`);
  }
  return s;
}

/** What the job runner needs, from the current proxy; undefined without services.admin (or with a broken one). */
export function runnerContext(proxy: Proxy): RunnerContext | undefined {
  let s: AdminSettings | undefined;
  try {
    s = adminSettings(proxy);
  } catch {
    // reported where the config was loaded
    return undefined;
  }
  return s && { proxy, jobsDir: s.jobsDir, maxJobs: s.maxJobs, reseed: s.reseed };
}

function resolve(proxy: Proxy, conf: Dict): AdminSettings {
  const loaded = proxy.config;
  const fail = (p: PathSegment[], msg: string): never => {
    throw configErrorAt(loaded, ['services', 'admin', ...p], msg);
  };
  const dir = loaded.configDir;
  let token: string | undefined;
  if (conf.token != null) {
    token = String(conf.token).trim();
    if (!token) fail(['token'], 'the token is empty');
  } else if (conf.token_file != null) {
    const file = path.resolve(dir, String(conf.token_file));
    try {
      token = fs.readFileSync(file, 'utf8').trim();
    } catch (e) {
      fail(['token_file'], `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!token) fail(['token_file'], `${file} is empty`);
  } else {
    const env = process.env[TOKEN_ENV]?.trim();
    if (env) token = env;
  }
  if (token !== undefined && /\s/.test(token)) fail([conf.token != null ? 'token' : 'token_file'], 'the token must not contain white space');

  const jobsDir = conf.jobs_dir != null ? path.resolve(dir, String(conf.jobs_dir)) : path.join(proxy.cacheDir, '.mapproxy-jobs');
  let maxJobs = DEFAULT_MAX_JOBS;
  if (conf.max_jobs != null) {
    maxJobs = Number(conf.max_jobs);
    if (!Number.isInteger(maxJobs) || maxJobs < 1) fail(['max_jobs'], `expected an integer >= 1, found ${JSON.stringify(conf.max_jobs)}`);
  }

  const reseed: ReseedSpec[] = [];
  const entries = conf.reseed ?? [];
  if (!Array.isArray(entries)) fail(['reseed'], 'expected a list of entries with seed_conf and interval');
  (entries as Dict[]).forEach((e, i) => {
    const at = (k: PathSegment, msg: string) => fail(['reseed', i, k], msg);
    if (e === null || typeof e !== 'object') fail(['reseed', i], 'expected a mapping with seed_conf and interval');
    if (typeof e.seed_conf !== 'string' || !e.seed_conf) at('seed_conf', 'expected the path of a seed.yaml');
    const file = path.resolve(dir, e.seed_conf as string);
    if (!fs.existsSync(file)) at('seed_conf', `${file} not found`);
    let interval: number;
    if (typeof e.interval === 'number') interval = e.interval;
    else if (typeof e.interval === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(e.interval)) interval = Number(e.interval);
    else {
      try {
        interval = parseDuration(String(e.interval ?? ''), 'interval');
      } catch {
        at('interval', `expected seconds or a duration like 30m, 12h, 1d, found ${JSON.stringify(e.interval)}`);
      }
    }
    if (!(interval! > 0)) at('interval', 'expected a duration above 0');
    const concurrency = e.concurrency == null ? DEFAULT_JOB_OPTIONS.concurrency : Number(e.concurrency);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) at('concurrency', 'expected an integer from 1 to 64');
    const names = (k: 'seeds' | 'cleanups'): string[] | undefined => {
      const v = e[k];
      if (v == null) return undefined;
      if (!Array.isArray(v) || !v.every((n) => typeof n === 'string')) at(k, 'expected a list of names');
      return v as string[];
    };
    const seeds = names('seeds');
    const cleanups = names('cleanups') ?? [];
    // the names must exist now, not at the first reseed hours later
    try {
      const sc = loadSeedConf(file, proxy);
      for (const [k, given, known] of [['seeds', seeds, sc.seedNames], ['cleanups', cleanups, sc.cleanupNames]] as const) {
        const missing = (given ?? []).filter((n) => !known.includes(n));
        if (missing.length) at(k, `unknown in ${e.seed_conf}: ${missing.join(', ')} (available: ${known.join(', ') || 'none'})`);
      }
    } catch (err) {
      if (err instanceof ConfigError && !err.message.includes('services.admin')) at('seed_conf', err.message);
      throw err;
    }
    const key = `${e.seed_conf}${seeds ? `:${seeds.join(',')}` : ''}${cleanups.length ? `:cleanup=${cleanups.join(',')}` : ''}`;
    reseed.push({ key, interval: interval!, request: { type: 'seed_conf', seed_conf_file: file, seeds, cleanups, ...DEFAULT_JOB_OPTIONS, concurrency } });
  });
  return { token, jobsDir, maxJobs, reseed };
}
