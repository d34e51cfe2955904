/**
 * Tile locks around meta tile creation: one lock file per meta tile, so that
 * of all the requests (in this process, in other `mapproxy` workers and in a
 * `mapproxy seed` on the same cache) that miss the same meta tile, only one
 * asks the source and the others wait and then read the stored tiles.
 *
 * The lock only saves duplicate upstream requests; it never guards data:
 * tiles are stored atomically, so two holders at once (a lock broken as stale
 * while its holder was still working) cost duplicate work, never a broken
 * tile. That is why stale locks may be broken eagerly instead of waiting for
 * certainty.
 *
 * Protocol, all plain node:fs calls that Bun, Deno and Node share:
 * - acquire: create `<lockDir>/<name>` with O_EXCL and write a one-line JSON
 *   owner record (pid, hostname, boot id, pid namespace, creation time);
 * - hold: keep the file open and refresh its mtime every staleSeconds/4
 *   through the descriptor (futimes), so a slow live holder stays fresh;
 * - release: unlink, but only if the path still names our inode;
 * - stale: a lock file is taken over when its owner runs on this machine (same
 *   boot id and pid namespace) and that pid is dead, or when its mtime is older
 *   than staleSeconds (crash on another host, or a holder frozen that long);
 * - break: one waiter at a time, the one that created `<name>.break.lck` with
 *   O_EXCL, checks that the path still names the very inode it judged stale
 *   and that its mtime did not move meanwhile, and only then deletes it. Two
 *   waiters can both judge one lock stale, but the second finds the first
 *   one's fresh lock at the path and leaves it alone. The path is never
 *   emptied except by that one delete, so no third waiter can slip in beside
 *   a fresh holder. A breaker that died holding `.break.lck` leaves it behind;
 *   after BREAK_TOKEN_STALE_MS it is removed.
 *
 * Within one process, callers for the same lock file queue in memory (FIFO)
 * and only the head of the queue contends for the file, so 32 concurrent
 * requests for one meta tile cost one file poll loop, not 32.
 *
 * Not compatible with MapProxy's own locks on a shared lock dir: MapProxy
 * flock()s an ordinary file, so it neither sees our O_EXCL files as held nor
 * do we see its flock. We do wait while its lock file exists, and MapProxy's
 * cleanup_lockdir() sweeps our leftovers (they end in `.lck` as its do).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
// node:timers, not the globals: Deno's global setInterval returns a number without unref().
import { clearInterval, clearTimeout, setInterval, setTimeout } from 'node:timers';

/** Base class of tile lock failures. */
export class LockError extends Error {
  override name = 'LockError';
}

/**
 * The lock was still held by someone else when timeoutSeconds ran out.
 * MapProxy 1.15 lets this propagate while serving (the request fails) and the
 * seeder retries the same tiles; a caller that prefers to render without the
 * lock (duplicate work, but no error) catches exactly this class.
 */
export class LockTimeoutError extends LockError {
  override name = 'LockTimeoutError';
  constructor(readonly lockPath: string, readonly timeoutSeconds: number) {
    super(`tile lock ${lockPath} still held by another process or request after ${timeoutSeconds} s`);
  }
}

/** The lock directory (or a lock file in it) cannot be created: a configuration or permission problem, not contention. */
export class LockDirError extends LockError {
  override name = 'LockDirError';
}

/** A held lock. */
export interface TileLock {
  /** File name inside the lock directory. */
  readonly name: string;
  /** Absolute path of the lock file. */
  readonly path: string;
  /** False once released. */
  readonly held: boolean;
  /** Gives the lock up; calling it again does nothing. */
  release(): void;
}

/** Options of TileLocker. */
export interface TileLockerOptions {
  /** Directory of the lock files (created on first use). */
  lockDir: string;
  /** How long lock() waits before it throws LockTimeoutError (MapProxy: http.client_timeout, 60 s). */
  timeoutSeconds: number;
  /** Age of an unrefreshed lock file after which it counts as abandoned; default max(10, timeoutSeconds / 2). */
  staleSeconds?: number;
  /** First poll interval while another process holds the lock; it backs off to 8x this. Default 25 ms. */
  pollMs?: number;
}

