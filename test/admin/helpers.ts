/**
 * Seeding API tests: a proxy with services.admin served in this process (with
 * its job runner), a JSON client for the API, bounded waits, and the CLI as a
 * child process in its own process group (stopped by pid).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { startProxy, type TestProxy } from '../helpers/proxy-server.ts';
import { basicConfig, type SeedUpstream } from '../seed/helpers.ts';
import { JobRunner } from '../../src/render/job-runner.ts';
import { runnerContext } from '../../src/service/admin/admin-config.ts';

export const TOKEN = 'test-token-0123456789abcdef';

const root = path.resolve(import.meta.dir, '../..');
export const CLI = path.join(root, 'cli', 'main.ts');

/** basicConfig (cache `c`, 4x4 meta tiles, the upstream WMS) plus a second cache `d` and services.admin. */
export function adminYaml(up: SeedUpstream, admin = `    token: ${TOKEN}`): string {
  const extra = `  d:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [wms]
    meta_size: [4, 4]
    meta_buffer: 0`;
  return `${basicConfig(extra).replaceAll('@UPSTREAM@', up.url)}services:
  tms:
  admin:
${admin}
`;
}

/** An answer of the API. */
export interface ApiAnswer {
  status: number;
  headers: Headers;
  json: any;
}

/** Calls the API at base; the token defaults to TOKEN (null: none). */
export async function api(base: string, method: string, p: string, opts: { body?: unknown; text?: string; contentType?: string; token?: string | null } = {}): Promise<ApiAnswer> {
  const headers: Record<string, string> = {};
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.text !== undefined) body = opts.text;
  else if (opts.body !== undefined) body = JSON.stringify(opts.body);
  if (body !== undefined) headers['Content-Type'] = opts.contentType ?? 'application/json';
  const r = await fetch(`${base}${p}`, { method, headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, headers: r.headers, json };
}

/** A proxy with the seeding API and a job runner in this process. */
export interface AdminServer {
  url: string;
  dir: string;
  proxy: TestProxy;
  runner: JobRunner | undefined;
  call(method: string, p: string, opts?: Parameters<typeof api>[3]): Promise<ApiAnswer>;
  /** Starts a (new) job runner, as a restarted server would. */
  startRunner(): JobRunner;
  stopRunner(): Promise<void>;
  stop(): Promise<void>;
}

/** Serves yaml (startProxy) and starts a job runner polling every 100 ms. */
export async function startAdmin(yaml: string, opts: { files?: Record<string, string>; runner?: boolean } = {}): Promise<AdminServer> {
  const proxy = await startProxy(yaml, { files: opts.files });
  const s: AdminServer = {
    url: proxy.url,
    dir: proxy.dir,
    proxy,
    runner: undefined,
    call: (method, p, o) => api(proxy.url, method, p, o),
    startRunner() {
      s.runner = new JobRunner({ context: () => runnerContext(proxy.app.proxy), pollMs: 100 }).start();
      return s.runner;
    },
    async stopRunner() {
      await s.runner?.stop();
      s.runner = undefined;
    },
    async stop() {
      await s.stopRunner();
      await proxy.stop();
    },
  };
  if (opts.runner !== false) s.startRunner();
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns something other than undefined/false; throws after ms. */
export async function waitFor<T>(what: string, ms: number, fn: () => T | undefined | false | Promise<T | undefined | false>, every = 50): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** Waits until the job is in one of `states`; returns it. */
export function waitJob(base: string, id: string, states: string[], ms: number, token: string | null = TOKEN): Promise<any> {
  return waitFor(`job ${id} to be ${states.join('|')}`, ms, async () => {
    const r = await api(base, 'GET', `/admin/jobs/${id}`, { token });
    return r.status === 200 && states.includes(r.json.state) ? r.json : undefined;
  });
}

/** A CLI process in its own process group, with its output collected. */
export interface Cli {
  child: ChildProcess;
  pid: number;
  output(): string;
  exited: Promise<number | null>;
  /** Waits for a line matching re; returns the match. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Signals the whole process group. */
  signal(sig: NodeJS.Signals): void;
}

/** Runs `mapproxy ARGS` from source in cwd. */
export function startCli(args: string[], cwd: string, env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return {
    child,
    pid: child.pid!,
    output: () => text,
    exited,
    waitFor: (re, ms) => waitFor(`${re} in the output of mapproxy ${args[0]}`, ms, () => text.match(re) ?? undefined),
    signal(sig) {
      try {
        process.kill(-child.pid!, sig);
      } catch {
        /* already gone */
      }
    },
  };
}
