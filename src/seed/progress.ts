/**
 * Seed progress: the store behind --continue / --progress-file (JSON, written
 * atomically, only positions whose earlier work has finished) and the output
 * (a live line on a terminal, key=value lines for logs otherwise).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProgressId } from './walker.ts';

/** Progress positions per task id, in a JSON file. */
export class ProgressStore {
  private status: Record<string, ProgressId | string | null> = {};
  /** Why an existing file was ignored (world-writable, unreadable), for the log. */
  readonly ignored: string | undefined;

  constructor(
    readonly filename: string,
    continueSeed: boolean,
  ) {
    if (continueSeed) this.ignored = this.load();
  }

  private load(): string | undefined {
    let st: fs.Stats;
    try {
      st = fs.statSync(this.filename);
    } catch {
      return undefined;
    }
    // as MapProxy: anyone could steer a world-writable progress file
    if (st.mode & 0o002) return `progress file (${this.filename}) is world writable, ignoring file`;
    try {
      const data = JSON.parse(fs.readFileSync(this.filename, 'utf8'));
      if (data && typeof data === 'object' && !Array.isArray(data) && data.version === 1 && typeof data.tasks === 'object') {
        this.status = data.tasks;
        return undefined;
      }
    } catch {
      /* reported below */
    }
    return `unable to read progress file (${this.filename}), ignoring file`;
  }

  get(taskId: string): ProgressId | string | null {
    return this.status[taskId] ?? null;
  }

  add(taskId: string, id: ProgressId | string | null): void {
    this.status[taskId] = id;
  }

  /** Writes the whole store atomically (a kill never leaves half a file). */
  write(): void {
    const tmp = `${this.filename}.${process.pid}.tmp`;
    fs.mkdirSync(path.dirname(path.resolve(this.filename)), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify({ version: 1, tasks: this.status }));
    fs.renameSync(tmp, this.filename);
  }

  remove(): void {
    this.status = {};
    fs.rmSync(this.filename, { force: true });
  }
}

/**
 * Positions of the walk that become safe to store once every tile handed over
 * before them has been written: a job sequence number marks each snapshot.
 */
export class SafeProgress {
  private nextSeq = 0;
  private running = new Set<number>();
  private pending: { seq: number; id: ProgressId | null }[] = [];
  private safe: ProgressId | null | undefined;

  /** A job starts; returns its number for done(). */
  start(): number {
    const s = this.nextSeq++;
    this.running.add(s);
    return s;
  }

  done(seq: number): void {
    this.running.delete(seq);
    this.settle();
  }

  /** The walk is at `id`: everything handed over so far comes before it. */
  snapshot(id: ProgressId | null): void {
    this.pending.push({ seq: this.nextSeq, id });
    this.settle();
  }

  /** The latest position all of whose earlier work is done (undefined: none yet). */
  latestSafe(): ProgressId | null | undefined {
    return this.safe;
  }

  private settle(): void {
    let lowest = this.nextSeq;
    for (const s of this.running) if (s < lowest) lowest = s;
    let k = 0;
    while (k < this.pending.length && this.pending[k].seq <= lowest) k++;
    if (k > 0) {
      this.safe = this.pending[k - 1].id;
      this.pending.splice(0, k);
    }
  }
}

/** How much output: 0 = live line / per-minute lines, 1 = no live line, 2 = no progress at all. */
export interface OutputOptions {
  quiet: number;
  tty: boolean;
  out: (s: string) => void;
  /** Seconds between progress lines when not on a terminal. */
  logInterval: number;
}

/** hh:mm:ss of a duration in seconds. */
export function formatDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}`;
}

/** Local time as [YYYY-MM-DD HH:MM:SS]. */
export function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Progress figures of one running task. */
export interface ProgressFigures {
  label: string;
  level: number;
  done: number;
  /** Total tiles when counted in advance; undefined when counting took too long. */
  total: number | undefined;
  /** 0..1 position of the walk. */
  fraction: number;
  startedAt: number;
  now: number;
  failed: number;
}

/** The live line / log line of a running task. */
export class ProgressOutput {
  private lastLive = 0;
  private lastLine = 0;
  private liveShown = false;

  constructor(private readonly o: OutputOptions) {}

  /** Tiles per second and ETA from the figures. */
  static rates(f: ProgressFigures): { rate: number; eta: number; percent: number } {
    const elapsed = Math.max(1e-3, (f.now - f.startedAt) / 1000);
    const rate = f.done / elapsed;
    const percent = f.total ? Math.min(100, (f.done / f.total) * 100) : f.fraction * 100;
    const eta = f.total !== undefined ? (rate > 0 ? (f.total - f.done) / rate : Infinity) : f.fraction > 0 ? (elapsed * (1 - f.fraction)) / f.fraction : Infinity;
    return { rate, eta, percent };
  }

  update(f: ProgressFigures, force = false): void {
    if (this.o.quiet >= 2) return;
    const { rate, eta, percent } = ProgressOutput.rates(f);
    const total = f.total !== undefined ? String(f.total) : '?';
    if (this.o.tty && this.o.quiet === 0) {
      if (!force && f.now - this.lastLive < 500) return;
      this.lastLive = f.now;
      const failed = f.failed ? ` ${f.failed} failed` : '';
      this.o.out(`\r\x1b[K${f.label} level ${f.level}: ${f.done}/${total} tiles ${percent.toFixed(1)}% ${rate.toFixed(1)} tiles/s ETA ${formatDuration(eta)}${failed}`);
      this.liveShown = true;
      return;
    }
    if (!force && f.now - this.lastLine < this.o.logInterval * 1000) return;
    this.lastLine = f.now;
    this.o.out(`[${timestamp()}] progress ${f.label} level=${f.level} tiles=${f.done}/${total} percent=${percent.toFixed(1)} rate=${rate.toFixed(1)} eta=${formatDuration(eta)} failed=${f.failed}\n`);
  }

  /** Ends the live line so that the next output starts on a new line. */
  endLine(): void {
    if (this.liveShown) this.o.out('\n');
    this.liveShown = false;
  }

  line(s: string): void {
    this.endLine();
    this.o.out(`${s}\n`);
  }
}
