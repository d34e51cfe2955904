/**
 * The job runner: the one process of a jobs directory that runs seeding jobs
 * (serve-develop, a single-worker serve, or the worker in slot 0). It polls
 * the directory, runs one job at a time with the seeder (whose tile managers
 * create tiles at seed priority), keeps a ProgressStore per job so that a
 * restart resumes where it stopped, writes the job's progress at most every
 * second, honours a cancel within a second, and queues the reseed entries
 * whose interval has passed since their last finish.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SelfCommand } from '../runtime/self-command.ts';
import type { LogLevel } from '../log/logger.ts';
import { SEED_ALLOCATOR_ENV } from '../seed/seed-processes.ts';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import type { Proxy } from '../core/build-proxy.ts';
import { getLogger } from '../log/logger.ts';
import { ProgressOutput, ProgressStore, type ProgressFigures } from '../seed/progress.ts';
import type { Task } from '../seed/seed-config.ts';
import { StopSignal, cleanupTask, seedTask, type RunOptions, type TaskResult } from '../seed/seeder.ts';
import { buildJobTasks } from './job-tasks.ts';
import { isActive, JobStore, newJobId, onJobCreated, pidAlive, RunnerLock, writeAtomic, type Job, type JobFailure, type JobProgress, type JobRequest, type JobState } from './jobs.ts';

const log = getLogger('mapproxy.admin');

/** A `reseed:` entry: its request is queued every `interval` seconds after its last finish. */
export interface ReseedSpec {
  /** Stable name of the entry (seed_conf and seeds), the key of its state in reseed.json. */
  key: string;
  request: JobRequest;
  interval: number;
}

/** What the runner works with; read again at every poll (the configuration may be reloaded). */
export interface RunnerContext {
  proxy: Proxy;
  jobsDir: string;
  maxJobs: number;
  reseed: ReseedSpec[];
}

/** Options of a JobRunner. */
export interface JobRunnerOptions {
  /** The current context; undefined while no admin service is configured. */
  context(): RunnerContext | undefined;
  /** Milliseconds between polls of the jobs directory (default 1000). */
  pollMs?: number;
  /**
   * Run each job in its own process (`mapproxy job-run`) at a lower CPU
   * priority, so the tile encoding of a seed never holds up the event loop
   * that answers requests, and the kernel gives serving processes the CPU
   * first. Undefined: in this process.
   */
  isolate?: { command: SelfCommand; config: string; nice: number; log?: JobLogSpec };
}

/** Where a job process logs: the serving worker's error log, level and log.ini. */
export interface JobLogSpec {
  errorLog: string;
  logLevel: LogLevel;
  logConfig?: string;
}

/** Environment variable carrying the JobLogSpec of a job process. */
export const JOB_LOG_ENV = 'MAPPROXY_JOB_LOG';

/** Seconds a job process gets to store its progress after SIGTERM before it is killed. */
const CHILD_STOP_MS = 30_000;
/** A job whose process dies this many times in a row (crash, config error, out of memory) fails instead of being started again. */
const MAX_JOB_PROCESS_CRASHES = 3;

/** Environment variable telling a job process the pid of its runner (it stops when that one is gone). */
export const JOB_PARENT_ENV = 'MAPPROXY_JOB_RUNNER_PID';

/** Finished jobs kept in the jobs directory; older ones are removed. */
const KEEP_FINISHED = 100;
/** Failures listed in a job's progress. */
const MAX_FAILURES_SHOWN = 10;
/** A running job whose file was not written for this long belongs to nobody (its owner's pid was reused). */
const ORPHAN_MS = 2 * 60_000;
/** The job file is written at least this often while the job runs (a heartbeat for the orphan check). */
const HEARTBEAT_MS = 5000;

/** The state of the reseed entries, persisted so that a restart neither reseeds at once nor forgets. */
interface ReseedState {
  version: 1;
  entries: Record<string, { last_finished: string; last_job: string }>;
}

/** Captures the seeder's progress figures instead of printing them. */
class JobOutput extends ProgressOutput {
  figures: ProgressFigures | undefined;
  constructor(private readonly onLine: (s: string) => void) {
    super({ quiet: 2, tty: false, out: () => {}, logInterval: 60 });
  }
  override update(f: ProgressFigures): void {
    this.figures = f;
  }
  override endLine(): void {}
  override line(s: string): void {
    this.onLine(s);
  }
}

