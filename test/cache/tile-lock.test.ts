import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  LockDirError, LockTimeoutError, TileLocker, breakStaleLock, lockFilename, withLock,
} from '../../src/cache/tile-lock.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/lock-worker.ts', import.meta.url));
const DENO = fileURLToPath(new URL('../../node_modules/.bin/deno', import.meta.url));
const HAVE_DENO = fs.existsSync(DENO);

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-tile-lock-'));
let tmpCount = 0;
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function tmpDir(): string {
  return path.join(tmpRoot, `t${++tmpCount}`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A lock file as another machine's process would leave it (its pid means nothing here). */
function writeForeignLock(file: string, ageSeconds: number, content = '{"pid":1,"host":"elsewhere","boot":"other-boot","pidns":"pid:[1]"}\n'): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, content);
  const t = new Date(Date.now() - ageSeconds * 1000);
  fs.utimesSync(file, t, t);
}

interface Child {
  proc: ChildProcess;
  /** Resolves when the child printed `line`; rejects if it exits first or after limitMs. */
  printed(line: string, limitMs: number): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

/** Starts the lock worker fixture; it is SIGKILLed if it outlives limitMs. */
function startWorker(job: object, limitMs: number, runtime: 'bun' | 'deno' = 'bun'): Child {
  const args = runtime === 'deno' ? [DENO, 'run', '-A', FIXTURE, JSON.stringify(job)] : [process.execPath, FIXTURE, JSON.stringify(job)];
  const proc = spawn(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const killer = setTimeout(() => proc.kill('SIGKILL'), limitMs);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    proc.on('exit', (code, signal) => {
      clearTimeout(killer);
      // 'exit' may come before the last stderr chunk; 'close' would wait for it, but a tiny grace is enough here.
      setTimeout(() => resolve({ code, signal, stderr }), 20);
    });
  });
  const printed = (line: string, waitMs: number) =>
    new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const check = () => {
        if (stdout.split('\n').includes(line)) return resolve();
        if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`worker exited before printing ${line}: ${stderr}`));
        if (Date.now() - started > waitMs) return reject(new Error(`worker did not print ${line} within ${waitMs} ms`));
        setTimeout(check, 10);
      };
      check();
    });
  return { proc, printed, exited };
}

/** Every "start pid i" must be directly followed by its own "end pid i": no two holders overlapped. */
function assertNoOverlap(logFile: string, expectedRuns: number): void {
  const lines = fs.readFileSync(logFile, 'utf8').trim().split('\n');
  assert.equal(lines.length, expectedRuns * 2, 'every run logged start and end');
  for (let i = 0; i < lines.length; i += 2) {
    const [s, spid, si] = lines[i].split(' ');
    const [e, epid, ei] = lines[i + 1].split(' ');
    assert.equal(s, 'start', `line ${i + 1}: ${lines[i]}`);
    assert.equal(e, 'end', `line ${i + 2} follows "${lines[i]}" but is "${lines[i + 1]}" (overlap)`);
    assert.equal(`${epid} ${ei}`, `${spid} ${si}`, `line ${i + 2}: interval of another holder`);
  }
}

describe('lockFilename', () => {
  it("matches MapProxy's TileLocker.lock_filename (md5 of the cache identity, then x-y-z)", () => {
    // Value printed by MapProxy 1.15: TileLocker(d, 60, md5(cache_dir)).lock_filename(Tile((12, 34, 5)))
    assert.equal(lockFilename('/srv/mapproxy/cache_data/osm_cache_EPSG3857', [12, 34, 5]), '16dcd26658d38fdcce83ed9d8aa962a2-12-34-5.lck');
    assert.equal(lockFilename('abc', [0, 0, 0], 'mbtiles-'), 'mbtiles-900150983cd24fb0d6963f7d28e17f72-0-0-0.lck');
  });

  it('rejects non-integer coordinates', () => {
    assert.throws(() => lockFilename('x', [1.5, 0, 0]), RangeError);
  });
});

