/**
 * The seeding API (`services.admin`):
 *
 *   POST   /admin/seed       a seed.yaml (uploaded or as the body) or the quick fields -> 201 {id, state, url}
 *   GET    /admin/jobs       every job, newest first
 *   GET    /admin/jobs/ID    one job with its progress
 *   DELETE /admin/jobs/ID    cancels it
 *
 * Requests carry `Authorization: Bearer TOKEN` (compared in constant time)
 * unless no token is configured, which is allowed only on --admin-bind.
 * Bodies are checked against the live proxy before a job is queued, so a bad
 * one is a 400 `{error, field}`. Every answer is JSON with Cache-Control: no-store.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import type { Proxy } from '../../core/build-proxy.ts';
import { getLogger } from '../../log/logger.ts';
import { buildJobTasks, JobRequestError, parseSubmission } from '../../render/job-tasks.ts';
import { isActive, isJobId, JobStore, newJobId, type Job } from '../../render/jobs.ts';
import { checkAdminConfig, type AdminSettings } from './admin-config.ts';

const log = getLogger('mapproxy.admin');

/** Largest request body accepted (a seed.yaml with an inline coverage fits easily). */
const MAX_BODY = 4 * 1024 * 1024;
/** Seconds a client is asked to wait when the job queue is full. */
const RETRY_AFTER_S = 30;

/** Whether a path belongs to the admin API. */
export function isAdminPath(pathname: string): boolean {
  return pathname === '/admin' || pathname.startsWith('/admin/');
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(`${JSON.stringify(body, null, 1)}\n`, { status, headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers } });
}

function error(status: number, message: string, field?: string, headers: Record<string, string> = {}): Response {
  return json(status, field ? { error: message, field } : { error: message }, headers);
}

/** SHA-256 of both sides, so the comparison takes the same time whatever the token's length. */
function sameToken(given: string, expected: string): boolean {
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/** The admin API of one proxy. */
export class AdminService {
  private readonly store: JobStore;

  constructor(
    private readonly proxy: Proxy,
    private readonly settings: AdminSettings,
  ) {
    this.store = new JobStore(settings.jobsDir);
  }

  /** Answers a request below /admin. */
  async handle(req: Request): Promise<Response> {
    try {
      return await this.route(req);
    } catch (e) {
      log.error(`admin API: ${req.method} ${new URL(req.url).pathname}: ${(e as Error).stack ?? e}`);
      return error(500, 'internal error');
    }
  }

  private async route(req: Request): Promise<Response> {
    const denied = this.authenticate(req);
    if (denied) return denied;
    const url = new URL(req.url);
    const p = url.pathname.replace(/\/+$/, '');
    const m = req.method === 'HEAD' ? 'GET' : req.method;
    if (p === '/admin/seed') {
      if (m !== 'POST') return error(405, 'use POST', undefined, { Allow: 'POST' });
      return this.submit(req, url);
    }
    if (p === '/admin/jobs') {
      if (m !== 'GET') return error(405, 'use GET', undefined, { Allow: 'GET, HEAD' });
      return json(200, { jobs: this.store.list().reverse() });
    }
    if (p.startsWith('/admin/jobs/')) {
      const id = p.slice('/admin/jobs/'.length);
      if (!isJobId(id)) return error(404, 'no such job');
      if (m === 'GET') {
        const job = this.store.read(id);
        return job ? json(200, job) : error(404, 'no such job');
      }
      if (m === 'DELETE') {
        const job = this.store.requestCancel(id);
        if (!job) return error(404, 'no such job');
        log.info(`job ${id}: cancel requested (${job.state})`);
        return json(200, job);
      }
      return error(405, 'use GET or DELETE', undefined, { Allow: 'GET, HEAD, DELETE' });
    }
    return error(404, 'not found: the admin API has POST /admin/seed, GET /admin/jobs, GET and DELETE /admin/jobs/ID');
  }

  /** 401 unless the request carries the token (none needed when none is configured: --admin-bind only). */
  private authenticate(req: Request): Response | undefined {
    const token = this.settings.token;
    if (token === undefined) return undefined;
    const h = req.headers.get('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (m && sameToken(m[1], token)) return undefined;
    return error(401, h ? 'invalid token' : 'missing token: send Authorization: Bearer TOKEN', undefined, { 'WWW-Authenticate': `Bearer realm="mapproxy-admin"${h ? ', error="invalid_token"' : ''}` });
  }

  private async submit(req: Request, url: URL): Promise<Response> {
    const len = Number(req.headers.get('content-length') ?? '0');
    if (len > MAX_BODY) return error(413, `body larger than ${MAX_BODY} bytes`, 'body');
    const buf = new Uint8Array(await req.arrayBuffer());
    if (buf.byteLength > MAX_BODY) return error(413, `body larger than ${MAX_BODY} bytes`, 'body');
    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
    } catch {
      return error(400, 'the body is not UTF-8 text', 'body');
    }
    const active = this.store.list().filter((j) => isActive(j.state)).length;
    if (active >= this.settings.maxJobs) {
      return error(429, `${active} jobs are queued or running (max_jobs ${this.settings.maxJobs}); try again later`, undefined, { 'Retry-After': String(RETRY_AFTER_S) });
    }
    const id = newJobId();
    const files = { seedConf: this.store.seedConfFile(id), coverage: this.store.coverageFile(id) };
    let job: Job;
    try {
      const sub = parseSubmission(text, req.headers.get('content-type'), url.searchParams);
      this.store.ensureDir();
      if (sub.seedConfText !== undefined) fs.writeFileSync(files.seedConf, sub.seedConfText, { mode: 0o600 });
      if (sub.coverageText !== undefined) fs.writeFileSync(files.coverage, sub.coverageText, { mode: 0o600 });
      // checked now against the live configuration, so a bad body is never queued
      buildJobTasks(sub.request, this.proxy, files);
      job = this.store.newJob(id, sub.request);
    } catch (e) {
      this.store.remove(id);
      if (e instanceof JobRequestError) return error(400, e.message, e.field);
      throw e;
    }
    this.store.create(job);
    log.info(`job ${id} queued`);
    const location = `/admin/jobs/${id}`;
    return json(201, { id, state: job.state, url: location }, { Location: location });
  }
}

/**
 * The admin API of a proxy when services.admin is configured (undefined
 * otherwise). Served on the public binds (adminBind false) it needs a token: ConfigError without.
 */
export function adminServiceFor(proxy: Proxy, opts: { adminBind: boolean }): AdminService | undefined {
  const settings = checkAdminConfig(proxy, opts);
  return settings && new AdminService(proxy, settings);
}

/** The handler of the --admin-bind address: only /admin of the current proxy, no token needed unless configured. */
export function createAdminHandler(getProxy: () => Proxy): (req: Request) => Promise<Response> {
  const byProxy = new WeakMap<Proxy, AdminService | null>();
  return async (req) => {
    const url = new URL(req.url);
    if (!isAdminPath(url.pathname)) return error(404, 'not found: this address serves only the admin API below /admin/');
    const proxy = getProxy();
    let svc = byProxy.get(proxy);
    if (svc === undefined) {
      try {
        svc = adminServiceFor(proxy, { adminBind: true }) ?? null;
      } catch (e) {
        log.error(`admin API: ${(e as Error).message}`);
        return error(500, 'services.admin is misconfigured; see the server log');
      }
      byProxy.set(proxy, svc);
    }
    if (!svc) return error(404, 'the admin API is not configured (services.admin)');
    return svc.handle(req);
  };
}
