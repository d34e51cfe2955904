/**
 * Where `mapproxy serve` writes its logs: the error log (records of
 * src/log/logger.ts, tagged with the process id) and the access log in
 * Apache's combined format. Several worker processes append to the same
 * file, so every write is whole lines in a single write() (O_APPEND keeps them
 * apart; for pipes, chunks stay under PIPE_BUF).
 */
import * as fs from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';
import { applyLogConfig } from '../log/log-config.ts';
import { setLogLevel, setLogSink, type LogLevel, type LogRecord } from '../log/logger.ts';

/**
 * Logs this process as `mapproxy serve` told it (a worker, a job process):
 * records to the error log at the level, then the log.ini if any. A log.ini
 * that fails is returned, not thrown: the error log already works for saying so.
 */
export function logAsServer(spec: { errorLog: string; logLevel: LogLevel; logConfig?: string }): { errorLog: LogFile; logConfigError?: unknown } {
  const errorLog = new LogFile(spec.errorLog, 'stderr');
  setLogSink(errorLogSink(errorLog));
  setLogLevel('', spec.logLevel);
  try {
    if (spec.logConfig) applyLogConfig(spec.logConfig);
    return { errorLog };
  } catch (e) {
    return { errorLog, logConfigError: e };
  }
}

/** Largest chunk written at once: POSIX keeps pipe writes up to PIPE_BUF (4096) atomic. */
const CHUNK = 4096;

/** An append-only log destination: a file (reopenable after logrotate) or stdout/stderr for '-'. */
export class LogFile {
  private fd = -1;
  private closed = false;

  constructor(
    /** File name, or '-' for the standard stream. */
    readonly target: string,
    private readonly stream: 'stdout' | 'stderr',
  ) {
    this.open();
  }

  private open(): void {
    this.fd = this.target === '-' ? (this.stream === 'stdout' ? 1 : 2) : fs.openSync(this.target, 'a', 0o644);
  }

  /** Append text (whole lines); errors are swallowed because a full disk must not stop serving. */
  write(text: string): void {
    if (this.closed) return;
    try {
      // synchronous, so nothing is lost when the process exits right after
      const bytes = Buffer.from(text);
      for (let off = 0; off < bytes.length; ) off += fs.writeSync(this.fd, bytes, off);
    } catch (e) {
      // a non-blocking stdout pipe that is full: let the runtime queue the rest
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN' && this.target === '-') process[this.stream].write(text);
    }
  }

  /** Open the file again under its name (after logrotate moved it). */
  reopen(): void {
    if (this.target === '-' || this.closed) return;
    const old = this.fd;
    this.open();
    if (old >= 0) fs.closeSync(old);
  }

  /** Close the file; later writes are dropped. */
  close(): void {
    if (this.target !== '-' && !this.closed) fs.closeSync(this.fd);
    this.closed = true;
  }
}

/** A logger sink writing `[time] [pid] logger - LEVEL - message` lines to a LogFile. */
export function errorLogSink(out: LogFile): (rec: LogRecord) => void {
  const pid = process.pid;
  return (rec) => out.write(`[${rec.time.toISOString()}] [${pid}] ${rec.logger} - ${rec.level.toUpperCase()} - ${rec.message}\n`);
}

/** Buffered access log: lines are collected and written in chunks, at most every flushMs. */
export class AccessLog {
  private buf = '';
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(
    readonly out: LogFile,
    flushMs = 200,
  ) {
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  /** Add one line (with its newline). */
  add(line: string): void {
    if (this.buf.length + line.length > CHUNK) this.flush();
    this.buf += line;
  }

  /** Write what is buffered. */
  flush(): void {
    if (!this.buf) return;
    const b = this.buf;
    this.buf = '';
    this.out.write(b);
  }

  /** Flush and stop the timer. */
  close(): void {
    clearInterval(this.timer);
    this.flush();
    this.out.close();
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
let clfSecond = -1;
let clfText = '';

/** `10/Oct/2000:13:55:36 +0200` in local time, as Apache's %t writes it (cached per second). */
export function clfDate(ms: number): string {
  const sec = Math.floor(ms / 1000);
  if (sec === clfSecond) return clfText;
  const d = new Date(sec * 1000);
  const off = -d.getTimezoneOffset();
  const abs = Math.abs(off);
  const p2 = (n: number) => String(n).padStart(2, '0');
  clfText = `${p2(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${off < 0 ? '-' : '+'}${p2(Math.floor(abs / 60))}${p2(abs % 60)}`;
  clfSecond = sec;
  return clfText;
}

/** Quote-safe log field: Apache escapes `"`, `\` and control characters so a line cannot be forged. */
export function escapeField(s: string): string {
  // eslint-disable-next-line no-control-regex
  return /["\\\x00-\x1f\x7f]/.test(s) ? s.replace(/["\\\x00-\x1f\x7f]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)) : s;
}

/** The fields of one combined-format line. */
export interface AccessEntry {
  remote: string;
  timeMs: number;
  method: string;
  target: string;
  status: number;
  bytes: number;
  referer: string | null;
  userAgent: string | null;
}

/** `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"` plus newline. */
export function combinedLine(e: AccessEntry): string {
  const req = escapeField(`${e.method} ${e.target} HTTP/1.1`);
  return `${e.remote || '-'} - - [${clfDate(e.timeMs)}] "${req}" ${e.status} ${e.bytes > 0 ? e.bytes : '-'} "${e.referer ? escapeField(e.referer) : '-'}" "${e.userAgent ? escapeField(e.userAgent) : '-'}"\n`;
}