/** A job's progress over its tasks, from the figures of the running one. */
class ProgressTracker {
  private finishedTiles = 0;
  private finishedTasks = 0;
  private failedCount = 0;
  private readonly failures: JobFailure[] = [];
  private index = 0;
  private readonly started = performance.now();
  private first: { at: number; percent: number } | undefined;

  constructor(
    private readonly base: JobProgress,
    private readonly tasks: number,
    private readonly resumed: boolean,
    private readonly output: JobOutput,
  ) {
    this.failedCount = resumed ? base.failed : 0;
    if (resumed) this.failures.push(...base.failures);
  }

  startTask(i: number): void {
    this.index = i;
    this.output.figures = undefined;
  }

  /** A task returned: finished, or stopped (then its figures stay: the job pauses or ends within it). */
  finishTask(r: TaskResult): void {
    for (const f of r.failed) {
      if (this.failures.length >= MAX_FAILURES_SHOWN) break;
      this.failures.push({ tile: f.coord.join('/'), cache: r.task.cacheName, grid: r.task.gridName, error: f.error });
    }
    // stopped within the task: its figures (shown last by the seeder) hold its tiles and failures so far
    if (r.stopped) return;
    this.finishedTiles += r.tiles;
    this.finishedTasks++;
    this.failedCount += r.failed.length;
    this.output.figures = undefined;
  }

  snapshot(): JobProgress {
    const f = this.output.figures;
    const cur = f?.done ?? 0;
    const ran = this.finishedTiles + cur;
    const done = (this.resumed ? this.base.done : 0) + ran;
    // counted totals only add up for one task that started from nothing
    const exact = this.tasks === 1 && !this.resumed;
    let total: number | null = null;
    if (exact) total = this.finishedTasks ? this.finishedTiles : (f?.total ?? null);
    const taskFrac = f ? (exact && f.total !== undefined ? (f.total ? Math.min(1, f.done / f.total) : 1) : f.fraction) : 0;
    const percent = this.tasks ? Math.min(100, ((this.finishedTasks + (this.finishedTasks < this.tasks ? taskFrac : 0)) / this.tasks) * 100) : 100;
    const now = performance.now();
    const elapsed = Math.max(1e-3, (now - this.started) / 1000);
    const rate = ran / elapsed;
    let eta: number | null = null;
    if (percent >= 100) eta = 0;
    else if (total !== null && rate > 0) eta = (total - done) / rate;
    else if (percent > 0) {
      this.first ??= { at: now, percent };
      if (percent > this.first.percent) eta = (((now - this.first.at) / 1000) * (100 - percent)) / (percent - this.first.percent);
    }
    return {
      done,
      total,
      percent: Math.round(percent * 10) / 10,
      rate: Math.round(rate * 10) / 10,
      eta: eta === null || !Number.isFinite(eta) ? null : Math.max(0, Math.round(eta)),
      failed: this.failedCount + (f?.failed ?? 0),
      failures: [...this.failures],
      task: Math.min(this.index + 1, this.tasks),
      tasks: this.tasks,
      level: f?.level ?? null,
      label: f?.label ?? null,
    };
  }
}

/** One sentence about a request, for the log. */
export function describeRequest(r: JobRequest): string {
  if (r.type === 'quick') {
    const what = r.cleanup ? 'cleanup' : 'seed';
    return `${what} cache ${r.cache}${r.grids ? ` grids ${r.grids.join(',')}` : ''}${r.levels ? ` levels ${r.levels}` : ''}${r.bbox ? ` bbox ${r.bbox}` : ''}${r.coverage ? ' (uploaded coverage)' : ''}`;
  }
  const src = r.seed_conf_file ?? 'uploaded seed.yaml';
  const names = (l: string[] | undefined, all: string) => (l === undefined ? all : l.length ? l.join(',') : 'none');
  return `${src}: seeds ${names(r.seeds, 'all')}, cleanups ${names(r.cleanups, 'all')}`;
}

/** Runs the jobs of the current context's jobs directory. */
export class JobRunner {
  private timer: ReturnType<typeof setInterval> | undefined;
  private wakeTimer: ReturnType<typeof setTimeout> | undefined;
  private store: JobStore | undefined;
  private lock: RunnerLock | undefined;
  private current: { job: Job; stop: StopSignal; done: Promise<void>; child?: ChildProcess } | undefined;
  private stopping = false;
  private ticking = false;
  private unlisten: (() => void) | undefined;
  private fullWarned = false;
  /** job id -> deaths of its process in a row */
  private readonly crashes = new Map<string, number>();

