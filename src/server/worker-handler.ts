/**
 * What a `serve` worker puts around the app's fetch handler: the request
 * timeout (503, work abandoned), keep-alive and drain (Connection: close),
 * the access log, the debug worker header, and a generic 500 for errors so
 * no stack trace reaches a client.
 */
import { setInterval } from 'node:timers';
import { getLogger } from '../log/logger.ts';
import type { Peer, PeerFetch } from '../runtime/listen.ts';
import type { FetchHandler } from './app.ts';
import { NO_CACHE_HEADERS } from './http.ts';
import { combinedLine, type AccessLog } from './log-output.ts';

const log = getLogger('mapproxy.system');

/** Options of guardHandler. */
export interface GuardOptions {
  /** Seconds until a request is answered 503 (0: no limit). */
  timeout: number;
  /** Keep-alive idle seconds (0: close every connection after its response). */
  keepalive: number;
  /** The idle timeout the listener was started with, restored after each request. */
  idleTimeout: number;
  /** Add X-MapProxy-Worker: PID. */
  debug: boolean;
  accessLog?: AccessLog;
  /** Called once per answered request (max-requests counting). */
  onRequest?: () => void;
}

/** The guarded handler and its drain switch. */
export interface GuardedHandler {
  fetch: PeerFetch;
  /** From now on every response closes its connection, so keep-alive clients move to other workers. */
  drain(): void;
}

/** Wrap app for serving by a worker process. */
export function guardHandler(app: FetchHandler, opts: GuardOptions): GuardedHandler {
  let closing = opts.keepalive === 0;
  const pid = String(process.pid);
  const deadlines = opts.timeout > 0 ? new Deadlines(opts.timeout * 1000) : undefined;
  // Bun cuts a connection idle for idleTimeout, and a request waiting for its
  // answer looks idle: lift the limit while the request runs, restore it after.
  const lift = opts.timeout === 0 || opts.timeout + 1 >= opts.idleTimeout;
  const during = opts.timeout === 0 ? 0 : Math.ceil(opts.timeout) + 2;
  const access = opts.accessLog;

  const fetch = async (req: Request, peer: Peer): Promise<Response> => {
    const started = access ? Date.now() : 0;
    if (lift) peer.timeout(during);
    let resp: Response;
    try {
      // the peer decides whether proxy headers count; a UNIX socket peer is '' (trusted by default)
      const r = app(req, () => {
        const a = peer.remote();
        return a === '-' ? '' : a;
      });
      resp = deadlines && r instanceof Promise ? await deadlines.race(r, req) : await r;
    } catch (e) {
      log.error(`error handling ${req.method} ${pathOf(req.url)}: ${(e as Error)?.stack ?? e}`);
      resp = plain(500, 'internal error');
    }
    if (lift) peer.timeout(opts.idleTimeout);
    if (closing) resp = withHeader(resp, 'Connection', 'close');
    if (opts.debug) resp = withHeader(resp, 'X-MapProxy-Worker', pid);
    if (access) resp = await logAccess(access, req, resp, peer, started);
    opts.onRequest?.();
    return resp;
  };
  return {
    fetch,
    drain: () => {
      closing = true;
    },
  };
}

/** A request waiting for its answer, in the deadline set. */
interface Pending {
  deadline: number;
  req: Request;
  resolve(r: Response): void;
}

/**
 * Request deadlines without a timer per request (a native timer per request
 * cost ~4% of a cache hit): all requests share one timeout, so insertion
 * order is deadline order and one coarse sweep finds the expired ones.
 */
class Deadlines {
  private readonly pending = new Set<Pending>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly ms: number) {}

  /** p, or a 503 once the timeout has passed; the loser's result is dropped (its rejection too). */
  race(p: Promise<Response>, req: Request): Promise<Response> {
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), Math.min(SWEEP_MS, this.ms));
      this.timer.unref();
    }
    return new Promise((resolve, reject) => {
      const entry: Pending = { deadline: performance.now() + this.ms, req, resolve };
      this.pending.add(entry);
      p.then(
        (r) => {
          this.pending.delete(entry);
          resolve(r);
        },
        (e) => {
          this.pending.delete(entry);
          reject(e);
        },
      );
    });
  }

  private sweep(): void {
    // monotonic clock: a clock step must not reorder deadlines
    const now = performance.now();
    for (const e of this.pending) {
      if (e.deadline > now) break;
      this.pending.delete(e);
      log.warn(`request timed out after ${this.ms / 1000} s, answered 503: ${e.req.method} ${pathOf(e.req.url)}`);
      e.resolve(plain(503, 'request timed out'));
    }
  }
}

/** Granularity of request timeouts. */
const SWEEP_MS = 100;

function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', ...NO_CACHE_HEADERS } });
}

/** Set a header; responses with immutable headers (fetch() results) are copied first. */
function withHeader(resp: Response, name: string, value: string): Response {
  try {
    resp.headers.set(name, value);
    return resp;
  } catch {
    const copy = new Response(resp.body, resp);
    copy.headers.set(name, value);
    return copy;
  }
}

/** Path and query of a request URL without building a URL object (hot path). */
function pathOf(url: string): string {
  const i = url.indexOf('/', url.indexOf('//') + 2);
  return i < 0 ? '/' : url.slice(i);
}

async function logAccess(access: AccessLog, req: Request, resp: Response, peer: Peer, started: number): Promise<Response> {
  let bytes = 0;
  if (resp.body !== null && req.method !== 'HEAD') {
    const cl = resp.headers.get('content-length');
    if (cl !== null) bytes = Number(cl);
    else {
      // the body size is only known once read; our responses are in memory anyway
      const buf = await resp.arrayBuffer();
      bytes = buf.byteLength;
      resp = new Response(buf, { status: resp.status, statusText: resp.statusText, headers: resp.headers });
    }
  }
  const h = req.headers;
  access.add(
    combinedLine({
      remote: peer.remote(),
      timeMs: started,
      method: req.method,
      target: pathOf(req.url),
      status: resp.status,
      bytes,
      referer: h.get('referer'),
      userAgent: h.get('user-agent'),
    }),
  );
  return resp;
}