describe('TileLocker in one process', () => {
  it('creates a missing lock dir recursively and removes the lock file on release', async () => {
    const dir = path.join(tmpDir(), 'a', 'b', 'tile_locks');
    const locker = new TileLocker({ lockDir: dir, timeoutSeconds: 1 });
    const lock = await locker.lock('m-1-2-3.lck');
    assert.equal(lock.path, path.join(dir, 'm-1-2-3.lck'));
    assert.ok(lock.held);
    const owner = JSON.parse(fs.readFileSync(lock.path, 'utf8'));
    assert.equal(owner.pid, process.pid);
    assert.equal(owner.host, os.hostname());
    lock.release();
    assert.equal(lock.held, false);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('lets exactly one of 32 concurrent callers in at a time, and all of them finish', async () => {
    const dir = tmpDir();
    const locker = new TileLocker({ lockDir: dir, timeoutSeconds: 10 });
    let active = 0;
    let maxActive = 0;
    const order: number[] = [];
    const results = await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        withLock(locker, 'meta.lck', async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          order.push(i);
          await sleep(i % 3);
          active--;
          return i;
        }),
      ),
    );
    assert.equal(maxActive, 1);
    assert.deepEqual(results, Array.from({ length: 32 }, (_, i) => i));
    assert.deepEqual(order, Array.from({ length: 32 }, (_, i) => i), 'in-process waiters are served first come, first served');
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('does not serialise different lock names', async () => {
    const locker = new TileLocker({ lockDir: tmpDir(), timeoutSeconds: 1 });
    const a = await locker.lock('a.lck');
    const b = await locker.lock('b.lck');
    assert.ok(a.held && b.held);
    a.release();
    b.release();
  });

  it('shares the in-process queue between TileLocker instances on the same dir', async () => {
    const dir = tmpDir();
    const one = new TileLocker({ lockDir: dir, timeoutSeconds: 5 });
    const two = new TileLocker({ lockDir: dir + path.sep, timeoutSeconds: 5 });
    const first = await one.lock('x.lck');
    let secondGot = false;
    const second = two.lock('x.lck').then((l) => ((secondGot = true), l));
    await sleep(50);
    assert.equal(secondGot, false);
    first.release();
    (await second).release();
  });

  it('does not take its own live lock for stale when the lock dir is reached through a symlink', async () => {
    const dir = tmpDir();
    fs.mkdirSync(dir, { recursive: true });
    const link = dir + '-link';
    fs.symlinkSync(dir, link);
    const direct = new TileLocker({ lockDir: dir, timeoutSeconds: 5 });
    const viaLink = new TileLocker({ lockDir: link, timeoutSeconds: 0.2 });
    const held = await direct.lock('s.lck');
    await assert.rejects(viaLink.lock('s.lck'), LockTimeoutError);
    assert.ok(fs.existsSync(held.path));
    held.release();
    (await viaLink.lock('s.lck')).release();
  });

  it('release is idempotent and never removes a later holder’s file', async () => {
    const locker = new TileLocker({ lockDir: tmpDir(), timeoutSeconds: 1 });
    const a = await locker.lock('r.lck');
    a.release();
    a.release();
    const b = await locker.lock('r.lck');
    a.release();
    assert.ok(fs.existsSync(b.path), "a's second release left b's lock alone");
    b.release();
    assert.equal(fs.existsSync(b.path), false);
  });

  it('release leaves the file alone when the lock was taken over meanwhile', async () => {
    const locker = new TileLocker({ lockDir: tmpDir(), timeoutSeconds: 1 });
    const a = await locker.lock('t.lck');
    // What a waiter elsewhere does when it judges a's lock stale and takes it.
    fs.renameSync(a.path, a.path + '.gone');
    fs.writeFileSync(a.path, '{"pid":1,"host":"elsewhere","boot":"other-boot"}\n');
    a.release();
    assert.ok(fs.existsSync(a.path));
    assert.match(fs.readFileSync(a.path, 'utf8'), /elsewhere/);
  });

  it('withLock returns the result and releases when fn throws', async () => {
    const locker = new TileLocker({ lockDir: tmpDir(), timeoutSeconds: 1 });
    assert.equal(await withLock(locker, 'w.lck', () => 42), 42);
    await assert.rejects(withLock(locker, 'w.lck', async () => { throw new Error('boom'); }), /boom/);
    const again = await locker.lock('w.lck');
    again.release();
  });

  it('times out a caller queued behind an in-process holder, and the queue keeps working', async () => {
    const dir = tmpDir();
    const patient = new TileLocker({ lockDir: dir, timeoutSeconds: 5 });
    const impatient = new TileLocker({ lockDir: dir, timeoutSeconds: 0.2 });
    const holder = await patient.lock('q.lck');
    const waiting = patient.lock('q.lck');
    const t0 = performance.now();
    await assert.rejects(impatient.lock('q.lck'), LockTimeoutError);
    const took = performance.now() - t0;
    assert.ok(took >= 190 && took < 700, `timed out after ${took.toFixed(0)} ms`);
    holder.release();
    const next = await waiting;
    assert.ok(next.held);
    next.release();
  });

  it('rejects lock names that are not plain file names', async () => {
    const locker = new TileLocker({ lockDir: tmpDir(), timeoutSeconds: 1 });
    for (const bad of ['', '.', '..', 'a/b.lck', '../x.lck']) await assert.rejects(locker.lock(bad), TypeError, bad);
  });

  it('gives a clear LockDirError when the lock dir cannot be created', async () => {
    const file = path.join(tmpDir(), 'plain-file');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'x');
    const locker = new TileLocker({ lockDir: path.join(file, 'tile_locks'), timeoutSeconds: 1 });
    await assert.rejects(locker.lock('a.lck'), (e: unknown) => {
      assert.ok(e instanceof LockDirError);
      assert.match(e.message, /cannot create tile lock directory .*plain-file/);
      return true;
    });
    await assert.rejects(new TileLocker({ lockDir: file, timeoutSeconds: 1 }).lock('a.lck'), LockDirError);
  });

  it('validates its options', () => {
    assert.throws(() => new TileLocker({ lockDir: 'x', timeoutSeconds: -1 }), RangeError);
    assert.throws(() => new TileLocker({ lockDir: 'x', timeoutSeconds: 1, staleSeconds: 0 }), RangeError);
    assert.throws(() => new TileLocker({ lockDir: 'x', timeoutSeconds: 1, pollMs: Number.NaN }), RangeError);
    const d = new TileLocker({ lockDir: 'x', timeoutSeconds: 60 });
    assert.equal(d.staleSeconds, 30);
    assert.equal(new TileLocker({ lockDir: 'x', timeoutSeconds: 1 }).staleSeconds, 10);
  });
});

