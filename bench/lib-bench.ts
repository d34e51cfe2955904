/**
 * Helpers shared by the benchmarks that drive a server with wrk: child
 * processes started and stopped by pid (with their output in a log file),
 * readiness polling with a deadline, free ports, a wrk run with its figures
 * parsed, a seeded random number generator and a bounded-concurrency map.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { blendPixel, type Raster, type Rgba } from '../src/image/raster.ts';
import * as fs from 'node:fs';
import * as net from 'node:net';

const FS_NAMES: Record<number, string> = { 0xef53: 'ext2/3/4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x2fc12fc1: 'zfs' };

/**
 * The name of the file system dir is on, as statfs tells it. Benchmarks that
 * write many tiles print it: on ext4 without a journal (this machine's /),
 * files created within minutes after many deletes cost several times the
 * CPU (the inode allocator's recently_deleted(), see bench/seed.ts).
 */
export function fsName(d: string): string {
  const type = Number(fs.statfsSync(d).type);
  return FS_NAMES[type] ?? `file system type 0x${type.toString(16)}`;
}

/** Whether a command is on PATH. */
export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** A child process we started; `log` holds its stdout and stderr. */
export interface Child {
  name: string;
  proc: ChildProcess;
  log: string;
}

const started: Child[] = [];

/** Start a command with stdout/stderr appended to `log`; it is stopped by stopAll on exit. */
export function startProcess(name: string, cmd: string, args: string[], opts: { cwd: string; log: string; env?: NodeJS.ProcessEnv }): Child {
  const fd = fs.openSync(opts.log, 'a');
  const proc = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
  fs.closeSync(fd);
  const c = { name, proc, log: opts.log };
  started.push(c);
  return c;
}

/** SIGTERM to the child's own pid, SIGKILL after `graceMs`; resolves when it has exited. */
export function stopProcess(c: Child, graceMs = 5000): Promise<void> {
  return new Promise((resolve) => {
    const p = c.proc;
    if (p.exitCode !== null || p.signalCode !== null || !p.pid) return resolve();
    const t = setTimeout(() => {
      if (p.exitCode === null && p.signalCode === null && p.pid) process.kill(p.pid, 'SIGKILL');
    }, graceMs);
    p.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    process.kill(p.pid, 'SIGTERM');
  });
}

/** Synchronous last-resort stop of every child still running (for process 'exit'). */
export function killAllSync(): void {
  for (const c of started) {
    const p = c.proc;
    if (p.pid && p.exitCode === null && p.signalCode === null) {
      try {
        process.kill(p.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
  }
}

/** The last `n` lines of a child's log, for error messages. */
export function logTail(c: Child, n = 20): string {
  try {
    return fs.readFileSync(c.log, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '';
  }
}

/** utime+stime of one process from /proc (seconds; 100 clock ticks a second as on Linux), undefined if unreadable. */
function procCpu(pid: number): { cpu: number; ppid: number } | undefined {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return { cpu: (Number(f[11]) + Number(f[12])) / 100, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/** CPU seconds used so far by a process and its direct children (gunicorn's worker); NaN off Linux. */
export function cpuSeconds(pid: number | undefined): number {
  if (!pid || !fs.existsSync('/proc/self/stat')) return NaN;
  let total = procCpu(pid)?.cpu ?? NaN;
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const c = procCpu(Number(e));
    if (c && c.ppid === pid) total += c.cpu;
  }
  return total;
}

/** A free TCP port on 127.0.0.1 (asked from the OS, then released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Poll `url` until it answers 200 or `timeoutMs` passes; returns the wait in ms. */
export async function waitFor(url: string, timeoutMs: number, child?: Child): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null)) {
      throw new Error(`${child.name} exited before answering ${url}:\n${logTail(child)}`);
    }
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return performance.now() - start;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms${child ? `:\n${logTail(child)}` : ''}`);
}

/** Figures of one wrk run. */
export interface WrkResult {
  rps: number;
  /** latency percentiles in ms */
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  raw: string;
}

/** wrk's latency figure ("812.00us", "12.34ms", "1.02s", "2.00m") in ms. */
export function wrkMs(s: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(s ?? '');
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 'ms' ? v : m[2] === 's' ? v * 1000 : v * 60000;
}

/** Run wrk with a lua script against base for `seconds`; the wrk process is bounded by a timeout. */
export function runWrk(base: string, opts: { lua: string; seconds: number; threads: number; connections: number; timeoutS?: number }): WrkResult {
  const args = [`-t${opts.threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, `--timeout`, `${opts.timeoutS ?? 30}s`, '--latency', '-s', opts.lua, base];
  const r = spawnSync('wrk', args, { encoding: 'utf8', timeout: (opts.seconds + 60) * 1000 });
  const out = (r.stdout ?? '') + (r.stderr ?? '');
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: wrkMs(/\s50%\s+([\d.]+\w+)/.exec(out)?.[1]),
    p99: wrkMs(/\s99%\s+([\d.]+\w+)/.exec(out)?.[1]),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    raw: out,
  };
}

/** A lua script for wrk that cycles through `paths` in order (thread k starting at offset 17k, so runs are repeatable). */
export function rotatingLua(paths: string[]): string {
  return `local paths = {${paths.map((u) => JSON.stringify(u)).join(',\n')}}
local i = 0
local n = #paths
local threads = 0
setup = function(thread)
  thread:set("offset", (threads * 17) % n)
  threads = threads + 1
end
init = function(args)
  i = tonumber(offset) or 0
end
request = function()
  i = (i % n) + 1
  return wrk.format(nil, paths[i])
end
`;
}

/** A seeded PRNG (mulberry32) returning [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Map over items with at most `limit` calls in flight; results in input order. */
export { mapLimit } from '../src/util/semaphore.ts';

/** A thick line with coverage-based anti-aliasing, like a map renderer's roads. */
export function line(r: Raster, x0: number, y0: number, x1: number, y1: number, w: number, c: Rgba): void {
  const minx = Math.max(0, Math.floor(Math.min(x0, x1) - w));
  const maxx = Math.min(r.width - 1, Math.ceil(Math.max(x0, x1) + w));
  const miny = Math.max(0, Math.floor(Math.min(y0, y1) - w));
  const maxy = Math.min(r.height - 1, Math.ceil(Math.max(y0, y1) + w));
  const dx = x1 - x0;
  const dy = y1 - y0;
  const len2 = dx * dx + dy * dy || 1;
  for (let y = miny; y <= maxy; y++) {
    for (let x = minx; x <= maxx; x++) {
      const px = x + 0.5;
      const py = y + 0.5;
      const t = Math.max(0, Math.min(1, ((px - x0) * dx + (py - y0) * dy) / len2));
      const dist = Math.hypot(px - (x0 + t * dx), py - (y0 + t * dy));
      const cov = Math.max(0, Math.min(1, w / 2 - dist + 0.5));
      if (cov > 0) blendPixel(r, x, y, [c[0], c[1], c[2], Math.round(c[3] * cov)]);
    }
  }
}

/** The config of the cache-hit benchmarks: one TMS layer over a file cache that has no sources (every tile is pre-seeded). */
export const TMS_HITS_CONFIG = `services:
  tms:
layers:
  - name: osm
    title: bench
    sources: [osm_cache]
caches:
  osm_cache:
    grids: [GLOBAL_MERCATOR]
    sources: []
globals:
  cache:
    base_dir: ./cache_data
`;
