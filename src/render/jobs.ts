/**
 * Seeding jobs on disk: one JSON file per job in the jobs directory, written
 * atomically (tmp + rename), so every worker process of `mapproxy serve` can
 * create, read and cancel jobs while exactly one process (the JobRunner,
 * holding the runner lock) runs them. Cancelling a running job drops a
 * marker file (ID.cancel) that the runner polls, so a cancel never races
 * with the runner's progress writes.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { getLogger } from '../log/logger.ts';

const log = getLogger('mapproxy.admin');

/** Life of a job: queued -> running -> done | failed | cancelled. */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** Queued or running: counts against max_jobs. */
export function isActive(state: JobState): boolean {
  return state === 'queued' || state === 'running';
}

/** Seed options a request may set (the rest are mapproxy seed's defaults). */
export interface JobOptions {
  concurrency: number;
  max_retries: number;
  /** Seconds before the first retry, doubled per retry. */
  retry_delay: number;
}

/** A job from a seed.yaml: uploaded (ID.seed.yaml) or a file of the server's config (reseed entries). */
export interface SeedConfRequest extends JobOptions {
  type: 'seed_conf';
  /** Seeds to run; undefined = all (or none when only cleanups are named). */
  seeds?: string[];
  cleanups?: string[];
  /** Absolute path of a seed.yaml of the server's configuration; absent for uploads. */
  seed_conf_file?: string;
}

/** A job from the quick fields (as `mapproxy seed --cache ...`). */
export interface QuickRequest extends JobOptions {
  type: 'quick';
  cache: string;
  grids?: string[];
  /** `0-10` or `3,5,7` */
  levels?: string;
  /** `minx,miny,maxx,maxy` */
  bbox?: string;
  bbox_srs?: string;
  /** True when an uploaded coverage (GeoJSON or WKT) is stored in ID.coverage. */
  coverage?: boolean;
  coverage_srs?: string;
  refresh_before?: string;
  cleanup?: boolean;
  remove_before?: string;
  remove_all?: boolean;
}

/** What a job does. */
export type JobRequest = SeedConfRequest | QuickRequest;

/** A tile (meta tile) that failed every retry. */
export interface JobFailure {
  /** x/y/z */
  tile: string;
  cache: string;
  grid: string;
  error: string;
}

/** Progress of a job, as the API shows it. */
export interface JobProgress {
  /** Tiles written (seed) or removed (cleanup), over every run of the job. */
  done: number;
  /** Tiles to do when counted in advance (single-task jobs not resumed); null otherwise. */
  total: number | null;
  percent: number;
  /** Tiles per second of the current run. */
  rate: number;
  /** Seconds left, estimated; null when unknown. */
  eta: number | null;
  /** Tiles that failed every retry. */
  failed: number;
  /** The first few of them. */
  failures: JobFailure[];
  /** 1-based number of the running task, of `tasks`. */
  task: number;
  tasks: number;
  level: number | null;
  label: string | null;
}

/** One job, as stored in ID.job.json and answered by the API. */
export interface Job {
  id: string;
  state: JobState;
  request: JobRequest;
  /** ISO times. */
  created: string;
  started: string | null;
  finished: string | null;
  updated: string;
  progress: JobProgress;
  /** Pid of the process running it (running jobs), or that ran it last. */
  owner_pid: number | null;
  /** Why it failed. */
  error?: string;
  /** The reseed entry that queued it. */
  reseed?: string;
  /** How often it was resumed after a restart. */
  resumed: number;
  /** DELETE was asked while it runs (read from the cancel marker). */
  cancel_requested?: boolean;
}

/** Ids: 16 url-safe characters from 12 random bytes. */
const ID_RE = /^[A-Za-z0-9_-]{16}$/;

/** Whether `id` is a well-formed job id (nothing else ever reaches a file name). */
export function isJobId(id: string): boolean {
  return ID_RE.test(id);
}

/** A fresh random job id. */
export function newJobId(): string {
  return crypto.randomBytes(12).toString('base64url');
}

/** The progress of a job that has not started. */
export function emptyProgress(): JobProgress {
  return { done: 0, total: null, percent: 0, rate: 0, eta: null, failed: 0, failures: [], task: 0, tasks: 0, level: null, label: null };
}

/** Whether a process with this pid exists (EPERM: it does, as another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes a file atomically: a reader sees the old or the new content, never half of it. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    fs.writeFileSync(tmp, text, { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

const changeListeners = new Set<() => void>();

/** Calls fn whenever this process creates a job (a runner in the same process starts it at once). */
export function onJobCreated(fn: () => void): () => void {
  changeListeners.add(fn);
  return () => changeListeners.delete(fn);
}

const JOB_FILE = /^([A-Za-z0-9_-]{16})\.job\.json$/;

/** The jobs of one jobs directory. */
export class JobStore {
  private warned = new Set<string>();

  constructor(readonly dir: string) {}