describe('stale and foreign locks', () => {
  it('waits for a fresh lock of another host and times out within bounds, without burning CPU', async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'f.lck');
    writeForeignLock(file, 0);
    const locker = new TileLocker({ lockDir: dir, timeoutSeconds: 1, staleSeconds: 60 });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await assert.rejects(locker.lock('f.lck'), (e: unknown) => {
      assert.ok(e instanceof LockTimeoutError);
      assert.equal(e.lockPath, file);
      return true;
    });
    const took = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    assert.ok(took >= 990 && took < 1500, `timed out after ${took.toFixed(0)} ms`);
    assert.ok((cpu.user + cpu.system) / 1000 < 150, `used ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms CPU while waiting`);
    assert.ok(fs.existsSync(file), 'a fresh foreign lock is not broken');
  });

  it('breaks a lock whose mtime is older than staleSeconds', async () => {
    const dir = tmpDir();
    writeForeignLock(path.join(dir, 's.lck'), 30);
    writeForeignLock(path.join(dir, 'mp.lck'), 30, ' 4242\n'); // as MapProxy writes it
    const locker = new TileLocker({ lockDir: dir, timeoutSeconds: 2, staleSeconds: 10 });
    const t0 = performance.now();
    const lock = await locker.lock('s.lck');
    const lock2 = await locker.lock('mp.lck');
    assert.ok(performance.now() - t0 < 500);
    assert.equal(JSON.parse(fs.readFileSync(lock.path, 'utf8')).pid, process.pid);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['mp.lck', 's.lck'], 'no aside file left behind');
    lock.release();
    lock2.release();
  });

  it('takes over at once the lock of a process on this machine that was killed with SIGKILL', { timeout: 20000 }, async () => {
    const dir = tmpDir();
    const child = startWorker({ mode: 'hold', dir, name: 'k.lck', holdMs: 15000, timeoutSeconds: 5 }, 15000);
    try {
      await child.printed('locked', 10000);
    } finally {
      child.proc.kill('SIGKILL');
    }
    const { signal } = await child.exited;
    assert.equal(signal, 'SIGKILL');
    assert.ok(fs.existsSync(path.join(dir, 'k.lck')), 'the killed holder left its lock file');
    const locker = new TileLocker({ lockDir: dir, timeoutSeconds: 5, staleSeconds: 60 });
    const t0 = performance.now();
    const lock = await locker.lock('k.lck');
    assert.ok(performance.now() - t0 < 500, 'dead pid detected without waiting for staleSeconds');
    lock.release();
  });

  it('lets a live holder keep its lock past staleSeconds by refreshing the mtime', { timeout: 20000 }, async () => {
    const dir = tmpDir();
    const file = path.join(dir, 'h.lck');
    const child = startWorker({ mode: 'hold', dir, name: 'h.lck', holdMs: 1500, timeoutSeconds: 5, staleSeconds: 0.3 }, 15000);
    try {
      await child.printed('locked', 10000);
      await sleep(600);
      const age = Date.now() - fs.statSync(file).mtimeMs;
      assert.ok(age < 300, `lock file not refreshed for ${age.toFixed(0)} ms`);
      const locker = new TileLocker({ lockDir: dir, timeoutSeconds: 0.3, staleSeconds: 0.3 });
      await assert.rejects(locker.lock('h.lck'), LockTimeoutError);
      const patient = new TileLocker({ lockDir: dir, timeoutSeconds: 5, staleSeconds: 0.3 });
      const lock = await patient.lock('h.lck');
      const { code } = await child.exited;
      assert.equal(code, 0, 'the holder released normally, its lock was never broken');
      lock.release();
    } finally {
      child.proc.kill('SIGKILL');
    }
  });
});

