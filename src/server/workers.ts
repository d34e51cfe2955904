/**
 * The supervisor's worker processes: N slots, each held by one worker
 * process. Workers report over a pipe on their fd 3 (ready, heartbeat,
 * retire). A crashed worker is restarted with exponential backoff; a worker
 * that reached its request limit or a whole generation replaced on reload is
 * started first and the old one drained afterwards, so no request is dropped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';
import { getLogger } from '../log/logger.ts';
import type { SelfCommand } from '../runtime/self-command.ts';
import type { MetricsGroup } from './metrics-group.ts';
import { WORKER_ENV, type WorkerSpec } from './serve-options.ts';
import type { WorkerMessage } from './serve-worker.ts';

const log = getLogger('mapproxy.system');

/**
 * Bun's allocator (mimalloc) hands freed memory back to the kernel after
 * 10 ms, and every GetMap or tile miss allocates rasters of several MB that
 * then come back as fresh pages: about 1,800 page faults for one 1024x768
 * GetMap. Workers keep freed memory for a second: 8-12 % less CPU per
 * 1024x768 GetMap under load (serve -w 2, two A/B rounds), cache hits
 * unchanged in req/s and RSS.
 */
export const SERVE_ALLOCATOR_ENV: Readonly<Record<string, string>> = { MIMALLOC_PURGE_DELAY: '1000' };

/** A worker's environment: ours, the allocator setting unless the environment has its own, and the worker's spec. */
export function workerEnv(env: NodeJS.ProcessEnv, spec: WorkerSpec): NodeJS.ProcessEnv {
  return { ...SERVE_ALLOCATOR_ENV, ...env, [WORKER_ENV]: JSON.stringify(spec) };
}

/** A worker of the first generation could not load the config: the problem, as the worker reported it. */
export class StartCheckError extends Error {}

/** Consecutive boot failures, with no worker serving, after which the pool gives up. */
const MAX_BOOT_FAILURES = 5;
/** First restart delay after a crash; doubles per crash within CRASH_WINDOW_MS. */
const BACKOFF_BASE_MS = 100;
const BACKOFF_MAX_MS = 30_000;
const CRASH_WINDOW_MS = 60_000;
/** Time after a worker's exit within which its report channel should have delivered its last message. */
const CHANNEL_DRAIN_MS = 2000;

/** Options of a WorkerPool. */
export interface WorkerPoolOptions {
  size: number;
  command: SelfCommand;
  /** The spec of a new worker; `socket` is its private UNIX socket when the supervisor forwards to it. */
  spec(slot: number, seq: number): { spec: WorkerSpec; socket?: string };
  /** Seconds without a heartbeat after which a serving worker is killed (0: never). */
  watchdog: number;
  /** Seconds a stopping worker gets before it is killed. */
  gracefulTimeout: number;
  /** Milliseconds a new worker gets to become ready. */
  bootTimeout: number;
  /** Called when workers keep failing to boot and nothing is serving. */
  onFatal(reason: string): void;
  /** Where the workers' metric snapshots are summed (/metrics for the whole group). */
  metrics?: MetricsGroup;
}

/** One worker process. */
export class Worker {
  state: 'booting' | 'ready' | 'stopping' | 'exited' = 'booting';
  lastBeat = Date.now();
  /** Connections the UNIX forwarder currently pipes to this worker. */
  active = 0;
  /** The worker asked to be replaced (request limit reached). */
  wantsRetire = false;
  /** Its replacement is being started. */
  retiring = false;
  /** Why it could not boot, as it reported. */
  bootError?: string;
  /** Resolves true when ready, false when it exits or times out first. */
  readonly ready: Promise<boolean>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<void>;
  settleReady!: (ok: boolean) => void;
  settleExit!: () => void;

  constructor(
    readonly child: ChildProcess,
    readonly slot: number,
    readonly gen: number,
    readonly socket: string | undefined,
  ) {
    this.ready = new Promise((r) => (this.settleReady = r));
    this.exited = new Promise((r) => (this.settleExit = r));
  }

  /** Process id (0 if the spawn failed). */
  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** Send a signal; a process that is already gone is fine. */
  signal(sig: NodeJS.Signals): void {
    try {
      this.child.kill(sig);
    } catch {
      /* already exited */
    }
  }
}