  /** Creates the directory (owner-only: it holds uploaded seed configurations). */
  ensureDir(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  jobFile(id: string): string {
    return path.join(this.dir, `${id}.job.json`);
  }
  /** The seed progress (ProgressStore) of a job: what lets a restart resume it. */
  progressFile(id: string): string {
    return path.join(this.dir, `${id}.progress.json`);
  }
  /** An uploaded seed.yaml. */
  seedConfFile(id: string): string {
    return path.join(this.dir, `${id}.seed.yaml`);
  }
  /** An uploaded coverage (GeoJSON or WKT). */
  coverageFile(id: string): string {
    return path.join(this.dir, `${id}.coverage`);
  }
  private cancelFile(id: string): string {
    return path.join(this.dir, `${id}.cancel`);
  }

  /** A new queued job (not stored yet). */
  newJob(id: string, request: JobRequest, reseed?: string): Job {
    const now = new Date().toISOString();
    const job: Job = { id, state: 'queued', request, created: now, started: null, finished: null, updated: now, progress: emptyProgress(), owner_pid: null, resumed: 0 };
    if (reseed) job.reseed = reseed;
    return job;
  }

  /** Stores a new job and tells the runner of this process. */
  create(job: Job): void {
    this.ensureDir();
    this.write(job);
    for (const f of changeListeners) f();
  }

  /** Writes a job file atomically. */
  write(job: Job): void {
    const { cancel_requested: _, ...stored } = job;
    stored.updated = new Date().toISOString();
    job.updated = stored.updated;
    writeAtomic(this.jobFile(job.id), `${JSON.stringify(stored, null, 1)}\n`);
  }

  /** A job, or undefined when unknown (or its file is unreadable). */
  read(id: string): Job | undefined {
    if (!isJobId(id)) return undefined;
    let text: string;
    try {
      text = fs.readFileSync(this.jobFile(id), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const job = JSON.parse(text) as Job;
      if (job.id !== id || typeof job.state !== 'string' || !job.request) throw new Error('not a job');
      if (isActive(job.state) && this.cancelRequested(id)) job.cancel_requested = true;
      return job;
    } catch (e) {
      if (!this.warned.has(id)) {
        this.warned.add(id);
        log.warn(`ignoring unreadable job file ${this.jobFile(id)}: ${(e as Error).message}`);
      }
      return undefined;
    }
  }

  /** Every job, oldest first. */
  list(): Job[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return [];
    }
    const jobs: Job[] = [];
    for (const n of names) {
      const m = JOB_FILE.exec(n);
      if (!m) continue;
      const job = this.read(m[1]);
      if (job) jobs.push(job);
    }
    return jobs.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
  }

  /** Queued plus running jobs. */
  activeCount(): number {
    return this.list().filter((j) => isActive(j.state)).length;
  }

  /**
   * DELETE: marks the job for cancelling; a queued job is cancelled at once,
   * a running one by its runner within a second. Undefined when unknown.
   */
  requestCancel(id: string): Job | undefined {
    const job = this.read(id);
    if (!job) return undefined;
    if (!isActive(job.state)) return job;
    fs.writeFileSync(this.cancelFile(id), `${process.pid}\n`);
    if (job.state === 'queued') {
      job.state = 'cancelled';
      job.finished = new Date().toISOString();
      this.write(job);
      return job;
    }
    job.cancel_requested = true;
    return job;
  }

  /** Whether DELETE was asked for this job. */
  cancelRequested(id: string): boolean {
    return fs.existsSync(this.cancelFile(id));
  }

  /** Removes what only a running job needs (progress, cancel marker). */
  finishFiles(id: string): void {
    fs.rmSync(this.progressFile(id), { force: true });
    fs.rmSync(this.cancelFile(id), { force: true });
  }

  /** Removes a job and its files. */
  remove(id: string): void {
    if (!isJobId(id)) return;
    for (const f of [this.jobFile(id), this.progressFile(id), this.seedConfFile(id), this.coverageFile(id), this.cancelFile(id)]) fs.rmSync(f, { force: true });
  }
}

/** Runner locks held by this process, so two runners in one process never share one. */
const heldLocks = new Set<string>();

/**
 * The lock that makes one process the job runner of a jobs directory: a file
 * created with O_EXCL holding the owner's pid, touched every poll. It is
 * stale when that pid is dead, or it has not been touched for `staleMs` (the
 * pid was reused by an unrelated process after a reboot).
 */
export class RunnerLock {
  private held = false;

  constructor(
    readonly file: string,
    private readonly staleMs = 5 * 60_000,
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** Takes the lock if free or stale; true when this runner holds it. */
  tryAcquire(): boolean {
    if (this.held) return this.refresh();
    if (heldLocks.has(this.file)) return false;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = fs.openSync(this.file, 'wx', 0o600);
        try {
          fs.writeSync(fd, `${process.pid}\n`);
        } finally {
          fs.closeSync(fd);
        }
        this.held = true;
        heldLocks.add(this.file);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      if (!this.isStale()) return false;
      log.info(`taking over the stale job runner lock ${this.file}`);
      fs.rmSync(this.file, { force: true });
    }
    return false;
  }

  private isStale(): boolean {
    let pid: number;
    let mtime: number;
    try {
      pid = Number.parseInt(fs.readFileSync(this.file, 'utf8'), 10);
      mtime = fs.statSync(this.file).mtimeMs;
    } catch {
      // vanished meanwhile: free
      return true;
    }
    // our own pid without holding it: a previous life of this pid (restart in a container)
    if (pid === process.pid) return true;
    if (!pidAlive(pid)) return true;
    return Date.now() - mtime > this.staleMs;
  }

  /** Still ours? Touches the file; false (and released) when another process took it. */
  refresh(): boolean {
    if (!this.held) return false;
    try {
      if (Number.parseInt(fs.readFileSync(this.file, 'utf8'), 10) === process.pid) {
        const now = new Date();
        fs.utimesSync(this.file, now, now);
        return true;
      }
    } catch {
      /* removed: lost */
    }
    this.held = false;
    heldLocks.delete(this.file);
    return false;
  }

  /** Gives the lock up (only if it still names us). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    heldLocks.delete(this.file);
    try {
      if (Number.parseInt(fs.readFileSync(this.file, 'utf8'), 10) === process.pid) fs.unlinkSync(this.file);
    } catch {
      /* already gone */
    }
  }
}
