/**
 * `mapproxy serve` and `serve-multiapp` as real process trees for tests:
 * started in their own process group, so a test stops the supervisor and all
 * its workers by the supervisor's pid (as test/server/serve.test.ts does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The CLI entry, run with the current runtime. */
export const cli = path.resolve(import.meta.dir, '../../cli/main.ts');

/** A running server and what it logged. */
export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  /** http://127.0.0.1:PORT of the first TCP bind, once listening. */
  url: string;
  log(): string;
  exited: Promise<number | null>;
  /** Wait (bounded) for re in the log after offset from. */
  waitForLog(re: RegExp, ms: number, from?: number): Promise<boolean>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Start `mapproxy ARGS...` in its own process group, without waiting for it. */
export function spawnServe(args: string[], cwd: string): ServeProcess {
  const child = spawn(process.execPath, [cli, ...args], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const s: ServeProcess = {
    child,
    pid: child.pid!,
    url: '',
    log: () => text,
    exited,
    async waitForLog(re, ms, from = 0) {
      for (const end = Date.now() + ms; Date.now() < end; await sleep(25)) if (re.test(text.slice(from))) return true;
      return re.test(text.slice(from));
    },
  };
  return s;
}

/** Run `mapproxy ARGS...` (e.g. ['serve', cfg, '-b', '127.0.0.1:0']) and wait until it listens; throws with the log when it does not. */
export async function startServe(args: string[], cwd: string, bootMs = 15_000): Promise<ServeProcess> {
  const s = spawnServe(args, cwd);
  const listening = /listening at http:\/\/127\.0\.0\.1:(\d+)/;
  if (!(await s.waitForLog(listening, bootMs))) {
    killGroup(s.pid);
    throw new Error(`mapproxy ${args[0]} did not start:\n${s.log()}`);
  }
  s.url = `http://127.0.0.1:${listening.exec(s.log())![1]}`;
  return s;
}

/** Stop a process tree we started: SIGKILL to its process group. */
export function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** A response read completely, with the answering worker (--debug's X-MapProxy-Worker). */
export interface Answer {
  status: number;
  worker: string | null;
  text: string;
  headers: Headers;
}

/** GET on a new connection each time (Connection: close), so SO_REUSEPORT spreads the requests over the workers; `unix` asks a UNIX socket. */
export async function get(url: string, opts: { unix?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const r = await fetch(url, { headers: { Connection: 'close', ...opts.headers }, unix: opts.unix, signal: AbortSignal.timeout(10_000) } as RequestInit);
  return { status: r.status, worker: r.headers.get('x-mapproxy-worker'), text: await r.text(), headers: r.headers };
}

/**
 * Whether the kernel hands the connections queued on a closing SO_REUSEPORT
 * listener to the other listeners (net.ipv4.tcp_migrate_req=1, Linux 5.14+).
 * Without it, a TCP connection arriving in the instant a replaced worker
 * closes its listener is reset before any worker has seen it: serve cannot
 * prevent that (it logs a hint). .ci/run turns migration on.
 */
export function kernelMigratesQueuedConnections(): boolean {
  try {
    return fs.readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() !== '0';
  } catch {
    return false;
  }
}

/** Whether e is fetch's error for a connection reset or closed before the whole answer came. */
export function isConnectionReset(e: unknown): boolean {
  return (e as { code?: unknown } | undefined)?.code === 'ECONNRESET';
}

/**
 * Requests to a TCP port whose workers are being replaced. Where the kernel
 * does not migrate queued connections (kernelMigratesQueuedConnections), a
 * request whose connection is reset is sent again (3 tries in all). Every
 * try carries its own `mp-try` query parameter and the ones that were reset
 * are kept, so a test can show that no worker handled them: in its access
 * log (assertNotHandled), or by the server's request counts. A reset request
 * that a worker did handle is a real failure, and so is any reset where the
 * kernel migrates connections.
 */
export class AcrossReplacements {
  /** The URLs of the tries that were reset. */
  readonly reset: string[] = [];
  private tries = 0;

  async get<T>(url: string, fetchIt: (url: string) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const tried = `${url}${url.includes('?') ? '&' : '?'}mp-try=${++this.tries}`;
      try {
        return await fetchIt(tried);
      } catch (e) {
        if (attempt >= 3 || !isConnectionReset(e) || kernelMigratesQueuedConnections()) throw e;
        this.reset.push(tried);
      }
    }
  }

  /** Fails when an access log shows that a worker handled a request whose connection was reset. */
  assertNotHandled(accessLog: string): void {
    for (const u of this.reset) {
      const tag = /[?&](mp-try=\d+)/.exec(u)![1];
      if (new RegExp(`[?&]${tag}[ &]`).test(accessLog)) throw new Error(`a worker handled ${u}, yet its connection was reset`);
    }
  }
}

/** Whether a process (a worker, by its X-MapProxy-Worker pid) is still there. */
export function alive(pid: string | number): boolean {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

/** The value of the first sample line of a Prometheus text document matching line (0 when there is none). */
export function sample(text: string, line: RegExp): number {
  const m = text.split('\n').find((l) => line.test(l));
  return m ? Number(m.split(' ').at(-1)) : 0;
}

/** Scrape /metrics at least once, and again (bounded by ms) until ok(text) holds; the last document either way. */
export async function scrapeUntil(
  url: string, ok: (text: string) => boolean, ms: number, fetchIt: (url: string) => Promise<Answer> = get,
): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const text = (await fetchIt(`${url}/metrics`)).text;
    if (ok(text) || Date.now() >= end) return text;
    await sleep(50);
  }
}

/** A config with one cached layer `osm` of a debug source in grid `webmercator` (use_grid_names), under ./cache_data. */
export function debugTileConfig(title = 'OSM'): string {
  return `
services:
  tms:
    use_grid_names: true
layers:
  - name: osm
    title: ${title}
    sources: [osm_cache]
caches:
  osm_cache:
    grids: [webmercator]
    sources: [debug]
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
sources:
  debug:
    type: debug
globals:
  cache:
    base_dir: ./cache_data
`;
}
