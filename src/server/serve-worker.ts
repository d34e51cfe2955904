/**
 * One worker process of `mapproxy serve` (and `serve-multiapp`): loads the
 * config (or the directory of configs), listens where the supervisor said
 * (shared TCP ports, its private UNIX socket), reports over fd 3 (ready,
 * heartbeat, retire, metric snapshots), and drains on SIGTERM.
 */
import * as fs from 'node:fs';
import { clearInterval, setInterval, setTimeout } from 'node:timers';
import { getLogger } from '../log/logger.ts';
import { listenHttp, type Listener } from '../runtime/listen.ts';
import { AccessLog, LogFile, logAsServer } from './log-output.ts';
import { parseTrustedProxies } from './proxy-headers.ts';
import { makeApp } from './reloading-app.ts';
import { MultiApp } from './multiapp.ts';
import { setTileMemory } from '../cache/hot-tiles.ts';
import { metricsVersion, snapshotMetrics, useGroupMetrics, type MetricsSnapshot } from '../util/metrics.ts';
import { configLoadProblem, type WorkerSpec } from './serve-options.ts';
import { guardHandler, type GuardedHandler } from './worker-handler.ts';
import { JobRunner } from '../render/job-runner.ts';
import { selfCommand } from '../runtime/self-command.ts';
import { checkAdminConfig, runnerContext } from '../service/admin/admin-config.ts';
import { createAdminHandler } from '../service/admin/admin-service.ts';

const log = getLogger('mapproxy.system');

/** The supervisor's end of the report channel. */
const CHANNEL_FD = 3;

/** Exit code of a worker that could not start (config error, address in use). */
export const BOOT_FAILURE = 3;

/** A message from a worker to the supervisor, one JSON object per line on fd 3. */
export type WorkerMessage =
  | { t: 'ready'; warnings?: string[] }
  /** Sent instead of logging when the worker cannot boot; config: the config (not e.g. the address) is the problem. */
  | { t: 'failed'; message: string; config: boolean }
  | { t: 'beat' }
  | { t: 'retire'; requests: number }
  | { t: 'metrics'; m: MetricsSnapshot };

/** Milliseconds between metric snapshots (sent only when a figure moved): how stale the group's /metrics may be. */
const METRICS_INTERVAL_MS = 250;

/** Keep-alive idle when --keepalive 0: long enough to read a request, then close. */
const NO_KEEPALIVE_IDLE = 5;

