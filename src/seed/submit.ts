/**
 * `mapproxy seed --server URL`: instead of seeding in this process, submit
 * the job to a running `mapproxy serve` (its seeding API, services.admin) and
 * print the job's id and URL; with --wait, follow its progress until it ends.
 * Exit codes: 0 done (or queued, without --wait), 1 usage, 2 the server
 * refused or cannot be reached, 3 the job failed or was cancelled.
 */
import * as fs from 'node:fs';
import { formatDuration, timestamp } from './progress.ts';
import type { SeedArgs, SeedIo } from './run-seed.ts';
import { SeedUsageError } from './usage.ts';

/** Environment variable with the admin token (as the server reads it). */
export const TOKEN_ENV = 'MAPPROXY_ADMIN_TOKEN';

/** What --server adds to the seed arguments. */
export interface SubmitArgs extends SeedArgs {
  server: string;
  token?: string;
  wait: boolean;
  /** Milliseconds between progress polls with --wait (default 1000). */
  pollMs?: number;
  /** How long --wait keeps trying while the server cannot be reached, in ms (default 120 s: a restart resumes the job). */
  unreachableMs?: number;
}

/** A job as the server answers it (the fields used here). */
interface JobView {
  id: string;
  state: string;
  error?: string;
  progress?: { done: number; total: number | null; percent: number; rate: number; eta: number | null; failed: number; failures?: { tile: string; cache: string; grid: string; error: string }[] };
}

/** An HTTP answer that is not a success: exit code 2 with the server's message. */
class ServerError extends Error {}

