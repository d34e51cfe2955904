/** The options of `mapproxy serve` and of its worker processes, with parsing and checks. */
import * as os from 'node:os';
import { ConfigError } from '../errors.ts';
import type { LogLevel } from '../log/logger.ts';
import type { ListenTarget } from '../runtime/listen.ts';

/** A public address: TCP host and port, or a UNIX socket path. */
export type Bind = { kind: 'tcp'; hostname: string; port: number } | { kind: 'unix'; path: string };

/** What serve-multiapp adds: `config` is a directory of NAME.yaml files, each served at /NAME/. */
export interface MultiappOptions {
  /** Show an index of all configs at / (MapProxy's allow_listing). */
  allowListing: boolean;
}

/** Everything `mapproxy serve` (and `serve-multiapp`) is told on its command line. */
export interface ServeOptions {
  /** The config file, or with multiapp the config directory. */
  config: string;
  /** serve-multiapp: a directory of configs instead of one. */
  multiapp?: MultiappOptions;
  binds: Bind[];
  workers: number;
  /** Requests after which a worker is replaced (0: never). */
  maxRequests: number;
  /** Up to this many extra requests per worker, so workers do not all restart at once. */
  maxRequestsJitter: number;
  /** Seconds a request may run before it is answered 503 (0: no limit); also the worker watchdog. */
  timeout: number;
  /** Seconds a stopping worker gets to finish its requests. */
  gracefulTimeout: number;
  /** Seconds an idle keep-alive connection stays open (0: no keep-alive). */
  keepalive: number;
  accessLog?: string;
  errorLog: string;
  logLevel: LogLevel;
  pidFile?: string;
  /** A MapProxy log.ini; replaces --error-log and --log-level. */
  logConfig?: string;
  /** Peers whose proxy headers count (--trusted-proxies), as given. */
  trustedProxies?: string;
  /** Add X-MapProxy-Worker: PID to responses. */
  debug: boolean;
  /** --admin-bind: the seeding API on this TCP address only (served by the worker in slot 0). */
  adminBind?: Bind;
  /** MB of recently served tiles each worker keeps in memory (0: none). */
  tileMemory: number;
}

/** What one worker process is told (as JSON in MAPPROXY_SERVE_WORKER). */
export interface WorkerSpec {
  /** The config file, or with multiapp the config directory. */
  config: string;
  multiapp?: MultiappOptions;
  /** The supervisor's summed /metrics document: answered by every worker instead of its own counters. */
  metricsFile?: string;
  listen: ListenTarget[];
  timeout: number;
  gracefulTimeout: number;
  keepalive: number;
  /** This worker's own request limit, jitter included (0: none). */
  maxRequests: number;
  accessLog?: string;
  errorLog: string;
  logLevel: LogLevel;
  logConfig?: string;
  trustedProxies?: string;
  debug: boolean;
  /** Pid of the supervisor: a worker whose parent changed is orphaned and stops. */
  parentPid: number;
  /** Workers of the group: they share globals.render.concurrency. */
  workers?: number;
  /** This worker runs the seeding jobs (slot 0; a replacement may overlap briefly, the runner lock keeps them apart). */
  runJobs?: boolean;
  /** --admin-bind was given: the main addresses do not serve /admin. */
  adminSeparate?: boolean;
  /** The --admin-bind address this worker serves the seeding API on (slot 0). */
  adminListen?: ListenTarget;
  /** MB of recently served tiles to keep in memory (0 or absent: none). */
  tileMemory?: number;
}

/** Default of --tile-memory: MB of recently served tiles each worker keeps. */
export const DEFAULT_TILE_MEMORY_MB = 8;

/** Environment variable carrying the WorkerSpec of a worker process. */
export const WORKER_ENV = 'MAPPROXY_SERVE_WORKER';

/** `unix:/path/to.sock` or `[HOST:]PORT`. */
export function parseServeBind(s: string): Bind {
  if (s.startsWith('unix:')) {
    const p = s.slice(5);
    if (!p) throw new Error(`invalid bind address '${s}': expected unix:PATH`);
    // sun_path holds 108 bytes on Linux (104 on BSDs) including the terminating NUL
    if (Buffer.byteLength(p) > 103) throw new Error(`invalid bind address '${s}': UNIX socket path longer than 103 bytes`);
    return { kind: 'unix', path: p };
  }
  return { kind: 'tcp', ...parseBind(s) };
}

/** A bind as gunicorn prints it: `http://127.0.0.1:8080` or `unix:/run/x.sock`. */
export function formatBind(b: Bind): string {
  if (b.kind === 'unix') return `unix:${b.path}`;
  return `http://${b.hostname.includes(':') ? `[${b.hostname}]` : b.hostname}:${b.port}`;
}

/** Number of processors we may use: the default worker count. */
export function defaultWorkers(): number {
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length || 1;
}

const LEVELS: Record<string, LogLevel> = { debug: 'debug', info: 'info', warning: 'warning', warn: 'warning', error: 'error', critical: 'critical', off: 'off' };

/** A log level name as gunicorn and Python spell them. */
export function parseLogLevel(s: string): LogLevel {
  const l = LEVELS[s.toLowerCase()];
  if (!l) throw new Error(`invalid log level '${s}': expected debug, info, warning, error or critical`);
  return l;
}

/** A non-negative number option; integer when asked. */
export function parseCount(name: string, s: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number {
  const n = Number(s);
  const min = opts.min ?? 0;
  if (s.trim() === '' || !Number.isFinite(n) || n < min || (opts.max !== undefined && n > opts.max) || (opts.integer && !Number.isInteger(n))) {
    const range = opts.max !== undefined ? `${min}..${opts.max}` : `>= ${min}`;
    throw new Error(`invalid ${name} '${s}': expected ${opts.integer ? 'an integer' : 'a number'} ${range}`);
  }
  return n;
}

/** `[HOST:]PORT` -> host and port; MapProxy's default host is localhost. */
export function parseBind(bind: string): { hostname: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(bind.trim());
  if (!m || Number(m[2]) > 65535) throw new Error(`invalid bind address '${bind}': expected [HOST:]PORT`);
  return { hostname: m[1] || 'localhost', port: Number(m[2]) };
}

/** Default address of `mapproxy renderd` (loopback: the protocol has no authentication). */
export const DEFAULT_RENDERD_BIND = '127.0.0.1:8191';

/** What serve reports when config could not be loaded: a ConfigError or a missing file as it is, anything else with the file named. */
export function configLoadProblem(config: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err instanceof ConfigError || err?.code === 'ENOENT' ? err.message : `cannot load ${config}: ${err?.message ?? err}`;
}
