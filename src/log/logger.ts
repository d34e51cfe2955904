/**
 * Hierarchical loggers named as MapProxy names them (mapproxy.system,
 * mapproxy.config, mapproxy.source.request, ...), with Python logging's
 * semantics: a level per logger (inherited from the nearest configured
 * ancestor), handlers per logger, records passed up to the ancestors'
 * handlers unless `propagate` is off. Handlers write to stderr, stdout or a
 * file, as MapProxy's text line or as JSON lines. log-config.ts reads
 * log.ini files into this.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Level names as Python's logging has them (lower case); 'off' silences a logger. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'critical' | 'off';

/** Python's numeric levels; 'off' is above everything. */
export const LEVEL_NUMBERS: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warning: 30, error: 40, critical: 50, off: 100 };

/** A log record as the handlers receive it. */
export interface LogRecord {
  time: Date;
  logger: string;
  level: LogLevel;
  message: string;
}

/** Turns a record into one line (without the newline). */
export type Formatter = (rec: LogRecord) => string;

/** Where records go; `level` is the handler's own threshold (0 = everything the logger lets through). */
export interface LogHandler {
  level: number;
  handle(rec: LogRecord): void;
  close(): void;
}

/** The configuration of one logger node. */
export interface LoggerConfig {
  /** Threshold; undefined inherits from the parent (Python's NOTSET). */
  level?: number;
  handlers?: LogHandler[];
  /** Pass records on to the parent's handlers too (default true). */
  propagate?: boolean;
}

/** A whole logging setup: loggers by name ('' is the root). */
export interface LoggingSetup {
  loggers: Record<string, LoggerConfig>;
}

/** Default output: MapProxy's text line or one JSON object per line. */
export type LogFormat = 'text' | 'json';

/** MapProxy's log line (mapproxy-util serve-develop, mapproxy-seed). */
export const DEFAULT_TEXT_FORMAT = '[%(asctime)s] %(name)s - %(levelname)s - %(message)s';

const LEVEL_NAMES: Record<LogLevel, string> = {
  debug: 'DEBUG',
  info: 'INFO',
  warning: 'WARNING',
  error: 'ERROR',
  critical: 'CRITICAL',
  off: 'OFF',
};

// ---------------------------------------------------------------- formatters

const STARTED = Date.now();
const RECORD_FIELDS = new Set([
  'asctime', 'created', 'msecs', 'relativeCreated', 'name', 'levelname', 'levelno', 'message', 'msg',
  'process', 'processName', 'thread', 'threadName',
]);

function field(rec: LogRecord, name: string, datefmt: string | undefined): string | number {
  const ms = rec.time.getTime();
  switch (name) {
    case 'asctime':
      return datefmt === undefined ? `${strftime('%Y-%m-%d %H:%M:%S', rec.time)},${pad(ms % 1000, 3)}` : strftime(datefmt, rec.time);
    case 'created':
      return ms / 1000;
    case 'msecs':
      return ms % 1000;
    case 'relativeCreated':
      return ms - STARTED;
    case 'name':
      return rec.logger;
    case 'levelname':
      return LEVEL_NAMES[rec.level];
    case 'levelno':
      return LEVEL_NUMBERS[rec.level];
    case 'process':
      return process.pid;
    case 'processName':
      return 'MainProcess';
    case 'thread':
      return 0;
    case 'threadName':
      return 'MainThread';
    default:
      return rec.message; // message, msg
  }
}

type Piece = string | { name: string; flags: string; width: number; prec?: number; conv: string };

