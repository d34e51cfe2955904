/** Helpers for the create tests: start a generated server script and wait until it listens; stop it by PID. */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A running child and what it printed. */
export interface Started {
  child: ChildProcess;
  /** What the script printed as its address: http://127.0.0.1:PORT/ or unix:PATH. */
  where: string;
  stdout(): string;
  stderr(): string;
  stop(): Promise<void>;
}

/** Spawn `cmd args` and wait (bounded) for "mapproxy-ts: serving ... on WHERE" on stdout. */
export async function startScript(cmd: string, args: string[], env: Record<string, string>, timeoutMs = 20000): Promise<Started> {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => child.exitCode === null && child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = /mapproxy-ts: serving .* on (\S+)/.exec(out);
    if (m) return { child, where: m[1], stdout: () => out, stderr: () => err, stop };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await stop();
  throw new Error(`server script did not start (exit ${child.exitCode}):\n${out}\n${err}`);
}

/** An executable of that name on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot be told to pick one). */
export async function freePort(): Promise<number> {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A config with a debug source only: no network needed. */
export const DEBUG_CONFIG = `services:
  tms:
    use_grid_names: true
  wms:
    md:
      title: Debug WMS
layers:
  - name: dbg
    title: Debug tiles
    sources: [dbg_cache]
caches:
  dbg_cache:
    grids: [webmercator]
    sources: [dbg]
    disable_storage: true
grids:
  webmercator:
    base: GLOBAL_WEBMERCATOR
sources:
  dbg:
    type: debug
`;