const MIN_DEFAULT_STALE_SECONDS = 10;
const DEFAULT_POLL_MS = 25;
const MAX_POLL_FACTOR = 8;
// A lock broken (or vanished) is retried at once, but only a few times in a row, so no path can spin.
const MAX_IMMEDIATE_RETRIES = 3;
const OWNER_READ_LIMIT = 1024;

/** Hands out file locks below one lock directory. */
export class TileLocker {
  readonly lockDir: string;
  readonly timeoutSeconds: number;
  readonly staleSeconds: number;
  readonly pollMs: number;
  private dirReady = false;

  constructor(opts: TileLockerOptions) {
    if (typeof opts.lockDir !== 'string' || opts.lockDir === '') throw new TypeError('TileLocker: lockDir must be a non-empty path');
    if (!(Number.isFinite(opts.timeoutSeconds) && opts.timeoutSeconds >= 0)) {
      throw new RangeError(`TileLocker: timeoutSeconds must be a finite number >= 0, got ${opts.timeoutSeconds}`);
    }
    // Half the timeout, so a waiter that arrives just after a holder on another host died can
    // still break the lock before its own timeout; at least 10 s, so a holder whose event loop
    // is blocked for a few seconds (a large synchronous encode) does not miss its heartbeat.
    const stale = opts.staleSeconds ?? Math.max(MIN_DEFAULT_STALE_SECONDS, opts.timeoutSeconds / 2);
    if (!(Number.isFinite(stale) && stale > 0)) throw new RangeError(`TileLocker: staleSeconds must be a finite number > 0, got ${stale}`);
    const poll = opts.pollMs ?? DEFAULT_POLL_MS;
    if (!(Number.isFinite(poll) && poll > 0)) throw new RangeError(`TileLocker: pollMs must be a finite number > 0, got ${poll}`);
    this.lockDir = path.resolve(opts.lockDir);
    this.timeoutSeconds = opts.timeoutSeconds;
    this.staleSeconds = stale;
    this.pollMs = poll;
  }

  /** Waits until this caller holds the lock `name`; throws LockTimeoutError after timeoutSeconds. */
  async lock(name: string): Promise<TileLock> {
    checkLockName(name);
    const file = path.join(this.lockDir, name);
    const deadline = performance.now() + this.timeoutSeconds * 1000;
    const leaveGate = await enterGate(file, deadline, () => new LockTimeoutError(file, this.timeoutSeconds));
    try {
      const fd = await this.acquireFile(file, deadline);
      return new FileTileLock(name, file, fd, Math.max(10, (this.staleSeconds * 1000) / 4), leaveGate);
    } catch (e) {
      leaveGate();
      throw e;
    }
  }

  private ensureDir(force: boolean): void {
    if (this.dirReady && !force) return;
    try {
      fs.mkdirSync(this.lockDir, { recursive: true });
      if (!fs.statSync(this.lockDir).isDirectory()) throw new Error('exists and is not a directory');
    } catch (e) {
      throw new LockDirError(`cannot create tile lock directory ${this.lockDir}: ${(e as Error).message}`, { cause: e });
    }
    this.dirReady = true;
  }

  private async acquireFile(file: string, deadline: number): Promise<number> {
    this.ensureDir(false);
    let sleeps = 0;
    let immediate = 0;
    // Bounded by the deadline: every pass either returns, throws, retries at once (at most
    // MAX_IMMEDIATE_RETRIES in a row) or sleeps at least pollMs * 0.8.
    for (;;) {
      const r = this.tryOnce(file);
      if (typeof r === 'number') return r;
      if (r === 'retry' && immediate < MAX_IMMEDIATE_RETRIES) {
        immediate++;
        continue;
      }
      immediate = 0;
      const left = deadline - performance.now();
      if (left <= 0) throw new LockTimeoutError(file, this.timeoutSeconds);
      await sleep(Math.min(left, this.pollDelay(sleeps++)));
    }
  }

