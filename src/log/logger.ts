/**
 * Hierarchical loggers named as MapProxy names them (mapproxy.system,
 * mapproxy.source.request, ...). Small on purpose: a level per logger prefix
 * and one sink; issue-level log configuration builds on setLogLevel/setLogSink.
 */

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'off';

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warning: 30, error: 40, off: 100 };

/** A log record as the sink receives it. */
export interface LogRecord {
  time: Date;
  logger: string;
  level: LogLevel;
  message: string;
}

type Sink = (rec: LogRecord) => void;

const levels = new Map<string, LogLevel>([['', 'info']]);
let sink: Sink = (rec) => {
  const line = `[${rec.time.toISOString()}] ${rec.logger} - ${rec.level.toUpperCase()} - ${rec.message}\n`;
  process.stderr.write(line);
};

/** Set the level for a logger name and everything below it ('' is the root). */
export function setLogLevel(name: string, level: LogLevel): void {
  levels.set(name, level);
  cache.clear();
}

/** Replace where records go (tests collect them; serve writes to files). */
export function setLogSink(s: Sink): Sink {
  const old = sink;
  sink = s;
  return old;
}

const cache = new Map<string, number>();

function threshold(name: string): number {
  let t = cache.get(name);
  if (t !== undefined) return t;
  let n = name;
  for (;;) {
    const l = levels.get(n);
    if (l) {
      t = ORDER[l];
      break;
    }
    if (n === '') {
      t = ORDER.info;
      break;
    }
    const i = n.lastIndexOf('.');
    n = i < 0 ? '' : n.slice(0, i);
  }
  cache.set(name, t);
  return t;
}

/** A named logger; level checks are cached so disabled debug calls cost a map lookup. */
export class Logger {
  constructor(readonly name: string) {}
  /** True when a record of this level would be written. */
  enabled(level: LogLevel): boolean {
    return ORDER[level] >= threshold(this.name);
  }
  private log(level: LogLevel, message: string): void {
    if (this.enabled(level)) sink({ time: new Date(), logger: this.name, level, message });
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
}

const loggers = new Map<string, Logger>();

/** The logger of that name (one instance per name). */
export function getLogger(name: string): Logger {
  let l = loggers.get(name);
  if (!l) loggers.set(name, (l = new Logger(name)));
  return l;
}