/** Parse a Python %-style format; throws on what Python would reject or what records do not have. */
function parsePercentFormat(fmt: string): Piece[] {
  const out: Piece[] = [];
  const re = /%(?:(%)|\((\w*)\)([-#0 +]*)(\d*)(?:\.(\d+))?([a-zA-Z])?)/g;
  let last = 0;
  for (let m = re.exec(fmt); m; m = re.exec(fmt)) {
    if (m.index > last) out.push(fmt.slice(last, m.index));
    last = re.lastIndex;
    if (m[1]) {
      out.push('%');
      continue;
    }
    const [, , name, flags, width, prec, conv] = m;
    if (!RECORD_FIELDS.has(name)) throw new Error(`%(${name}) is not a record attribute here (use ${[...RECORD_FIELDS].join(', ')})`);
    if (!conv || !'sdifr'.includes(conv)) throw new Error(`%(${name})${conv ?? ''}: unsupported conversion (use s, d, i, f or r)`);
    out.push({ name, flags, width: width ? Number(width) : 0, prec: prec ? Number(prec) : undefined, conv });
  }
  const rest = fmt.slice(last);
  if (rest.includes('%')) throw new Error(`a lone '%' at '${rest.slice(rest.indexOf('%'), rest.indexOf('%') + 8)}': write %% for a percent sign or %(name)s for a field`);
  if (rest) out.push(rest);
  return out;
}

function convert(v: string | number, p: Exclude<Piece, string>): string {
  let s: string;
  if (p.conv === 's') s = String(v);
  else if (p.conv === 'r') s = typeof v === 'string' ? `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : String(v);
  else {
    const n = typeof v === 'number' ? v : Number(v);
    if (!Number.isFinite(n)) s = String(v);
    else if (p.conv === 'f') s = n.toFixed(p.prec ?? 6);
    else s = String(Math.trunc(n));
    if (p.flags.includes('+') && n >= 0) s = `+${s}`;
  }
  if (p.prec !== undefined && (p.conv === 's' || p.conv === 'r')) s = s.slice(0, p.prec);
  if (s.length >= p.width) return s;
  if (p.flags.includes('-')) return s.padEnd(p.width);
  if (p.flags.includes('0') && p.conv !== 's' && p.conv !== 'r') {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + s.slice(sign.length).padStart(p.width - sign.length, '0');
  }
  return s.padStart(p.width);
}

/** A Python logging.Formatter with a %-style format and optional datefmt (time.strftime codes). */
export function textFormatter(fmt: string = DEFAULT_TEXT_FORMAT, datefmt?: string): Formatter {
  const pieces = parsePercentFormat(fmt);
  if (datefmt !== undefined) strftime(datefmt, new Date()); // reject unknown codes now, not per record
  return (rec) => {
    let s = '';
    for (const p of pieces) s += typeof p === 'string' ? p : convert(field(rec, p.name, datefmt), p);
    return s;
  };
}

/** One JSON object per record (time in ISO 8601 UTC, level, logger, message), for log shippers. */
export function jsonFormatter(): Formatter {
  return (rec) => JSON.stringify({ time: rec.time.toISOString(), level: LEVEL_NAMES[rec.level], logger: rec.logger, message: rec.message });
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

let tzFormat: Intl.DateTimeFormat | undefined;

/** time.strftime for local time, the codes log formats use; throws on others. */
export function strftime(fmt: string, d: Date): string {
  return fmt.replace(/%(.?)/g, (all, c: string) => {
    switch (c) {
      case 'Y': return String(d.getFullYear());
      case 'y': return pad(d.getFullYear() % 100);
      case 'm': return pad(d.getMonth() + 1);
      case 'd': return pad(d.getDate());
      case 'e': return String(d.getDate()).padStart(2);
      case 'H': return pad(d.getHours());
      case 'I': return pad(d.getHours() % 12 || 12);
      case 'M': return pad(d.getMinutes());
      case 'S': return pad(d.getSeconds());
      case 'p': return d.getHours() < 12 ? 'AM' : 'PM';
      case 'j': return pad(Math.floor((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(d.getFullYear(), 0, 1)) / 86400000) + 1, 3);
      case 'a': return DAYS[d.getDay()].slice(0, 3);
      case 'A': return DAYS[d.getDay()];
      case 'b': return MONTHS[d.getMonth()].slice(0, 3);
      case 'B': return MONTHS[d.getMonth()];
      case 'F': return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
      case 'T': return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      case 'z': {
        const off = -d.getTimezoneOffset();
        return `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
      }
      case 'Z':
        tzFormat ??= new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
        return tzFormat.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
      case '%': return '%';
      default:
        throw new Error(`unsupported date code '${all}' (use %Y %y %m %d %e %H %I %M %S %p %j %a %A %b %B %F %T %z %Z %%)`);
    }
  });
}

// ---------------------------------------------------------------- handlers

let defaultFormat: LogFormat = 'text';
let defaultFormatter: Formatter = textFormatter();

function formatWith(f: Formatter | undefined, rec: LogRecord): string {
  return (f ?? defaultFormatter)(rec) + '\n';
}

// A failing handler must not take the server down; say so once on stderr, as Python prints "--- Logging error ---".
let reportedHandlerError = false;
function handlerFailed(what: string, e: unknown): void {
  if (reportedHandlerError) return;
  reportedHandlerError = true;
  process.stderr.write(`logging error: cannot write to ${what}: ${(e as Error).message ?? e}\n`);
}

