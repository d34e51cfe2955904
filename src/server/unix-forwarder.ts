/**
 * The public UNIX socket of `mapproxy serve`. Several processes cannot share
 * one UNIX socket path (SO_REUSEPORT is TCP/UDP only), and neither Bun nor
 * Deno can serve HTTP on an inherited listening fd, so the supervisor owns
 * the socket and pipes each connection to the worker with the fewest
 * connections, over that worker's private socket. On reload it simply picks
 * from the new workers: the public socket never closes, so nothing is dropped.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { getLogger } from '../log/logger.ts';
import type { Worker } from './workers.ts';

const log = getLogger('mapproxy.system');

/** Where the forwarder finds workers. */
export interface WorkerSource {
  pick(): Worker | undefined;
  waitForWorker(ms: number): Promise<Worker | undefined>;
}

/** A listening forwarder. */
export interface UnixForwarder {
  readonly path: string;
  /** Stop accepting and remove the socket file; open connections go on. */
  stopAccepting(): Promise<void>;
  /** Cut whatever is still open. */
  destroy(): void;
}

/** How long a connection waits for a worker when none is serving (all restarting). */
const WAIT_FOR_WORKER_MS = 30_000;
/** Attempts to reach a worker that vanished between pick and connect. */
const CONNECT_ATTEMPTS = 3;

/** Listen on path (a stale socket file left by a crash is replaced) and forward to workers. */
export async function forwardUnix(path: string, workers: WorkerSource): Promise<UnixForwarder> {
  await removeStaleSocket(path);
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => client.destroy());
    void connect(client, workers, open, 1);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  server.on('error', (e) => log.error(`unix:${path}: ${e.message}`));
  // the socket's mode follows the umask (systemd UMask=0007: the group may connect)
  const ino = fs.statSync(path).ino;
  return {
    path,
    stopAccepting: async () => {
      await new Promise<void>((r) => {
        server.close(() => r());
        // close() waits for open connections; we only want the listener gone
        setImmediate(r);
      });
      try {
        // only our own socket: a newer server may already listen under this name
        if (fs.statSync(path).ino === ino) fs.unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
    destroy: () => {
      for (const c of open) c.destroy();
    },
  };
}

async function connect(client: net.Socket, workers: WorkerSource, open: Set<net.Socket>, attempt: number): Promise<void> {
  const w = workers.pick() ?? (await workers.waitForWorker(WAIT_FOR_WORKER_MS));
  if (client.destroyed) return;
  if (!w?.socket) {
    log.error('no worker available for a UNIX socket connection, closing it');
    client.destroy();
    return;
  }
  const up = net.connect(w.socket);
  w.active++;
  open.add(up);
  let connected = false;
  up.once('connect', () => {
    connected = true;
    // data the client sent meanwhile waited in its (paused) stream
    client.pipe(up);
    up.pipe(client);
  });
  up.on('error', (e) => {
    if (!connected && attempt < CONNECT_ATTEMPTS && !client.destroyed) {
      log.debug(`worker ${w.pid} unreachable (${e.message}), trying another`);
      void connect(client, workers, open, attempt + 1);
    } else if (!connected) {
      log.error(`cannot reach a worker: ${e.message}`);
      client.destroy();
    }
  });
  up.on('close', () => {
    w.active--;
    open.delete(up);
    // an orderly end was passed on by pipe(); an abrupt one must cut the client too
    if (connected && !client.writableEnded) client.destroy();
  });
  client.on('close', () => up.destroy());
}

/** Remove a socket file nobody listens on; refuse to touch anything else. */
async function removeStaleSocket(path: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`unix:${path} exists and is not a socket`);
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (alive) throw new Error(`unix:${path} is in use by another server`);
  fs.unlinkSync(path);
}