  /** Backoff with jitter, so processes that polled in step drift apart. */
  private pollDelay(n: number): number {
    const base = Math.min(this.pollMs * 1.5 ** n, this.pollMs * MAX_POLL_FACTOR);
    return base * (0.8 + 0.4 * Math.random());
  }

  private tryOnce(file: string): number | 'busy' | 'retry' {
    let fd: number;
    try {
      fd = fs.openSync(file, 'wx');
    } catch (e) {
      const code = errCode(e);
      if (code === 'EEXIST') return this.inspect(file);
      if (code === 'ENOENT') {
        // The lock dir vanished under us (a cache-clean removing the cache dir): recreate it.
        this.ensureDir(true);
        return 'retry';
      }
      throw new LockDirError(`cannot create lock file ${file}: ${(e as Error).message}`, { cause: e });
    }
    try {
      fs.writeSync(fd, ownerRecord());
    } catch {
      // The record only helps stale detection; the lock is the file's existence.
    }
    return fd;
  }

  /** Looks at an existing lock file and breaks it when stale. */
  private inspect(file: string): 'busy' | 'retry' {
    let fd: number;
    try {
      fd = fs.openSync(file, 'r');
    } catch (e) {
      // Gone: released just now. Unreadable: we cannot judge it, so wait like for any live lock.
      return errCode(e) === 'ENOENT' ? 'retry' : 'busy';
    }
    try {
      const st = fs.fstatSync(fd);
      if (!this.isStale(st, readHead(fd))) return 'busy';
      return breakStaleLock(file, fd, st) === 'kept' ? 'busy' : 'retry';
    } catch {
      return 'busy';
    } finally {
      fs.closeSync(fd);
    }
  }

  private isStale(st: fs.Stats, content: string): boolean {
    const owner = parseOwner(content);
    if (owner && sameMachine(owner)) {
      // Our own pid on a file that none of our locks has open: left over from an earlier process
      // that had the same pid. (The in-process queue cannot tell, its key is a path, and a
      // symlinked lock dir gives one file two paths.)
      if (owner.pid === process.pid) return !heldInodes.has(inodeKey(st));
      if (!pidAlive(owner.pid)) return true;
    }
    // A live pid is no proof (pids get reused), so the mtime heartbeat decides.
    return Date.now() - st.mtimeMs > this.staleSeconds * 1000;
  }
}