  constructor(private readonly opts: JobRunnerOptions) {}

  /** Starts polling; returns this. */
  start(): this {
    this.timer = setInterval(() => this.tick(), this.opts.pollMs ?? 1000);
    this.timer.unref?.();
    this.unlisten = onJobCreated(() => this.wake());
    this.wake();
    return this;
  }

  /** Polls soon (a job was created in this process, or one finished). */
  wake(): void {
    if (this.wakeTimer || this.stopping) return;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.tick();
    }, 10);
  }

  /**
   * Stops: the running job pauses after its running meta tiles, its progress
   * stored and its state left 'running', so the next runner resumes it.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.unlisten?.();
    const cur = this.current;
    if (cur) {
      cur.stop.stop('interrupt');
      await cur.done;
    }
    this.lock?.release();
  }

  /** Runs one job of the context in this process (the body of `mapproxy job-run`); resolves when it ended or paused. */
  runOne(job: Job, ctx: RunnerContext, stop: StopSignal): Promise<void> {
    const store = new JobStore(ctx.jobsDir);
    return this.runJob(job, ctx, store, stop);
  }

  /** The job in its own process; `stop` sends it SIGTERM (it pauses and stores its progress). */
  private spawnJob(job: Job, ctx: RunnerContext, store: JobStore, stop: StopSignal): { done: Promise<void>; child: ChildProcess } {
    const iso = this.opts.isolate!;
    const child = spawn(iso.command.cmd, [...iso.command.args, 'job-run', '--config', iso.config, '--jobs-dir', ctx.jobsDir, '--id', job.id], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...SEED_ALLOCATOR_ENV, [JOB_PARENT_ENV]: String(process.pid), ...(iso.log ? { [JOB_LOG_ENV]: JSON.stringify(iso.log) } : {}) },
    });
    if (child.pid !== undefined && iso.nice) {
      try {
        os.setPriority(child.pid, Math.min(19, os.getPriority(process.pid) + iso.nice));
      } catch (e) {
        log.warn(`job ${job.id}: cannot lower the priority of its process: ${(e as Error).message}`);
      }
    }
    const done = new Promise<void>((resolve) => {
      let killer: ReturnType<typeof setTimeout> | undefined;
      const poll = setInterval(() => {
        if (stop.stopped && !killer && child.exitCode === null) {
          child.kill('SIGTERM');
          killer = setTimeout(() => child.kill('SIGKILL'), CHILD_STOP_MS);
        }
      }, 100);
      const end = (why: string) => {
        clearInterval(poll);
        if (killer) clearTimeout(killer);
        if (why) log.warn(`job ${job.id}: its process ${why}`);
        if (why && !stop.stopped) this.crashed(job.id, store, why);
        else this.crashes.delete(job.id);
        resolve();
      };
      child.once('error', (e) => end(`could not start: ${e.message}`));
      child.once('exit', (code, sig) => end(code === 0 ? '' : `exited with ${code ?? sig}`));
    });
    log.info(`job ${job.id} runs in process ${child.pid}${iso.nice ? ` (nice +${iso.nice})` : ''}`);
    return { done, child };
  }

  /** A job process died without ending its job: started again (resuming), unless that keeps happening. */
  private crashed(id: string, store: JobStore, why: string): void {
    const n = (this.crashes.get(id) ?? 0) + 1;
    this.crashes.set(id, n);
    if (n < MAX_JOB_PROCESS_CRASHES) return;
    this.crashes.delete(id);
    const job = store.read(id);
    if (job && isActive(job.state)) this.finish(store, job, 'failed', `its process ${why}, ${n} times in a row`);
  }

  private tick(): void {
    if (this.stopping || this.ticking) return;
    this.ticking = true;
    try {
      this.step();
    } catch (e) {
      log.error(`job runner: ${(e as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  private step(): void {
    const ctx = this.opts.context();
    if (!ctx) {
      if (!this.current) this.lock?.release();
      return;
    }
    if (!this.store || this.store.dir !== ctx.jobsDir) {
      // a reload moved the jobs directory: finish the running job first
      if (this.current) return;
      this.lock?.release();
      this.store = new JobStore(ctx.jobsDir);
      this.store.ensureDir();
      this.lock = new RunnerLock(path.join(ctx.jobsDir, 'runner.lock'));
    }
    const lock = this.lock!;
    if (!lock.isHeld) {
      // run nothing before the next poll has seen the lock still naming us (two takers of a stale lock)
      if (lock.tryAcquire()) log.info(`job runner (pid ${process.pid}) runs the jobs in ${ctx.jobsDir}`);
      return;
    }
    if (!lock.refresh()) {
      log.warn(`another process took the job runner lock ${lock.file}; stopping the running job`);
      this.current?.stop.stop('interrupt');
      return;
    }
    if (this.current) return;
    const store = this.store;
    const jobs = store.list();
    this.enqueueReseeds(ctx, store, jobs);
    const next = jobs.find((j) => j.state === 'running' && this.orphaned(j)) ?? jobs.find((j) => j.state === 'queued');
    if (!next) return;
    const stop = new StopSignal();
    const spawned = this.opts.isolate ? this.spawnJob(next, ctx, store, stop) : undefined;
    const done = (spawned ? spawned.done : this.runJob(next, ctx, store, stop))
      .catch((e) => log.error(`job ${next.id}: ${(e as Error).stack ?? e}`))
      .finally(() => {
        this.current = undefined;
        this.prune(store);
        this.wake();
      });
    this.current = { job: next, stop, done, child: spawned?.child };
  }

  /** A running job nobody runs: its owner is gone, is us (a restart), or stopped writing long ago. */
  private orphaned(j: Job): boolean {
    const owner = j.owner_pid;
    if (owner === null || owner === process.pid || !pidAlive(owner)) return true;
    return Date.now() - Date.parse(j.updated) > ORPHAN_MS;
  }

  private async runJob(job: Job, ctx: RunnerContext, store: JobStore, stop: StopSignal): Promise<void> {
    if (store.cancelRequested(job.id)) return this.finish(store, job, 'cancelled');
    const resumed = job.state === 'running';
    job.state = 'running';
    job.owner_pid = process.pid;
    job.started ??= new Date().toISOString();
    if (resumed) job.resumed = (job.resumed ?? 0) + 1;
    store.write(job);
    log.info(`job ${job.id} ${resumed ? 'resumed' : 'started'}: ${describeRequest(job.request)}`);

    let tasks: Task[];
    try {
      const t = buildJobTasks(job.request, ctx.proxy, { seedConf: store.seedConfFile(job.id), coverage: store.coverageFile(job.id) });
      tasks = [...t.seeds, ...t.cleanups];
    } catch (e) {
      return this.finish(store, job, 'failed', (e as Error).message);
    }
    const output = new JobOutput((s) => log.info(`job ${job.id}: ${s}`));
    const tracker = new ProgressTracker(job.progress, tasks.length, resumed, output);
    const r = job.request;
    const opts: RunOptions = {
      concurrency: r.concurrency,
      dryRun: false,
      skipGeomsForLastLevels: 0,
      skipUncached: false,
      maxRetries: r.max_retries,
      retryDelay: r.retry_delay,
      maxRetryDelay: 60,
      maxRate: 0,
      maxConsecutiveFailures: 10,
      progressStore: new ProgressStore(store.progressFile(job.id), true),
      output,
      stop,
      countSeconds: 3,
      // retry back-off may be long: a cancel or shutdown ends it early
      sleep: async (ms) => {
        const end = Date.now() + ms;
        while (!stop.stopped && Date.now() < end) await new Promise((res) => setTimeout(res, Math.min(100, end - Date.now())));
      },
    };
    let cancelled = false;
    let lastWrite = Date.now();
    let lastShown = '';
    const monitor = setInterval(() => {
      try {
        if (!cancelled && store.cancelRequested(job.id)) {
          cancelled = true;
          log.info(`job ${job.id}: cancel requested, stopping after the running tiles`);
          stop.stop('interrupt');
        }
        const now = Date.now();
        if (now - lastWrite < 1000) return;
        const p = tracker.snapshot();
        const shown = JSON.stringify({ ...p, rate: 0, eta: 0 });
        if (shown === lastShown && now - lastWrite < HEARTBEAT_MS) return;
        job.progress = p;
        store.write(job);
        lastWrite = now;
        lastShown = shown;
      } catch (e) {
        log.warn(`job ${job.id}: cannot update the job file: ${(e as Error).message}`);
      }
    }, 250);
    let error: string | undefined;
    try {
      for (let i = 0; i < tasks.length && !stop.stopped; i++) {
        tracker.startTask(i);
        const t = tasks[i];
        tracker.finishTask(t.kind === 'seed' ? await seedTask(t, opts) : await cleanupTask(t, opts));
      }
    } catch (e) {
      error = (e as Error).message;
    } finally {
      clearInterval(monitor);
    }
    job.progress = tracker.snapshot();
    if (stop.reason === 'interrupt') {
      if (cancelled || store.cancelRequested(job.id)) return this.finish(store, job, 'cancelled');
      // shutdown or lost lock: left running, resumed by the next runner from the stored progress
      store.write(job);
      log.info(`job ${job.id} paused at ${job.progress.percent}% (${job.progress.done} tiles); it resumes on the next start`);
      return;
    }
    if (error !== undefined) return this.finish(store, job, 'failed', error);
    if (stop.reason === 'failures') return this.finish(store, job, 'failed', `stopped: ${opts.maxConsecutiveFailures} meta tiles in a row failed`);
    if (job.progress.failed) return this.finish(store, job, 'failed', `${job.progress.failed} tile${job.progress.failed > 1 ? 's' : ''} failed after every retry`);
    return this.finish(store, job, 'done');
  }

  private finish(store: JobStore, job: Job, state: JobState, error?: string): void {
    job.state = state;
    job.finished = new Date().toISOString();
    delete job.cancel_requested;
    if (error !== undefined) job.error = error;
    if (state === 'done') {
      job.progress.percent = 100;
      job.progress.eta = 0;
    }
    store.write(job);
    store.finishFiles(job.id);
    if (job.reseed) this.recordReseed(store, job);
    const msg = `job ${job.id} ${state}: ${job.progress.done} tiles${error ? `: ${error}` : ''}`;
    if (state === 'failed') log.warn(msg);
    else log.info(msg);
  }

  private reseedFile(store: JobStore): string {
    return path.join(store.dir, 'reseed.json');
  }

  private readReseed(store: JobStore): ReseedState {
    try {
      const data = JSON.parse(fs.readFileSync(this.reseedFile(store), 'utf8')) as ReseedState;
      if (data?.version === 1 && typeof data.entries === 'object' && data.entries) return data;
    } catch {
      /* none yet, or unreadable: start afresh */
    }
    return { version: 1, entries: {} };
  }

  private recordReseed(store: JobStore, job: Job): void {
    const state = this.readReseed(store);
    state.entries[job.reseed!] = { last_finished: job.finished!, last_job: job.id };
    writeAtomic(this.reseedFile(store), `${JSON.stringify(state, null, 1)}\n`);
  }

  /** Queues each reseed entry whose interval has passed since its last finish, unless one of it is queued or running. */
  private enqueueReseeds(ctx: RunnerContext, store: JobStore, jobs: Job[]): void {
    if (!ctx.reseed.length) return;
    const state = this.readReseed(store);
    let active = jobs.filter((j) => isActive(j.state)).length;
    const now = Date.now();
    for (const e of ctx.reseed) {
      if (jobs.some((j) => j.reseed === e.key && isActive(j.state))) continue;
      const last = state.entries[e.key]?.last_finished;
      if (last && now - Date.parse(last) < e.interval * 1000) continue;
      if (active >= ctx.maxJobs) {
        if (!this.fullWarned) log.warn(`reseed ${e.key}: ${active} jobs queued or running (max_jobs ${ctx.maxJobs}), queued later`);
        this.fullWarned = true;
        continue;
      }
      this.fullWarned = false;
      const job = store.newJob(newJobId(), e.request, e.key);
      store.create(job);
      jobs.push(job);
      active++;
      log.info(`reseed ${e.key}: queued job ${job.id}`);
    }
  }

  /** Removes the oldest finished jobs beyond KEEP_FINISHED. */
  private prune(store: JobStore): void {
    try {
      const finished = store.list().filter((j) => !isActive(j.state));
      if (finished.length <= KEEP_FINISHED) return;
      finished.sort((a, b) => ((a.finished ?? a.updated) < (b.finished ?? b.updated) ? -1 : 1));
      for (const j of finished.slice(0, finished.length - KEEP_FINISHED)) store.remove(j.id);
    } catch (e) {
      log.warn(`cannot prune old jobs: ${(e as Error).message}`);
    }
  }
}