/** The worker processes of `mapproxy serve`. */
export class WorkerPool {
  private gen = 0;
  private seq = 0;
  private slots: (Worker | undefined)[] = [];
  private readonly all = new Set<Worker>();
  private closing = false;
  private reloading = false;
  private crashes: number[] = [];
  private bootFailures = 0;
  private readyWaiters: (() => void)[] = [];
  private readonly watchdogTimer: ReturnType<typeof setInterval>;
  private readonly restartTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(private readonly opts: WorkerPoolOptions) {
    this.watchdogTimer = setInterval(() => this.watch(), 1000);
    this.watchdogTimer.unref();
  }

  /**
   * Boot the first generation; resolves when every slot serves, rejects when
   * workers keep failing to boot. The workers load the config themselves, so
   * the supervisor need not: until the first of them is ready (or fails for a
   * reason other than the config) the pool says nothing about them, and a
   * worker reporting a config error stops them all unannounced and rejects
   * with a StartCheckError, as if none had been started. `announce` runs once
   * the config has proved loadable, before the pool's own messages.
   */
  start(announce?: (warnings: string[]) => void): Promise<void> {
    this.gen = ++this.seq;
    this.slots = new Array(this.opts.size).fill(undefined);
    this.held = [];
    this.announce = announce;
    return new Promise((resolve, reject) => {
      const allReady = () => {
        if (this.slots.every((w) => w?.state === 'ready')) resolve();
        else if (this.closing) {
          // a config problem rejects once its workers are gone
          if (!this.startProblem) reject(new Error('shut down while starting'));
        } else this.readyWaiters.push(allReady);
      };
      this.startFailure = reject;
      for (let slot = 0; slot < this.opts.size; slot++) void this.fillSlot(slot);
      this.readyWaiters.push(allReady);
    });
  }
  private startFailure?: (e: Error) => void;
  private startProblem?: StartCheckError;
  private announce?: (warnings: string[]) => void;
  /** What the pool reports about the first generation until the config has a verdict. */
  private held: (() => void)[] | undefined;

