/**
 * What a `serve` worker puts around the app's fetch handler: the request
 * timeout (503, work abandoned), keep-alive and drain (Connection: close),
 * the access log, the debug worker header, and a generic 500 for errors so
 * no stack trace reaches a client. This runs for every cache hit, so it
 * allocates one promise per request and no timer.
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

  const finish = (req: Request, resp: Response, peer: Peer, started: number, lifted = false): Response | Promise<Response> => {
    if (lifted) peer.timeout(opts.idleTimeout);
    if (closing) resp = withHeader(resp, 'Connection', 'close');
    if (opts.debug) resp = withHeader(resp, 'X-MapProxy-Worker', pid);
    opts.onRequest?.();
    return access ? logAccess(access, req, resp, peer, started) : resp;
  };
  const failed = (req: Request, e: unknown): Response => {
    log.error(`error handling ${req.method} ${pathOf(req.url)}: ${(e as Error)?.stack ?? e}`);
    return plain(500, 'internal error');
  };

  const fetch = (req: Request, peer: Peer): Response | Promise<Response> => {
    const started = access ? Date.now() : 0;
    let r: Response | Promise<Response>;
    try {
      // the peer decides whether proxy headers count; a UNIX socket peer is '' (trusted by default)
      r = app(req, () => {
        const a = peer.remote();
        return a === '-' ? '' : a;
      });
    } catch (e) {
      return finish(req, failed(req, e), peer, started);
    }
    // an answer at hand (a cache hit) never waits, so the idle limit stays as it is
    if (!(r instanceof Promise)) return finish(req, r, peer, started);
    if (lift) peer.timeout(during);
    const p = r;
    return new Promise<Response>((resolve) => {
      const entry = deadlines?.add(req, (timedOut) => resolve(finish(req, timedOut, peer, started, lift)));
      p.then(
        (resp) => {
          // false: the deadline already answered 503, this result is dropped
          if (!entry || deadlines!.settle(entry)) resolve(finish(req, resp, peer, started, lift));
        },
        (e) => {
          if (!entry || deadlines!.settle(entry)) resolve(finish(req, failed(req, e), peer, started, lift));
        },
      );
    });
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
  onTimeout(r: Response): void;
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

  /** Register a request; onTimeout gets the 503 if it is still pending when its time is up. */
  add(req: Request, onTimeout: (r: Response) => void): Pending {
    if (!this.timer) {
      this.timer = setInterval(() => this.sweep(), Math.min(SWEEP_MS, this.ms));
      this.timer.unref();
    }
    // monotonic clock: a clock step must not reorder deadlines
    const entry: Pending = { deadline: performance.now() + this.ms, req, onTimeout };
    this.pending.add(entry);
    return entry;
  }

  /** The request has its answer; false when the timeout came first. */
  settle(entry: Pending): boolean {
    return this.pending.delete(entry);
  }

  private sweep(): void {
    const now = performance.now();
    for (const e of this.pending) {
      if (e.deadline > now) break;
      this.pending.delete(e);
      log.warn(`request timed out after ${this.ms / 1000} s, answered 503: ${e.req.method} ${pathOf(e.req.url)}`);
      e.onTimeout(plain(503, 'request timed out'));
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

/**
 * Log the request; only a response without Content-Length has to be read (and
 * rebuilt) to learn its size. `resp.body` is not asked: Bun builds a stream
 * for it, which cost more than the rest of the log line.
 */
function logAccess(access: AccessLog, req: Request, resp: Response, peer: Peer, started: number): Response | Promise<Response> {
  if (req.method === 'HEAD' || resp.status === 304 || resp.status === 204) return writeAccess(access, req, resp, peer, started, 0);
  const cl = resp.headers.get('content-length');
  if (cl !== null) return writeAccess(access, req, resp, peer, started, Number(cl));
  // our responses are in memory anyway; a Blob keeps Bun from copying the bytes again
  return resp.blob().then((body) =>
    writeAccess(access, req, new Response(body, { status: resp.status, statusText: resp.statusText, headers: resp.headers }), peer, started, body.size),
  );
}

function writeAccess(access: AccessLog, req: Request, resp: Response, peer: Peer, started: number, bytes: number): Response {
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