/** Runs fn while holding the lock `name` and releases it afterwards, also when fn throws; LockTimeoutError propagates. */
export async function withLock<T>(locker: TileLocker, name: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = await locker.lock(name);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/**
 * MapProxy's lock file name of a tile: `<md5(cacheIdentity)>-<x>-<y>-<z>.lck`, as
 * TileLocker.lock_filename builds it from `'-'.join(tile.coord)` (coord is x, y, z).
 * cacheIdentity is what the backend hashes (file cache: its cache_dir path); prefix
 * is the backend tag some MapProxy backends put in front ('mbtiles-', 'redis-', ...).
 * For meta tiles pass the main tile's coord, as MapProxy's TileManager.lock does.
 */
export function lockFilename(cacheIdentity: string, coord: readonly [number, number, number], prefix = ''): string {
  for (const n of coord) if (!Number.isSafeInteger(n)) throw new RangeError(`lockFilename: tile coord must be integers, got ${coord.join(',')}`);
  const id = createHash('md5').update(cacheIdentity, 'utf8').digest('hex');
  return `${prefix}${id}-${coord[0]}-${coord[1]}-${coord[2]}.lck`;
}

class FileTileLock implements TileLock {
  private fd: number | undefined;
  private readonly inode: string;
  private readonly heartbeat: ReturnType<typeof setInterval>;

  constructor(
    readonly name: string,
    readonly path: string,
    fd: number,
    heartbeatMs: number,
    private readonly leaveGate: () => void,
  ) {
    this.fd = fd;
    this.inode = inodeKey(fs.fstatSync(fd));
    heldInodes.add(this.inode);
    this.heartbeat = setInterval(() => this.touch(), heartbeatMs);
    // A lock someone forgot to release must not keep the process alive.
    this.heartbeat.unref();
  }

  get held(): boolean {
    return this.fd !== undefined;
  }

  private touch(): void {
    if (this.fd === undefined) return;
    const now = new Date();
    try {
      // Through the descriptor, so we refresh our own inode even if the path was taken over.
      fs.futimesSync(this.fd, now, now);
    } catch {
      // A missed beat only matters if they keep failing for staleSeconds, and then the
      // worst case is a duplicate render.
    }
  }

  release(): void {
    const fd = this.fd;
    if (fd === undefined) return;
    this.fd = undefined;
    clearInterval(this.heartbeat);
    heldInodes.delete(this.inode);
    try {
      // The open descriptor pins our inode, so equal dev+ino proves the path is still our file
      // and not the lock of whoever broke ours as stale.
      const mine = fs.fstatSync(fd);
      const there = fs.lstatSync(this.path);
      if (mine.ino === there.ino && mine.dev === there.dev) fs.unlinkSync(this.path);
    } catch {
      // ENOENT: already broken as stale. Anything else: the file stays and ages into staleness.
    } finally {
      try {
        fs.closeSync(fd);
      } catch {
        /* nothing left to do */
      }
      this.leaveGate();
    }
  }
}

/** What breakStaleLock did: removed the judged file, found the path empty, or left a live lock in place. */
export type BreakResult = 'removed' | 'gone' | 'kept';

/** A `.break.lck` token older than this was left by a breaker that died: breaking takes microseconds. */
const BREAK_TOKEN_STALE_MS = 5000;

/**
 * Removes the lock file at `file` only if it still is the file judged stale: `fd` is open on
 * it (which pins its inode, so an inode match cannot be a recycled inode) and `judged` is its
 * fstat at the time of judging. Only the waiter holding `<file>.break.lck` checks and deletes,
 * so no other breaker acts between its check and its delete; 'kept' while another one breaks.
 * Exported for tests of the two-waiters race.
 */
export function breakStaleLock(file: string, fd: number, judged: fs.Stats): BreakResult {
  // Ends in .lck so that a MapProxy-style cleanup_lockdir() sweeps it if we die holding it.
  const token = `${file}.break.lck`;
  let tokenFd: number;
  try {
    tokenFd = fs.openSync(token, 'wx');
  } catch (e) {
    if (errCode(e) === 'EEXIST') clearDeadToken(token);
    // Another waiter is breaking it (or the dir is unusable): wait and look again.
    return 'kept';
  }
  try {
    let there: fs.Stats;
    try {
      there = fs.lstatSync(file);
    } catch (e) {
      // ENOENT: another waiter broke it first (or the holder released it).
      return errCode(e) === 'ENOENT' ? 'gone' : 'kept';
    }
    // A different inode is a fresh lock taken since we looked; a moved mtime is a holder's heartbeat.
    if (there.dev !== judged.dev || there.ino !== judged.ino || fs.fstatSync(fd).mtimeMs !== judged.mtimeMs) return 'kept';
    try {
      fs.unlinkSync(file);
    } catch (e) {
      return errCode(e) === 'ENOENT' ? 'gone' : 'kept';
    }
    return 'removed';
  } catch {
    return 'kept';
  } finally {
    fs.closeSync(tokenFd);
    try {
      fs.unlinkSync(token);
    } catch {
      /* removed as dead by a waiter that judged us too slow: nothing left to do */
    }
  }
}

/** Removes a `.break.lck` token whose breaker died while holding it. */
function clearDeadToken(token: string): void {
  try {
    if (Date.now() - fs.statSync(token).mtimeMs > BREAK_TOKEN_STALE_MS) fs.unlinkSync(token);
  } catch {
    /* gone meanwhile */
  }
}

// ---- in-process queue -------------------------------------------------------

interface Waiter {
  grant(): void;
  timer?: ReturnType<typeof setTimeout>;
}

interface Gate {
  held: boolean;
  queue: Waiter[];
}

// Keyed by absolute lock file path, so separate TileLocker instances on one dir share it.
const gates = new Map<string, Gate>();
// dev:ino of every lock file this process holds right now.
const heldInodes = new Set<string>();

function inodeKey(st: fs.Stats): string {
  return `${st.dev}:${st.ino}`;
}

/** Waits for the in-process turn on `key`; resolves with the (idempotent) function that passes the turn on. */
function enterGate(key: string, deadline: number, timeoutError: () => Error): Promise<() => void> {
  let gate = gates.get(key);
  if (!gate) {
    gate = { held: false, queue: [] };
    gates.set(key, gate);
  }
  const g = gate;
  let left = false;
  const leave = () => {
    if (left) return;
    left = true;
    leaveGate(key, g);
  };
  if (!g.held) {
    g.held = true;
    return Promise.resolve(leave);
  }
  return new Promise((resolve, reject) => {
    const w: Waiter = {
      grant() {
        clearTimeout(w.timer);
        resolve(leave);
      },
    };
    w.timer = setTimeout(() => {
      const i = g.queue.indexOf(w);
      if (i >= 0) g.queue.splice(i, 1);
      reject(timeoutError());
    }, Math.max(0, deadline - performance.now()));
    g.queue.push(w);
  });
}

function leaveGate(key: string, g: Gate): void {
  const next = g.queue.shift();
  if (next) {
    next.grant();
    return;
  }
  g.held = false;
  if (gates.get(key) === g) gates.delete(key);
}

// ---- owner record -------------------------------------------------------------

interface Owner {
  pid: number;
  host: string;
  /** Linux boot id: tells this machine (and this boot) from any other. */
  boot?: string;
  /** Linux pid namespace: a pid means our process table only inside the same one. */
  pidns?: string;
  created?: string;
}

let selfCache: Omit<Owner, 'pid' | 'created'> | undefined;

function self(): Omit<Owner, 'pid' | 'created'> {
  if (selfCache) return selfCache;
  selfCache = {
    host: os.hostname(),
    boot: tryRead(() => fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()),
    pidns: tryRead(() => fs.readlinkSync('/proc/self/ns/pid')),
  };
  return selfCache;
}

function ownerRecord(): string {
  const me = self();
  const rec: Owner = { pid: process.pid, host: me.host, boot: me.boot, pidns: me.pidns, created: new Date().toISOString() };
  return JSON.stringify(rec) + '\n';
}

function parseOwner(text: string): Owner | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // Empty (the owner is between create and write), MapProxy's " <pid>\n", or garbage.
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || typeof o.host !== 'string') return undefined;
  return {
    pid: o.pid as number,
    host: o.host,
    boot: typeof o.boot === 'string' ? o.boot : undefined,
    pidns: typeof o.pidns === 'string' ? o.pidns : undefined,
  };
}

/** Whether the owner's pid can be looked up in our process table. */
function sameMachine(o: Owner): boolean {
  const me = self();
  // Boot id + pid namespace are exact; the hostname is only a fallback off Linux, where two
  // machines with one name sharing a lock dir would at worst break each other's live locks.
  if (me.boot !== undefined || o.boot !== undefined) return me.boot === o.boot && me.pidns === o.pidns;
  return me.host === o.host;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM means it exists under another user; anything unexpected counts as alive (mtime decides).
    return errCode(e) !== 'ESRCH';
  }
}

// ---- small helpers --------------------------------------------------------------

function checkLockName(name: string): void {
  if (typeof name !== 'string' || name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new TypeError(`tile lock name must be a plain file name, got ${JSON.stringify(name)}`);
  }
}

function readHead(fd: number): string {
  const buf = new Uint8Array(OWNER_READ_LIMIT);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  return new TextDecoder().decode(buf.subarray(0, n));
}

function tryRead(f: () => string): string | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

function errCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