  /** The first generation's config loaded (problem undefined) or not: say what was held back, or stop everything. */
  private verdict(problem: string | undefined, warnings: string[] = []): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    if (problem !== undefined) {
      const e = (this.startProblem = new StartCheckError(problem));
      void this.shutdown().then(() => this.startFailure?.(e));
      return;
    }
    this.announce?.(warnings);
    for (const f of held) f();
  }

  /** Report now, or once the first generation's config has its verdict. */
  private report(f: () => void): void {
    if (this.held) this.held.push(f);
    else f();
  }

  /**
   * Replace every worker: boot a new generation, wait until all of it is
   * ready, then drain the old one. False (old workers untouched) when the new
   * generation fails to boot.
   */
  async reload(): Promise<boolean> {
    if (this.closing || this.reloading) return false;
    this.reloading = true;
    const gen = ++this.seq;
    const fresh: Worker[] = [];
    try {
      for (let slot = 0; slot < this.opts.size; slot++) fresh.push(this.spawnWorker(slot, gen));
      const ok = await Promise.all(fresh.map((w) => w.ready.then((r) => r || Promise.reject(new Error(`worker ${w.pid} did not start`))))).then(
        () => true,
        (e: Error) => {
          log.error(`reload failed: ${e.message}; keeping the running workers`);
          return false;
        },
      );
      if (!ok || this.closing) {
        for (const w of fresh) this.stopWorker(w);
        return false;
      }
      this.gen = gen;
      this.slots = fresh;
      this.bootFailures = 0;
      for (const w of this.all) if (w.gen !== gen) this.stopWorker(w);
      this.notifyReady();
      for (const w of fresh) this.maybeRetire(w);
      return true;
    } finally {
      this.reloading = false;
    }
  }

  /** The serving worker with the fewest forwarded connections; ties go round-robin. */
  pick(): Worker | undefined {
    let best: Worker | undefined;
    const n = this.slots.length;
    this.turn = (this.turn + 1) % n;
    for (let i = 0; i < n; i++) {
      const w = this.slots[(this.turn + i) % n];
      if (w?.state === 'ready' && w.socket && (!best || w.active < best.active)) best = w;
    }
    return best;
  }
  private turn = 0;

  /** Wait up to ms for a serving worker (for connections that arrive while none is). */
  async waitForWorker(ms: number): Promise<Worker | undefined> {
    const end = Date.now() + ms;
    for (;;) {
      const w = this.pick();
      if (w || this.closing || Date.now() >= end) return w;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, end - Date.now()));
        this.readyWaiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Pids of the serving workers, in slot order. */
  pids(): number[] {
    return this.slots.flatMap((w) => (w?.state === 'ready' ? [w.pid] : []));
  }

  /** Signal every live worker (SIGUSR1: reopen logs). */
  signalAll(sig: NodeJS.Signals): void {
    for (const w of this.all) w.signal(sig);
  }

  /** Drain every worker; resolves when all have exited (bounded by the graceful timeout). */
  async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdogTimer);
    for (const t of this.restartTimers) clearTimeout(t);
    this.restartTimers.clear();
    for (const w of this.all) this.stopWorker(w);
    this.notifyReady();
    await Promise.all([...this.all].map((w) => w.exited));
  }

  /** Kill every worker now (second shutdown signal). */
  kill(): void {
    this.closing = true;
    for (const w of this.all) w.signal('SIGKILL');
  }

  private spawnWorker(slot: number, gen: number): Worker {
    const { spec, socket } = this.opts.spec(slot, this.seq);
    const { cmd, args } = this.opts.command;
    const child = spawn(cmd, [...args, 'serve-worker'], {
      env: workerEnv(process.env, spec),
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
    });
    const w = new Worker(child, slot, gen, socket);
    this.all.add(w);
    this.report(() => log.info(`booting worker with pid ${w.pid}`));
    let buf = '';
    const channel = child.stdio[3] as NodeJS.ReadableStream | null;
    channel?.setEncoding('utf8');
    channel?.on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.onMessage(w, JSON.parse(line) as WorkerMessage);
        } catch {
          log.warn(`worker ${w.pid}: unreadable message ${JSON.stringify(line.slice(0, 100))}`);
        }
      }
    });
    channel?.on('error', () => {});
    // The last metrics snapshot may still be in the pipe when 'exit' fires: the
    // worker's figures join the retired totals once the channel has ended too
    // (or a little later, should a child process of the worker hold it open).
    let channelEnded = !channel;
    let hasExited = false;
    const retireMetrics = () => this.opts.metrics?.retire(w);
    channel?.on('end', () => {
      channelEnded = true;
      if (hasExited) retireMetrics();
    });
    const bootTimer = setTimeout(() => {
      if (w.state !== 'booting') return;
      log.error(`worker ${w.pid} not ready after ${this.opts.bootTimeout} ms, killing it`);
      w.signal('SIGKILL');
    }, this.opts.bootTimeout);
    let done = false;
    const onGone = (code: number | null, sig: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(bootTimer);
      hasExited = true;
      if (channelEnded) retireMetrics();
      else setTimeout(retireMetrics, CHANNEL_DRAIN_MS).unref();
      this.onExit(w, code, sig);
    };
    // a worker's last message (why it failed) arrives before its channel ends, maybe after its exit
    child.on('exit', (code, sig) => {
      if (!this.held || channelEnded) return onGone(code, sig);
      const t = setTimeout(() => onGone(code, sig), CHANNEL_DRAIN_MS);
      channel?.once('end', () => {
        clearTimeout(t);
        onGone(code, sig);
      });
    });
    child.on('error', (e) => {
      this.report(() => log.error(`cannot start worker (${cmd}): ${e.message}`));
      onGone(null, null);
    });
    return w;
  }

  private onMessage(w: Worker, m: WorkerMessage): void {
    w.lastBeat = Date.now();
    if (m.t === 'ready' && w.state === 'booting') {
      this.verdict(undefined, m.warnings);
      w.state = 'ready';
      w.settleReady(true);
      this.opts.metrics?.changed();
    } else if (m.t === 'metrics') {
      this.opts.metrics?.update(w, m.m);
    } else if (m.t === 'failed') {
      w.bootError = m.message;
      this.verdict(m.config ? m.message : undefined);
    } else if (m.t === 'retire') {
      w.wantsRetire = true;
      this.maybeRetire(w);
    }
  }

  /** Start a worker for slot; once ready it takes the slot and the previous holder is drained. */
  private async fillSlot(slot: number): Promise<void> {
    const w = this.spawnWorker(slot, this.gen);
    if (!(await w.ready)) return; // onExit schedules the retry
    if (this.closing || w.gen !== this.gen) return this.stopWorker(w);
    const old = this.slots[slot];
    this.slots[slot] = w;
    this.bootFailures = 0;
    if (old && old !== w) this.stopWorker(old);
    this.notifyReady();
    this.maybeRetire(w);
  }

  /** Replace a worker over its request limit, unless a reload is about to replace it anyway. */
  private maybeRetire(w: Worker): void {
    if (!w.wantsRetire || w.state !== 'ready' || this.closing || this.reloading || w.gen !== this.gen || this.slots[w.slot] !== w) return;
    w.wantsRetire = false;
    w.retiring = true;
    log.info(`worker ${w.pid} reached its request limit, starting its replacement`);
    void this.fillSlot(w.slot);
  }

  private stopWorker(w: Worker): void {
    if (w.state === 'stopping' || w.state === 'exited') return;
    w.state = 'stopping';
    w.settleReady(false);
    w.signal('SIGTERM');
    const kill = setTimeout(
      () => {
        log.warn(`worker ${w.pid} still running ${this.opts.gracefulTimeout} s after SIGTERM, killing it`);
        w.signal('SIGKILL');
      },
      (this.opts.gracefulTimeout + 2) * 1000,
    );
    void w.exited.then(() => clearTimeout(kill));
  }

  private onExit(w: Worker, code: number | null, sig: NodeJS.Signals | null): void {
    const prev = w.state;
    w.state = 'exited';
    w.settleReady(false);
    w.settleExit();
    this.all.delete(w);
    this.opts.metrics?.changed();
    if (w.socket) fs.rmSync(w.socket, { force: true });
    const how = sig ? `signal ${sig}` : `exit code ${code}`;
    if (prev === 'stopping' || this.closing) {
      log.debug(`worker ${w.pid} exited (${how})`);
      return;
    }
    if (w.gen !== this.gen) {
      // a worker of a generation being booted by reload(); reload() reports it
      log.error(`new worker ${w.pid} exited during reload (${how})${w.bootError ? `: ${w.bootError}` : ''}`);
      return;
    }
    // gone without a word about the config: not a config problem
    this.verdict(undefined);
    if (this.slots[w.slot] === w) this.slots[w.slot] = undefined;
    if (prev === 'booting') this.bootFailures++;
    log.error(`worker ${w.pid} ${prev === 'booting' ? 'failed to boot' : 'died'} (${how})${w.bootError ? `: ${w.bootError}` : ''}`);
    const serving = this.slots.some((s) => s?.state === 'ready');
    if (!serving && this.bootFailures >= MAX_BOOT_FAILURES) {
      const reason = `workers failed to boot ${this.bootFailures} times in a row, giving up`;
      this.startFailure?.(new Error(reason));
      this.opts.onFatal(reason);
      return;
    }
    const now = Date.now();
    this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
    this.crashes.push(now);
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.crashes.length - 1));
    log.info(`restarting worker ${w.slot + 1}/${this.opts.size} in ${delay} ms (${this.crashes.length} crash(es) in the last minute)`);
    const gen = this.gen;
    const t = setTimeout(() => {
      this.restartTimers.delete(t);
      const holder = this.slots[w.slot];
      // the slot may have been refilled meanwhile (reload) or still be held by a worker awaiting retirement
      if (!this.closing && gen === this.gen && (!holder || holder.retiring || holder.state !== 'ready')) void this.fillSlot(w.slot);
    }, delay);
    this.restartTimers.add(t);
  }

  private watch(): void {
    if (this.opts.watchdog <= 0) return;
    const limit = this.opts.watchdog * 1000;
    const now = Date.now();
    for (const w of this.all) {
      if (w.state === 'ready' && now - w.lastBeat > limit) {
        log.error(`worker ${w.pid} silent for ${Math.round((now - w.lastBeat) / 1000)} s (timeout ${this.opts.watchdog} s), killing it`);
        w.lastBeat = now;
        w.signal('SIGKILL');
      }
    }
  }

  private notifyReady(): void {
    const ws = this.readyWaiters;
    this.readyWaiters = [];
    for (const f of ws) f();
  }
}