/** A handler writing to stderr or stdout; without a formatter it uses the default format (setLogFormat). */
export function streamHandler(stream: 'stderr' | 'stdout', formatter?: Formatter, level = 0): LogHandler {
  return {
    level,
    handle: (rec) => {
      const out = stream === 'stdout' ? process.stdout : process.stderr;
      out.write(formatWith(formatter, rec));
    },
    close: () => {},
  };
}

/** A handler that drops everything (Python's NullHandler: stops the "no handler" fallback). */
export function nullHandler(): LogHandler {
  return { level: 0, handle: () => {}, close: () => {} };
}

/** Options of fileHandler. */
export interface FileHandlerOptions {
  /** 'a' appends (default), 'w' truncates when opened. */
  mode?: 'a' | 'w';
  /** Open on the first record instead of now. */
  delay?: boolean;
  /** Rotate when the file would exceed this size (needs backupCount > 0), as RotatingFileHandler. */
  maxBytes?: number;
  /** How many rotated files (name.1 ... name.N) to keep. */
  backupCount?: number;
  /** Reopen when the file was moved or deleted (logrotate), as WatchedFileHandler. */
  watch?: boolean;
}

const encoder = new TextEncoder();

/** A handler appending lines to a file; one write per record, so several worker processes can share it. */
export function fileHandler(file: string, opts: FileHandlerOptions = {}, formatter?: Formatter, level = 0): LogHandler {
  const abs = path.resolve(file);
  let mode: 'a' | 'w' = opts.mode ?? 'a';
  const rotate = (opts.maxBytes ?? 0) > 0 && (opts.backupCount ?? 0) > 0;
  let fd: number | undefined;
  let size = 0;
  let ino = 0;
  let dev = 0;
  const open = () => {
    fd = fs.openSync(abs, mode);
    mode = 'a'; // a later reopen (rotation, logrotate) must not truncate what another worker wrote
    const st = fs.fstatSync(fd);
    size = st.size;
    ino = st.ino;
    dev = st.dev;
  };
  const close = () => {
    if (fd !== undefined) fs.closeSync(fd);
    fd = undefined;
  };
  const rollover = () => {
    close();
    const n = opts.backupCount ?? 0;
    for (let i = n - 1; i >= 1; i--) {
      if (fs.existsSync(`${abs}.${i}`)) fs.renameSync(`${abs}.${i}`, `${abs}.${i + 1}`);
    }
    if (fs.existsSync(abs)) fs.renameSync(abs, `${abs}.1`);
    open();
  };
  if (!opts.delay) open();
  return {
    level,
    handle: (rec) => {
      try {
        const line = encoder.encode(formatWith(formatter, rec));
        if (fd !== undefined && opts.watch) {
          let st: fs.Stats | undefined;
          try {
            st = fs.statSync(abs);
          } catch {
            st = undefined;
          }
          if (!st || st.ino !== ino || st.dev !== dev) close();
        }
        if (fd === undefined) open();
        if (rotate && size > 0 && size + line.length > (opts.maxBytes ?? 0)) rollover();
        fs.writeSync(fd!, line);
        size += line.length;
      } catch (e) {
        handlerFailed(abs, e);
      }
    },
    close,
  };
}

/** Use MapProxy's text line or JSON lines wherever no handler sets its own formatter. */
export function setLogFormat(format: LogFormat): void {
  if (format !== 'text' && format !== 'json') throw new Error(`unknown log format '${format}' (text or json)`);
  defaultFormat = format;
  defaultFormatter = format === 'json' ? jsonFormatter() : textFormatter();
}

/** The current default format. */
export function getLogFormat(): LogFormat {
  return defaultFormat;
}

// ---------------------------------------------------------------- logger tree

interface Node {
  level?: number;
  handlers: LogHandler[];
  propagate: boolean;
}

const nodes = new Map<string, Node>();
/** Per logger name: effective threshold and the handlers a record reaches, computed on first use. */
const resolved = new Map<string, { threshold: number; handlers: LogHandler[] }>();

function node(name: string): Node {
  let n = nodes.get(name);
  if (!n) nodes.set(name, (n = { handlers: [], propagate: true }));
  return n;
}

function parentName(name: string): string | undefined {
  if (name === '') return undefined;
  const i = name.lastIndexOf('.');
  return i < 0 ? '' : name.slice(0, i);
}