describe('breakStaleLock (the two-waiters race, step by step)', () => {
  /** A waiter's view: the lock file open, and its fstat at the moment it judged it stale. */
  function judge(file: string): { fd: number; judged: fs.Stats } {
    const fd = fs.openSync(file, 'r');
    return { fd, judged: fs.fstatSync(fd) };
  }

  /** A fresh directory holding one lock file of another host, an hour old. */
  function staleLock(): { dir: string; file: string } {
    const dir = tmpDir();
    const file = path.join(dir, 'b.lck');
    writeForeignLock(file, 3600);
    return { dir, file };
  }

  it('removes the file it judged stale', () => {
    const { dir, file } = staleLock();
    const { fd, judged } = judge(file);
    try {
      assert.equal(breakStaleLock(file, fd, judged), 'removed');
    } finally {
      fs.closeSync(fd);
    }
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('keeps the fresh lock of a waiter that broke the stale one first', () => {
    const { dir, file } = staleLock();
    const b = judge(file); // waiter B judges the old lock stale ...
    const a = judge(file); // ... so does waiter A, which is faster:
    assert.equal(breakStaleLock(file, a.fd, a.judged), 'removed');
    const fresh = fs.openSync(file, 'wx');
    fs.writeSync(fresh, 'A holds it\n');
    const freshIno = fs.fstatSync(fresh).ino;
    try {
      // B now acts on its outdated judgement and must not delete A's lock.
      assert.equal(breakStaleLock(file, b.fd, b.judged), 'kept');
      assert.equal(fs.statSync(file).ino, freshIno);
      assert.equal(fs.readFileSync(file, 'utf8'), 'A holds it\n');
      assert.deepEqual(fs.readdirSync(dir), ['b.lck'], 'no aside copy left');
    } finally {
      for (const fd of [a.fd, b.fd, fresh]) fs.closeSync(fd);
    }
  });

  it('never moves the fresh lock away, even for a moment, when acting on an outdated judgement', () => {
    const { file } = staleLock();
    const b = judge(file);
    fs.unlinkSync(file); // the stale lock is broken by someone else ...
    const fresh = fs.openSync(file, 'wx'); // ... who takes the lock
    const before = fs.fstatSync(fresh);
    // file times tick with the kernel's coarse clock: let it move, so a rename or link shows in ctime
    Bun.sleepSync(30);
    try {
      assert.equal(breakStaleLock(file, b.fd, b.judged), 'kept');
      const after = fs.statSync(file);
      assert.equal(after.ino, before.ino);
      // Renaming the fresh file aside and linking it back (the old way) empties the path for a moment,
      // long enough for a third waiter to create the lock beside the fresh holder; it also changes ctime.
      assert.equal(after.ctimeMs, before.ctimeMs, 'the fresh lock was renamed or linked');
      assert.equal(after.nlink, 1);
    } finally {
      fs.closeSync(b.fd);
      fs.closeSync(fresh);
    }
  });

  it('leaves the lock to a waiter that is breaking it already', () => {
    const { dir, file } = staleLock();
    const w = judge(file);
    fs.writeFileSync(`${file}.break.lck`, ''); // another waiter holds the break token
    try {
      assert.equal(breakStaleLock(file, w.fd, w.judged), 'kept');
      assert.equal(fs.statSync(file).ino, w.judged.ino, 'the stale lock is still there for the other breaker');
      // the other breaker died holding the token: once it is old, it is cleared and the break goes through
      const old = new Date(Date.now() - 60_000);
      fs.utimesSync(`${file}.break.lck`, old, old);
      assert.equal(breakStaleLock(file, w.fd, w.judged), 'kept');
      assert.equal(breakStaleLock(file, w.fd, w.judged), 'removed');
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.closeSync(w.fd);
    }
  });

  it('keeps a lock whose holder refreshed it after it was judged', () => {
    const { file } = staleLock();
    const holder = fs.openSync(file, 'r+');
    const w = judge(file);
    const now = new Date();
    fs.futimesSync(holder, now, now); // the heartbeat comes in between
    try {
      assert.equal(breakStaleLock(file, w.fd, w.judged), 'kept');
      assert.equal(fs.statSync(file).ino, fs.fstatSync(holder).ino);
    } finally {
      fs.closeSync(w.fd);
      fs.closeSync(holder);
    }
  });

  it('reports a lock that vanished before it could be moved', () => {
    const { file } = staleLock();
    const w = judge(file);
    fs.unlinkSync(file);
    try {
      assert.equal(breakStaleLock(file, w.fd, w.judged), 'gone');
    } finally {
      fs.closeSync(w.fd);
    }
  });
});

describe('TileLocker across processes', () => {
  async function runWorkers(dir: string, runtimes: Array<'bun' | 'deno'>, iterations: number): Promise<string> {
    const out = path.join(path.dirname(dir), `${path.basename(dir)}.log`);
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, '');
    const children = runtimes.map((rt) =>
      startWorker({ mode: 'cycle', dir, name: 'meta-0-0-3.lck', out, iterations, holdMs: 15, timeoutSeconds: 15, staleSeconds: 10 }, 20000, rt),
    );
    try {
      for (const c of children) {
        const r = await c.exited;
        assert.equal(r.code, 0, `worker failed: ${r.signal ?? ''} ${r.stderr}`);
      }
    } finally {
      for (const c of children) c.proc.kill('SIGKILL');
    }
    return out;
  }

  it('4 processes never hold the lock at the same time', { timeout: 30000 }, async () => {
    const dir = tmpDir();
    const out = await runWorkers(dir, ['bun', 'bun', 'bun', 'bun'], 5);
    assertNoOverlap(out, 20);
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it('4 processes racing to break the same stale lock still exclude each other', { timeout: 30000 }, async () => {
    const dir = tmpDir();
    writeForeignLock(path.join(dir, 'meta-0-0-3.lck'), 3600);
    const out = await runWorkers(dir, ['bun', 'bun', 'bun', 'bun'], 5);
    assertNoOverlap(out, 20);
    assert.deepEqual(fs.readdirSync(dir), [], 'the stale lock and every aside copy are gone');
  });

  it('Bun and Deno processes exclude each other', { timeout: 60000, skip: !HAVE_DENO }, async () => {
    const dir = tmpDir();
    const out = await runWorkers(dir, ['bun', 'deno', 'bun', 'deno'], 4);
    assertNoOverlap(out, 16);
  });
});