function splitNames(v: string[] | undefined): string[] | undefined {
  if (!v) return undefined;
  return v.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** The request body of POST /admin/seed for the command line. */
export function submitBody(a: SeedArgs): Record<string, unknown> {
  const unsupported: [string, boolean][] = [
    ['--dry-run', a.dryRun],
    ['--summary', a.summary],
    ['-i/--interactive', a.interactive],
    ['--continue', a.continueSeed],
    ['--progress-file', a.progressFile !== undefined],
    ['--duration', a.duration !== undefined],
    ['--reseed-file', a.reseedFile !== undefined],
    ['--reseed-interval', a.reseedInterval !== undefined],
    ['--use-cache-lock', a.useCacheLock],
    ['--skip-uncached', a.skipUncached],
    ['--skip-geoms-for-last-levels', a.skipGeomsForLastLevels > 0],
    ['--max-rate', a.maxRate > 0],
  ];
  for (const [flag, given] of unsupported) if (given) throw new SeedUsageError(`${flag} is not supported with --server (the server keeps the job's progress itself; use services.admin reseed: for schedules)`, 1);
  const opts = { concurrency: a.concurrency, max_retries: a.maxRetries, retry_delay: a.retryDelay };
  const quick = a.cache !== undefined;
  if (quick && a.seedConf) throw new SeedUsageError('give either -s/--seed-conf or --cache, not both', 1);
  if (!quick) {
    if (!a.seedConf) throw new SeedUsageError('missing seed configuration -s/--seed-conf (or --cache for seeding without a seed.yaml)', 1);
    let text: string;
    try {
      text = fs.readFileSync(a.seedConf, 'utf8');
    } catch (e) {
      throw new SeedUsageError(`seed configuration ${a.seedConf}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : (e as Error).message}`);
    }
    const body: Record<string, unknown> = { seed_conf_text: text, ...opts };
    const seeds = splitNames(a.seedNames);
    const cleanups = splitNames(a.cleanupNames);
    if (seeds) body.seeds = seeds;
    if (cleanups) body.cleanups = cleanups;
    return body;
  }
  const body: Record<string, unknown> = { cache: a.cache, ...opts };
  if (a.grids?.length) body.grids = a.grids;
  if (a.levels !== undefined) body.levels = a.levels;
  if (a.bbox !== undefined) body.bbox = a.bbox;
  if (a.bboxSrs !== undefined) body.bbox_srs = a.bboxSrs;
  if (a.coverageFile !== undefined) {
    // the server cannot read our files: the coverage travels in the request
    try {
      body.coverage = fs.readFileSync(a.coverageFile, 'utf8');
    } catch (e) {
      throw new SeedUsageError(`--coverage-file: can't read ${a.coverageFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (a.coverageSrs !== undefined) body.coverage_srs = a.coverageSrs;
  if (a.refreshBefore !== undefined) body.refresh_before = a.refreshBefore;
  if (a.cleanupNames !== undefined) body.cleanup = true;
  if (a.removeBefore !== undefined) body.remove_before = a.removeBefore;
  if (a.removeAll) body.remove_all = true;
  return body;
}

/** One request to the API; JSON back, ServerError for an error status. */
async function call(url: URL, token: string | undefined, init: { method: string; body?: string }): Promise<JobView> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (init.body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(url, { method: init.method, headers, body: init.body, signal: AbortSignal.timeout(30_000) });
  const text = await r.text();
  let data: Record<string, unknown> = {};
  try {
    data = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* not JSON: shown as text below */
  }
  if (!r.ok) {
    const msg = typeof data.error === 'string' ? data.error : text.trim().slice(0, 200) || r.statusText;
    const field = typeof data.field === 'string' ? ` (field ${data.field})` : '';
    throw new ServerError(`server answered ${r.status}: ${msg}${field}`);
  }
  return data as unknown as JobView;
}

function progressLine(j: JobView): string {
  const p = j.progress;
  if (!p) return `[${timestamp()}] job ${j.id} ${j.state}`;
  const total = p.total !== null ? `/${p.total}` : '';
  const eta = p.eta !== null ? ` ETA ${formatDuration(p.eta)}` : '';
  return `[${timestamp()}] job ${j.id} ${j.state}: ${p.percent.toFixed(1)}% ${p.done}${total} tiles ${p.rate.toFixed(1)} tiles/s${eta}${p.failed ? ` ${p.failed} failed` : ''}`;
}

/** Submits the job (and follows it with --wait); returns the exit code. */
export async function submitSeed(a: SubmitArgs, io: SeedIo): Promise<number> {
  let base: URL;
  try {
    base = new URL(a.server.endsWith('/') ? a.server : `${a.server}/`);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not http');
  } catch {
    io.err(`error: --server: expected an http:// or https:// URL, got '${a.server}'\n`);
    return 1;
  }
  const token = a.token ?? process.env[TOKEN_ENV] ?? undefined;
  let job: JobView;
  try {
    const body = submitBody(a);
    job = await call(new URL('admin/seed', base), token, { method: 'POST', body: JSON.stringify(body) });
  } catch (e) {
    if (e instanceof SeedUsageError) {
      io.err(`error: ${e.message}\n`);
      return e.code;
    }
    io.err(`error: ${e instanceof ServerError ? e.message : `cannot reach ${base.href}: ${(e as Error).message}`}\n`);
    return 2;
  }
  const jobUrl = new URL(`admin/jobs/${job.id}`, base);
  io.out(`job ${job.id} ${job.state}: ${jobUrl.href}\n`);
  if (!a.wait) return 0;

  const pollMs = a.pollMs ?? 1000;
  const unreachableMs = a.unreachableMs ?? 120_000;
  let lastLine = '';
  let failingSince: number | undefined;
  for (;;) {
    await new Promise((r) => setTimeout(r, pollMs));
    try {
      job = await call(jobUrl, token, { method: 'GET' });
      failingSince = undefined;
    } catch (e) {
      if (e instanceof ServerError) {
        io.err(`error: ${e.message}\n`);
        return 2;
      }
      // a restarting server resumes the job: keep asking for a while
      failingSince ??= Date.now();
      if (Date.now() - failingSince > unreachableMs) {
        io.err(`error: cannot reach ${base.href} for ${Math.round(unreachableMs / 1000)} s: ${(e as Error).message}\n`);
        return 2;
      }
      continue;
    }
    if (job.state === 'queued' || job.state === 'running') {
      const line = progressLine(job);
      // the time stamp changes every poll: compare the rest
      if (line.slice(22) !== lastLine.slice(22)) io.out(`${line}\n`);
      lastLine = line;
      continue;
    }
    io.out(`${progressLine(job)}\n`);
    if (job.state === 'done') return 0;
    if (job.error) io.err(`job ${job.id} ${job.state}: ${job.error}\n`);
    for (const f of job.progress?.failures ?? []) io.err(`  ${f.tile} ${f.cache}/${f.grid}: ${f.error}\n`);
    return 3;
  }
}