/** Run a worker until it is told to stop; never returns normally. */
export async function runWorker(spec: WorkerSpec): Promise<void> {
  // a log.ini is checked by the supervisor already; a file changed since then fails the boot below
  const { errorLog, logConfigError } = logAsServer(spec);
  const accessLog = spec.accessLog ? new AccessLog(new LogFile(spec.accessLog, 'stdout')) : undefined;
  try {
    (process as { title: string }).title = 'mapproxy serve worker';
  } catch {
    /* cosmetic only */
  }

  let stopping = false;
  let beat: ReturnType<typeof setInterval> | undefined;
  let metricsTimer: ReturnType<typeof setInterval> | undefined;
  let listeners: Listener[] = [];
  const send = (m: WorkerMessage): void => {
    try {
      fs.writeSync(CHANNEL_FD, `${JSON.stringify(m)}\n`);
    } catch {
      // the supervisor is gone (EPIPE) or never was (EBADF): nobody manages us
      void stop('supervisor gone');
    }
  };

  // the group's figures, summed by the supervisor, answer /metrics
  useGroupMetrics(spec.metricsFile);
  setTileMemory(Math.floor((spec.tileMemory ?? 0) * 2 ** 20));
  let metricsSent = metricsVersion();
  // what the supervisor has of each series: only the series that moved are sent again
  const metricsMemo = new Map<string, number>();
  const sendMetrics = (): void => {
    if (!spec.metricsFile || metricsVersion() === metricsSent) return;
    metricsSent = metricsVersion();
    send({ t: 'metrics', m: snapshotMetrics(metricsMemo) });
  };

  const exit = (code: number): never => {
    accessLog?.close();
    errorLog.close();
    process.exit(code);
  };

  let requests = 0;
  let retired = false;
  const idle = spec.keepalive > 0 ? spec.keepalive : NO_KEEPALIVE_IDLE;
  const onRequest =
    spec.maxRequests > 0
      ? () => {
          if (++requests >= spec.maxRequests && !retired) {
            retired = true;
            log.debug(`worker reached ${requests} requests, asking for a replacement`);
            send({ t: 'retire', requests });
          }
        }
      : undefined;

  let guarded: GuardedHandler;
  let adminGuarded: GuardedHandler | undefined;
  let runner: JobRunner | undefined;
  // the supervisor leaves the config to its workers: a problem with it is ours to report
  let configProblem = true;
  let warnings: string[] = [];
  try {
    if (logConfigError) throw logConfigError;
    // no reloader: the supervisor replaces workers on SIGHUP
    const trustedProxies = spec.trustedProxies !== undefined ? parseTrustedProxies([spec.trustedProxies]) : undefined;
    // multiapp: each config loads on first use and a broken one answers its error on its own prefix only
    const multi = spec.multiapp ? new MultiApp(spec.config, { allowListing: spec.multiapp.allowListing, trustedProxies, renderShare: spec.workers }) : undefined;
    // with --admin-bind the main addresses do not serve /admin
    const app = multi ? undefined : makeApp(spec.config, { trustedProxies, admin: !spec.adminSeparate, renderShare: spec.workers });
    if (app) {
      checkAdminConfig(app.proxy, { adminBind: spec.adminSeparate === true });
      warnings = app.proxy.config.warnings.map(String);
    }
    configProblem = false;
    guarded = guardHandler(multi?.fetch ?? app!.fetch, { timeout: spec.timeout, keepalive: spec.keepalive, idleTimeout: idle, debug: spec.debug, accessLog, onRequest });
    if (spec.adminListen && app) {
      adminGuarded = guardHandler(createAdminHandler(() => app.proxy), { timeout: spec.timeout, keepalive: spec.keepalive, idleTimeout: idle, debug: spec.debug, accessLog });
      const t = spec.adminListen;
      try {
        listeners.push(await listenHttp(t, { fetch: adminGuarded.fetch, idleTimeout: idle, reusePort: true }));
      } catch (e) {
        throw new Error(`cannot listen on ${t.kind === 'unix' ? `unix:${t.path}` : `${t.hostname}:${t.port}`} (--admin-bind): ${(e as Error).message}`);
      }
    }
    // each job in its own process at nice +10: seeding never holds up this worker's requests
    if (spec.runJobs && app) runner = new JobRunner({ context: () => runnerContext(app.proxy), isolate: { command: selfCommand(), config: spec.config, nice: 10, log: { errorLog: spec.errorLog, logLevel: spec.logLevel, logConfig: spec.logConfig } } });
    for (const target of spec.listen) {
      const where = target.kind === 'unix' ? `unix:${target.path}` : `${target.hostname}:${target.port}`;
      try {
        listeners.push(await listenHttp(target, { fetch: guarded.fetch, idleTimeout: idle, reusePort: true }));
      } catch (e) {
        throw new Error(`cannot listen on ${where}: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    const message = configProblem ? configLoadProblem(spec.config, e) : (e as Error).message;
    try {
      fs.writeSync(CHANNEL_FD, `${JSON.stringify({ t: 'failed', message, config: configProblem } satisfies WorkerMessage)}\n`);
    } catch {
      log.error(`worker failed to boot: ${message}`);
    }
    await Promise.all(listeners.map((l) => l.stop(true)));
    return exit(BOOT_FAILURE);
  }
  const handler = guarded;
  runner?.start();

  async function stop(why: string): Promise<void> {
    if (stopping) return;
    stopping = true;
    clearInterval(beat);
    clearInterval(metricsTimer);
    log.debug(`worker stopping (${why})`);
    // Busy keep-alive connections get one more answer with Connection: close
    // and reconnect to another worker, instead of being cut while idle.
    handler.drain();
    adminGuarded?.drain();
    // the running seeding job pauses (progress stored); the next job runner resumes it
    const runnerStopped = runner?.stop().catch((e) => log.error(`stopping the job runner: ${(e as Error).message}`));
    await sleep(DRAIN_GRACE_MS);
    const force = setTimeout(() => {
      log.warn(`graceful timeout (${spec.gracefulTimeout} s) reached, closing open connections`);
      void Promise.all(listeners.map((l) => l.stop(true))).finally(() => {
        sendMetrics();
        exit(0);
      });
    }, spec.gracefulTimeout * 1000);
    await Promise.all([...listeners.map((l) => l.stop(false)), runnerStopped]);
    clearTimeout(force);
    listeners = [];
    // the final figures, so the group's counters keep this worker's last requests
    sendMetrics();
    exit(0);
  }

  beat = setInterval(() => {
    // reparented: the supervisor died without telling us
    if (process.ppid !== spec.parentPid) void stop('supervisor gone');
    else send({ t: 'beat' });
  }, 1000);
  if (spec.metricsFile) metricsTimer = setInterval(sendMetrics, METRICS_INTERVAL_MS);
  process.on('SIGTERM', () => void stop('SIGTERM'));
  // Ctrl-C reaches the whole process group; the supervisor orders the shutdown
  process.on('SIGINT', () => {});
  // SIGHUP is the supervisor's business (reload); a closing terminal must not kill workers
  process.on('SIGHUP', () => {});
  process.on('SIGUSR1', () => {
    errorLog.reopen();
    accessLog?.out.reopen();
  });
  send({ t: 'ready', warnings });
}

/** Time between switching to Connection: close and closing the listeners. */
const DRAIN_GRACE_MS = 150;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