function resolve(name: string): { threshold: number; handlers: LogHandler[] } {
  let r = resolved.get(name);
  if (r) return r;
  let threshold: number | undefined;
  const handlers: LogHandler[] = [];
  let collecting = true;
  for (let n: string | undefined = name; n !== undefined; n = parentName(n)) {
    const nd = nodes.get(n);
    if (!nd) continue;
    if (threshold === undefined && nd.level !== undefined) threshold = nd.level;
    if (collecting) {
      handlers.push(...nd.handlers);
      if (!nd.propagate) collecting = false;
    }
  }
  r = { threshold: threshold ?? LEVEL_NUMBERS.info, handlers };
  resolved.set(name, r);
  return r;
}

// Python's lastResort: with no handler on the way, warnings and errors still reach stderr.
const lastResort = streamHandler('stderr', undefined, LEVEL_NUMBERS.warning);

function emit(rec: LogRecord): void {
  const { handlers } = resolve(rec.logger);
  const lvl = LEVEL_NUMBERS[rec.level];
  if (!handlers.length) {
    if (lvl >= lastResort.level) lastResort.handle(rec);
    return;
  }
  for (const h of handlers) if (lvl >= h.level) h.handle(rec);
}

function install(setup: LoggingSetup): void {
  const old = new Set<LogHandler>();
  for (const n of nodes.values()) for (const h of n.handlers) old.add(h);
  nodes.clear();
  resolved.clear();
  for (const [name, c] of Object.entries(setup.loggers)) {
    nodes.set(name, { level: c.level, handlers: [...(c.handlers ?? [])], propagate: c.propagate !== false });
  }
  if (!nodes.has('')) nodes.set('', { level: LEVEL_NUMBERS.info, handlers: [streamHandler('stderr')], propagate: true });
  const keep = new Set<LogHandler>();
  for (const n of nodes.values()) for (const h of n.handlers) keep.add(h);
  for (const h of old) if (!keep.has(h)) h.close();
}

/**
 * Replace the whole logging setup (levels, handlers, propagation of every
 * logger); handlers no longer used are closed. Loggers not named inherit.
 * Without a root entry the root logs INFO and above to stderr.
 */
export function configureLogging(setup: LoggingSetup): void {
  install(setup);
}

/** Back to the start state: root at INFO to stderr in the default format, nothing else configured. */
export function resetLogging(): void {
  install({ loggers: {} });
}

/** Set the level for a logger name and everything below it that sets none itself ('' is the root). */
export function setLogLevel(name: string, level: LogLevel): void {
  node(name).level = LEVEL_NUMBERS[level];
  resolved.clear();
}

type Sink = (rec: LogRecord) => void;

/**
 * Send what reaches the root logger's handlers to `s` instead (tests collect
 * records this way). Returns a sink that feeds the replaced handlers, so
 * `setLogSink(old)` restores the previous behaviour.
 */
export function setLogSink(s: Sink): Sink {
  const root = node('');
  const previous = root.handlers;
  root.handlers = [{ level: 0, handle: s, close: () => {} }];
  resolved.clear();
  return (rec) => {
    const lvl = LEVEL_NUMBERS[rec.level];
    for (const h of previous) if (lvl >= h.level) h.handle(rec);
  };
}

/** A named logger; level checks are cached so disabled debug calls cost a map lookup. */
export class Logger {
  constructor(readonly name: string) {}
  /** True when a record of this level would be written. */
  enabled(level: LogLevel): boolean {
    return LEVEL_NUMBERS[level] >= resolve(this.name).threshold;
  }
  private log(level: LogLevel, message: string): void {
    if (this.enabled(level)) emit({ time: new Date(), logger: this.name, level, message });
  }
  /** Log at debug level. */
  debug(m: string): void {
    this.log('debug', m);
  }
  /** Log at info level. */
  info(m: string): void {
    this.log('info', m);
  }
  /** Log at warning level. */
  warn(m: string): void {
    this.log('warning', m);
  }
  /** Log at error level. */
  error(m: string): void {
    this.log('error', m);
  }
  /** Log at critical level. */
  critical(m: string): void {
    this.log('critical', m);
  }
}

const loggers = new Map<string, Logger>();

/** The logger of that name (one instance per name). */
export function getLogger(name: string): Logger {
  let l = loggers.get(name);
  if (!l) loggers.set(name, (l = new Logger(name)));
  return l;
}

resetLogging();
