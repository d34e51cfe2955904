/**
 * The upstream HTTP client: one fetch per call with a timeout, basic auth from
 * `user:pass@` in the URL (never logged), extra headers, and one log line per
 * request on `mapproxy.source.request` as MapProxy writes it.
 */
import { SourceError } from '../errors.ts';
import { getLogger } from '../log/logger.ts';
import { metrics } from '../util/metrics.ts';
import type { Semaphore } from '../util/semaphore.ts';

const requestLog = getLogger('mapproxy.source.request');

/** Per-source HTTP options (`http:` of a source merged over `globals.http`). */
export interface HttpOptions {
  /** Seconds until the request is abandoned. */
  clientTimeout: number;
  headers: Record<string, string>;
  /** Whether error messages may include upstream URLs (false = hide them). */
  hideErrorDetails: boolean;
  /**
   * Held for each request, body included, when set: the upstream requests a
   * process may have open at once over all its sources (a seed worker's share of -c).
   */
  slots?: Semaphore;
}

/** What a successful request returns. */
export interface HttpResult {
  status: number;
  body: Uint8Array;
  contentType: string;
}

/** Split `http://user:pass@host/...` into a clean URL and an Authorization header. */
export function splitAuth(url: string): { url: string; authorization?: string } {
  const m = /^(\w+:\/\/)([^/@]*)@(.*)$/.exec(url);
  if (!m) return { url };
  const cred = decodeURIComponent(m[2]);
  return { url: m[1] + m[3], authorization: 'Basic ' + btoa(cred) };
}

/** An HTTP client bound to one source's options. */
export class HttpClient {
  /** `name`: the source it fetches for (the label of its upstream metrics). */
  constructor(
    readonly opts: HttpOptions,
    readonly name = '',
  ) {}

  /** GET a URL; non-2xx answers and network errors become SourceError with the status. */
  get(rawUrl: string): Promise<HttpResult> {
    return this.send('GET', rawUrl);
  }

  /**
   * POST a form (`application/x-www-form-urlencoded`, as Python's urllib
   * sends a request with data): WMS sources with `http.method: POST`.
   */
  post(rawUrl: string, form: string): Promise<HttpResult> {
    return this.send('POST', rawUrl, form);
  }

  private send(method: 'GET' | 'POST', rawUrl: string, form?: string): Promise<HttpResult> {
    const slots = this.opts.slots;
    return slots ? slots.run(() => this.request(method, rawUrl, form)) : this.request(method, rawUrl, form);
  }

  private async request(method: 'GET' | 'POST', rawUrl: string, form?: string): Promise<HttpResult> {
    const { url, authorization } = splitAuth(rawUrl);
    const headers: Record<string, string> = { 'User-Agent': 'mapproxy-ts', ...this.opts.headers };
    if (authorization) headers.Authorization = authorization;
    if (form !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';
    const started = performance.now();
    let resp: Response;
    try {
      resp = await fetch(url, {
        method,
        headers,
        body: form,
        signal: AbortSignal.timeout(this.opts.clientTimeout * 1000),
        redirect: 'follow',
      });
    } catch (e) {
      const ms = performance.now() - started;
      logRequest(method, url, undefined, undefined, ms);
      this.count('-', ms);
      const timeout = (e as Error)?.name === 'TimeoutError' || (e as Error)?.name === 'AbortError';
      const why = timeout ? `timeout after ${this.opts.clientTimeout}s` : String((e as Error)?.message ?? e);
      throw new SourceError(this.describe(`could not reach upstream: ${why}`, url));
    }
    let body: Uint8Array;
    try {
      body = new Uint8Array(await resp.arrayBuffer());
    } catch (e) {
      logRequest(method, url, resp.status, undefined, performance.now() - started);
      this.count('-', performance.now() - started);
      throw new SourceError(this.describe(`error reading upstream response: ${(e as Error).message}`, url));
    }
    logRequest(method, url, resp.status, body.length, performance.now() - started);
    this.count(String(resp.status), performance.now() - started);
    if (resp.status < 200 || resp.status >= 300) {
      throw new SourceError(this.describe(`upstream answered HTTP ${resp.status}`, url), resp.status);
    }
    return { status: resp.status, body, contentType: resp.headers.get('content-type') ?? '' };
  }

  private count(status: string, ms: number): void {
    metrics.upstreamRequests.inc([this.name, status]);
    metrics.upstreamDuration.observe([this.name], ms / 1000);
    if (!/^2\d\d$/.test(status)) metrics.upstreamErrors.inc([this.name]);
  }

  private describe(msg: string, url: string): string {
    return this.opts.hideErrorDetails ? msg : `${msg} (${url})`;
  }
}

function logRequest(method: string, url: string, status: number | undefined, size: number | undefined, ms: number): void {
  if (!requestLog.enabled('info')) return;
  const kb = size ? (size / 1024).toFixed(1) : '-';
  requestLog.info(`${method} ${url.replace(/ /g, '')} ${status ?? '-'} ${kb} ${ms ? Math.floor(ms) : '-'}`);
}
