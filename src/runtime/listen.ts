/**
 * An HTTP listener for `mapproxy serve` workers on Bun, Deno or Node: TCP with
 * SO_REUSEPORT (so several worker processes share one port) or a UNIX socket,
 * a keep-alive idle timeout, graceful and forced stop.
 */
import { runtimeName } from './runtime.ts';

/** Where a listener listens. */
export type ListenTarget = { kind: 'tcp'; hostname: string; port: number } | { kind: 'unix'; path: string };

/** Per-request access to the connection (what Bun and Deno expose differently). */
export interface Peer {
  /** Remote address, '-' where there is none (UNIX sockets). */
  remote(): string;
  /** Idle timeout of this request's connection in seconds (0: none); keeps Bun from cutting long requests. */
  timeout(seconds: number): void;
}

/** A request handler that also sees its connection. */
export type PeerFetch = (req: Request, peer: Peer) => Response | Promise<Response>;

/** Options of listenHttp. */
export interface ListenOptions {
  fetch: PeerFetch;
  /** Seconds an idle keep-alive connection stays open (Bun, Node; Deno has no such knob). */
  idleTimeout: number;
  /** Share the TCP port with other processes (SO_REUSEPORT). */
  reusePort: boolean;
}

/** A running listener. */
export interface Listener {
  /** Stop accepting; closeActive=false lets in-flight requests finish (resolves when they have). */
  stop(closeActive: boolean): Promise<void>;
  /** The bound TCP port (0 for UNIX sockets). */
  readonly port: number;
}

const NO_PEER: Peer = { remote: () => '-', timeout: () => {} };

/** Listen on target; rejects when the address cannot be bound. */
export async function listenHttp(target: ListenTarget, opts: ListenOptions): Promise<Listener> {
  const rt = runtimeName();
  if (rt === 'bun') return listenBun(target, opts);
  if (rt === 'deno') return listenDeno(target, opts);
  return listenNode(target, opts);
}

// One small object per request instead of two closures.
class BunPeer implements Peer {
  constructor(
    private readonly server: any,
    private readonly req: Request,
  ) {}
  remote(): string {
    return this.server.requestIP(this.req)?.address ?? '-';
  }
  timeout(seconds: number): void {
    this.server.timeout(this.req, seconds);
  }
}

function listenBun(target: ListenTarget, opts: ListenOptions): Listener {
  const g = globalThis as any;
  const common = {
    development: false,
    // Bun caps idleTimeout at 255 s; 0 means never
    idleTimeout: Math.min(255, Math.max(0, Math.round(opts.idleTimeout))),
    fetch: (req: Request, server: any) => opts.fetch(req, new BunPeer(server, req)),
  };
  const server =
    target.kind === 'unix'
      ? g.Bun.serve({ ...common, unix: target.path, fetch: (req: Request) => opts.fetch(req, NO_PEER) })
      : g.Bun.serve({ ...common, hostname: target.hostname, port: target.port, reusePort: opts.reusePort });
  return { port: target.kind === 'unix' ? 0 : server.port, stop: (closeActive) => server.stop(closeActive) };
}

async function listenDeno(target: ListenTarget, opts: ListenOptions): Promise<Listener> {
  const Deno = (globalThis as any).Deno;
  const abort = new AbortController();
  let onListen!: (addr: { port?: number }) => void;
  let onError!: (e: unknown) => void;
  const listening = new Promise<{ port?: number }>((res, rej) => {
    onListen = res;
    onError = rej;
  });
  const handler = (req: Request, info: { remoteAddr: { hostname?: string } }) =>
    opts.fetch(req, { remote: () => info.remoteAddr?.hostname ?? '-', timeout: () => {} });
  const base = { signal: abort.signal, onListen };
  let server: any;
  try {
    server =
      target.kind === 'unix'
        ? Deno.serve({ ...base, transport: 'unix', path: target.path }, handler)
        : Deno.serve({ ...base, hostname: target.hostname, port: target.port, reusePort: opts.reusePort }, handler);
  } catch (e) {
    onError(e);
  }
  const addr = await listening;
  return {
    port: addr.port ?? 0,
    stop: async (closeActive) => {
      if (closeActive) abort.abort();
      else await server.shutdown();
      await server.finished;
    },
  };
}

async function listenNode(target: ListenTarget, opts: ListenOptions): Promise<Listener> {
  const http = await import('node:http');
  const server = http.createServer(async (req, res) => {
    const host = req.headers.host ?? 'localhost';
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length && req.method !== 'GET' && req.method !== 'HEAD' ? Buffer.concat(chunks) : undefined;
    const request = new Request(`http://${host}${req.url}`, { method: req.method, headers: req.headers as Record<string, string>, body });
    const peer: Peer = {
      remote: () => req.socket.remoteAddress ?? '-',
      timeout: (s) => req.socket.setTimeout(s * 1000),
    };
    const resp = await opts.fetch(request, peer);
    res.writeHead(resp.status, Object.fromEntries(resp.headers));
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(await resp.arrayBuffer()));
  });
  server.keepAliveTimeout = opts.idleTimeout * 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listen = target.kind === 'unix' ? { path: target.path } : { host: target.hostname, port: target.port, reusePort: opts.reusePort };
    server.listen(listen, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : 0,
    stop: (closeActive) =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (closeActive) server.closeAllConnections();
        else server.closeIdleConnections();
      }),
  };
}
