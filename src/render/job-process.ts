/**
 * `mapproxy job-run` (internal): one seeding job in its own process, started
 * by the job runner of `mapproxy serve` at a lower CPU priority. It loads the
 * config, runs the job from its file (resuming from its progress file), writes
 * its progress and final state there, and pauses (progress stored, state left
 * 'running') on SIGTERM or when its runner is gone.
 */
import * as path from 'node:path';
import { loadConfig } from '../config/loader.ts';
import { buildProxy } from '../core/build-proxy.ts';
import { getLogger, setLogLevel } from '../log/logger.ts';
import { logAsServer, type LogFile } from '../server/log-output.ts';
import { StopSignal } from '../seed/seeder.ts';
import { runnerContext } from '../service/admin/admin-config.ts';
import { JOB_LOG_ENV, JOB_PARENT_ENV, JobRunner, type JobLogSpec } from './job-runner.ts';
import { isActive, isJobId, JobStore } from './jobs.ts';

const log = getLogger('mapproxy.admin');

/** Runs the job; resolves with the exit code (0 also when the job was already finished or paused). */
export async function runJobProcess(opts: { config: string; jobsDir: string; id: string }): Promise<number> {
  let errorLog: LogFile | undefined;
  try {
    (process as { title: string }).title = 'mapproxy job-run';
    const spec = process.env[JOB_LOG_ENV] ? (JSON.parse(process.env[JOB_LOG_ENV]!) as JobLogSpec) : undefined;
    if (spec) {
      // where the worker that started us logs
      const r = logAsServer(spec);
      errorLog = r.errorLog;
      if (r.logConfigError) throw r.logConfigError;
    }
  } catch (e) {
    log.warn(`job ${opts.id}: logging as the server does failed, logging to stderr: ${(e as Error).message}`);
  }
  // one line per upstream request of a seed would drown the server's log (as mapproxy seed)
  setLogLevel('mapproxy.source.request', 'warning');
  try {
    return await runJob(opts);
  } finally {
    errorLog?.close();
  }
}

async function runJob(opts: { config: string; jobsDir: string; id: string }): Promise<number> {
  if (!isJobId(opts.id)) {
    log.error(`job-run: invalid job id '${opts.id}'`);
    return 2;
  }
  let ctx;
  try {
    // a seeding job: seed_only sources are used, as by mapproxy seed
    const proxy = buildProxy(loadConfig(opts.config), { seeding: true });
    ctx = runnerContext(proxy);
  } catch (e) {
    log.error(`job ${opts.id}: cannot load ${opts.config}: ${(e as Error).message}`);
    return 2;
  }
  if (!ctx) {
    log.error(`job ${opts.id}: ${opts.config} has no services.admin`);
    return 2;
  }
  ctx = { ...ctx, jobsDir: path.resolve(opts.jobsDir) };
  const job = new JobStore(ctx.jobsDir).read(opts.id);
  if (!job || !isActive(job.state)) return 0;
  const stop = new StopSignal();
  const onSignal = () => stop.stop('interrupt');
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const parent = Number(process.env[JOB_PARENT_ENV] ?? 0);
  const watch = setInterval(() => {
    if (parent && process.ppid !== parent) {
      log.warn(`job ${opts.id}: its job runner (pid ${parent}) is gone; pausing`);
      stop.stop('interrupt');
    }
  }, 1000);
  try {
    await new JobRunner({ context: () => ctx }).runOne(job, ctx, stop);
  } finally {
    clearInterval(watch);
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  return 0;
}
