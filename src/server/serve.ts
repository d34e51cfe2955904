/**
 * `mapproxy serve`: the production server (what gunicorn -w N does for
 * MapProxy). A supervisor process validates the config, owns the pid file and
 * the UNIX sockets, and runs N worker processes sharing the TCP ports
 * (SO_REUSEPORT). At startup the supervisor leaves loading the config to the
 * workers (it never loads the config modules unless SIGHUP asks it to check
 * a changed config), so the first tile is served one config load sooner; a
 * config error a worker reports stops them all before they are announced. SIGTERM/SIGINT drain and exit, SIGHUP replaces all workers
 * after validating the config again, SIGUSR1 reopens the log files. The
 * supervisor also sums the workers' metrics, so /metrics covers the group.
 * `mapproxy serve-multiapp` is the same server over a directory of configs
 * (MapProxy's multiapp under gunicorn).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyLogConfig } from '../log/log-config.ts';
import { getLogger, setLogLevel, setLogSink } from '../log/logger.ts';
import type { ListenTarget } from '../runtime/listen.ts';
import { selfCommand } from '../runtime/self-command.ts';
import { VERSION } from '../version.ts';
import { errorLogSink, LogFile } from './log-output.ts';
import { parseTrustedProxies } from './proxy-headers.ts';
import { configLoadProblem, formatBind, type Bind, type ServeOptions } from './serve-options.ts';
import { forwardUnix, type UnixForwarder } from './unix-forwarder.ts';
import { MetricsGroup } from './metrics-group.ts';
import { StartCheckError, WorkerPool } from './workers.ts';
import { checkConfigDir, configNames } from './config-dir.ts';

const log = getLogger('mapproxy.system');

/** Milliseconds a worker gets to load the config and listen. */
const BOOT_TIMEOUT_MS = 60_000;

/** Run the server until a shutdown signal; resolves with the process exit code. */
export async function runServe(opts: ServeOptions): Promise<number> {
  let errorLog: LogFile;
  try {
    errorLog = new LogFile(opts.errorLog, 'stderr');
    if (opts.accessLog && opts.accessLog !== '-') new LogFile(opts.accessLog, 'stdout').close();
  } catch (e) {
    console.error(`error: cannot open log file: ${(e as Error).message}`);
    return 2;
  }
  setLogSink(errorLogSink(errorLog));
  setLogLevel('', opts.logLevel);
  const config = path.resolve(opts.config);
  const logConfig = opts.logConfig ? path.resolve(opts.logConfig) : undefined;
  try {
    if (opts.trustedProxies !== undefined) parseTrustedProxies([opts.trustedProxies]);
    // the log.ini replaces --error-log and --log-level, in the supervisor as in every worker
    if (logConfig) applyLogConfig(logConfig);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }

  const adminBind = opts.adminBind !== undefined;
  if (opts.multiapp && adminBind) {
    console.error('error: --admin-bind: serve-multiapp has no seeding API');
    return 2;
  }
  const verb = opts.multiapp ? 'serve-multiapp' : 'serve';
  const validate = () => (opts.multiapp ? validateDir(config) : validateConfig(config, adminBind));
  // a directory is only listed (its configs load on first use); a config is checked by the workers as they boot
  if (opts.multiapp) {
    const problem = validateDir(config);
    if (problem) {
      console.error(`error: ${problem}`);
      if (opts.errorLog !== '-') log.error(problem);
      return 2;
    }
  }

  const cleanups: (() => void)[] = [];
  const cleanup = () => {
    for (const f of cleanups.splice(0).reverse()) {
      try {
        f();
      } catch {
        /* best effort at exit */
      }
    }
    errorLog.close();
  };
  const fail = (msg: string, code = 1): number => {
    log.error(msg);
    if (opts.errorLog !== '-') console.error(`error: ${msg}`);
    cleanup();
    return code;
  };

  if (opts.pidFile) {
    const err = writePidFile(opts.pidFile);
    if (err) return fail(err);
    const pidFile = opts.pidFile;
    cleanups.push(() => removePidFile(pidFile));
  }

  // check the TCP addresses here (a clear error instead of N failing workers) and resolve port 0
  const tcp: ListenTarget[] = [];
  const shown: Bind[] = [];
  for (const b of opts.binds) {
    if (b.kind !== 'tcp') continue;
    try {
      const port = await probePort(b.hostname, b.port);
      tcp.push({ kind: 'tcp', hostname: b.hostname, port });
      shown.push({ ...b, port });
    } catch (e) {
      return fail(`cannot listen on ${formatBind(b)}: ${(e as Error).message}`);
    }
  }
  let adminListen: ListenTarget | undefined;
  if (opts.adminBind) {
    const b = opts.adminBind;
    if (b.kind !== 'tcp') return fail('--admin-bind: expected [HOST:]PORT');
    try {
      adminListen = { kind: 'tcp', hostname: b.hostname, port: await probePort(b.hostname, b.port) };
    } catch (e) {
      return fail(`cannot listen on ${formatBind(b)} (--admin-bind): ${(e as Error).message}`);
    }
  }
  const unixBinds = opts.binds.filter((b): b is Extract<Bind, { kind: 'unix' }> => b.kind === 'unix');
  // the workers' private sockets (behind the UNIX forwarders) and the group's metrics document
  let runDir: string;
  try {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-serve-'));
  } catch (e) {
    return fail(`cannot create a run directory: ${(e as Error).message}`);
  }
  cleanups.push(() => fs.rmSync(runDir, { recursive: true, force: true }));
  // the mapproxy_workers gauge counts the pool's serving workers (none until the pool below exists)
  let serving = () => 0;
  const metricsGroup = new MetricsGroup(path.join(runDir, 'metrics.prom'), () => serving());
  cleanups.push(() => metricsGroup.close());

  let stopping: Promise<number> | undefined;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((r) => (finish = r));
  const forwarders: UnixForwarder[] = [];

  const pool = new WorkerPool({
    size: opts.workers,
    metrics: metricsGroup,
    command: selfCommand(),
    watchdog: opts.timeout > 0 ? Math.max(opts.timeout, 5) : 0,
    gracefulTimeout: opts.gracefulTimeout,
    bootTimeout: BOOT_TIMEOUT_MS,
    onFatal: (reason) => void shutdown(`fatal: ${reason}`, 1),
    spec: (slot, seq) => {
      const socket = unixBinds.length ? path.join(runDir, `w${slot}-${seq}.sock`) : undefined;
      const jitter = opts.maxRequestsJitter > 0 ? Math.floor(Math.random() * (opts.maxRequestsJitter + 1)) : 0;
      return {
        socket,
        spec: {
          config,
          multiapp: opts.multiapp,
          metricsFile: metricsGroup.file,
          listen: socket ? [...tcp, { kind: 'unix', path: socket }] : tcp,
          timeout: opts.timeout,
          gracefulTimeout: opts.gracefulTimeout,
          keepalive: opts.keepalive,
          maxRequests: opts.maxRequests > 0 ? opts.maxRequests + jitter : 0,
          accessLog: opts.accessLog,
          errorLog: opts.errorLog,
          logLevel: opts.logLevel,
          logConfig,
          trustedProxies: opts.trustedProxies,
          debug: opts.debug,
          tileMemory: opts.tileMemory,
          parentPid: process.pid,
          workers: opts.workers,
          // slot 0 runs the seeding jobs and serves --admin-bind (a multiapp has no seeding API)
          runJobs: slot === 0 && !opts.multiapp,
          adminSeparate: adminBind,
          adminListen: slot === 0 ? adminListen : undefined,
        },
      };
    },
  });

  serving = () => pool.pids().length;

  function shutdown(why: string, code: number): Promise<number> {
    if (stopping) {
      log.warn(`${why} again, killing the workers now`);
      pool.kill();
      return stopping;
    }
    log.info(`${why}: shutting down gracefully`);
    stopping = (async () => {
      await Promise.all(forwarders.map((f) => f.stopAccepting()));
      await pool.shutdown();
      for (const f of forwarders) f.destroy();
      log.info('shutdown complete');
      cleanup();
      finish(code);
      return code;
    })();
    return stopping;
  }

  let reloading = false;
  let reloadAgain = false;
  let hinted = false;
  let started = false;
  async function reload(): Promise<void> {
    if (stopping) return;
    if (!started) {
      log.warn('SIGHUP while starting, ignored');
      return;
    }
    if (reloading) {
      reloadAgain = true;
      return;
    }
    reloading = true;
    try {
      do {
        reloadAgain = false;
        log.info(`SIGHUP: reloading ${config}`);
        const err = await validate();
        if (err) {
          log.error(`configuration has errors, keeping the running workers: ${err}`);
          continue;
        }
        if (tcp.length && !hinted) hinted = migrateHint();
        if (await pool.reload()) log.info(`reloaded ${config}, workers ${pool.pids().join(', ')}`);
      } while (reloadAgain && !stopping);
    } finally {
      reloading = false;
    }
  }

  const handlers: [NodeJS.Signals, () => void][] = [
    ['SIGTERM', () => void shutdown('SIGTERM', 0)],
    ['SIGINT', () => void shutdown('SIGINT', 0)],
    ['SIGHUP', () => void reload()],
    [
      'SIGUSR1',
      () => {
        // a log.ini's file handlers notice a rotated file by themselves
        errorLog.reopen();
        pool.signalAll('SIGUSR1');
      },
    ],
  ];
  for (const [sig, h] of handlers) process.on(sig, h);
  cleanups.push(() => {
    for (const [sig, h] of handlers) process.off(sig, h);
  });

  const closeForwarders = async () => {
    await Promise.all(forwarders.map((f) => f.stopAccepting()));
    for (const f of forwarders.splice(0)) f.destroy();
  };
  try {
    for (const b of unixBinds) forwarders.push(await forwardUnix(b.path, pool));
  } catch (e) {
    await closeForwarders();
    return fail(`cannot listen on ${formatBind(unixBinds[forwarders.length])}: ${(e as Error).message}`);
  }
  try {
    await pool.start((warnings) => {
      log.info(`mapproxy-ts ${VERSION} ${verb} ${config} (supervisor pid ${process.pid})`);
      for (const w of warnings) log.warn(w);
    });
  } catch (e) {
    if (e instanceof StartCheckError) {
      // as a config error found before any worker existed: the reason, exit code 2
      await closeForwarders();
      console.error(`error: ${e.message}`);
      if (opts.errorLog !== '-') log.error(e.message);
      cleanup();
      return 2;
    }
    if (!stopping) void shutdown(`cannot start: ${(e as Error).message}`, 1);
    return finished;
  }
  started = true;
  const where = [...shown, ...unixBinds].map(formatBind).join(', ');
  log.info(`listening at ${where} with ${opts.workers} worker(s): ${pool.pids().join(', ')}`);
  if (adminListen?.kind === 'tcp') log.info(`seeding API at ${formatBind(adminListen)}/admin/ (worker ${pool.pids()[0]})`);
  return finished;
}

/**
 * Old workers leave the SO_REUSEPORT group by closing their listener; the
 * kernel resets connections still queued on it unless tcp_migrate_req hands
 * them to the other listeners. Say so once, where it applies.
 */
function migrateHint(): boolean {
  try {
    if (fs.readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '0') {
      log.info('net.ipv4.tcp_migrate_req is 0: a TCP connection arriving in the instant an old worker closes its listener is reset; sysctl net.ipv4.tcp_migrate_req=1 hands such connections to the new workers');
    }
  } catch {
    /* not Linux, or no such setting (kernel < 5.14) */
  }
  return true;
}

/**
 * serve-multiapp: the directory must be there; its configs load lazily in the
 * workers and a broken one breaks only its own /NAME/, so they are listed, not
 * checked. The error message, or undefined when fine.
 */
function validateDir(dir: string): string | undefined {
  try {
    checkConfigDir(dir);
    const names = configNames(dir);
    log.info(`${names.length} configuration(s) in ${dir}${names.length ? `: ${names.join(', ')}` : ''}`);
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no such directory: ${dir}` : (e as Error).message;
  }
}

/** loadConfig + buildProxy, as every worker will; the error message, or undefined when fine. */
async function validateConfig(config: string, adminBind: boolean): Promise<string | undefined> {
  const [{ loadConfig }, { buildProxy }, { checkAdminConfig }] = await Promise.all([import('../config/loader.ts'), import('../core/build-proxy.ts'), import('../service/admin/admin-config.ts')]);
  try {
    const proxy = buildProxy(loadConfig(config));
    checkAdminConfig(proxy, { adminBind });
    for (const w of proxy.config.warnings) log.warn(String(w));
    return undefined;
  } catch (e) {
    return configLoadProblem(config, e);
  }
}

/**
 * Bind host:port once without SO_REUSEPORT: fails when anything (another
 * mapproxy serve included) listens there; also turns port 0 into a real port.
 */
function probePort(hostname: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code === 'EADDRINUSE' ? 'address already in use' : e.message)));
    srv.listen({ host: hostname, port, exclusive: true }, () => {
      const addr = srv.address();
      const p = typeof addr === 'object' && addr ? addr.port : port;
      srv.close(() => resolve(p));
    });
  });
}

/** Write our pid; refuse when the file names another live process. */
function writePidFile(file: string): string | undefined {
  try {
    const old = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
    if (old > 0 && old !== process.pid && isAlive(old)) return `pid file ${file} names a running process (${old}); is mapproxy already running?`;
  } catch {
    /* no previous pid file */
  }
  try {
    fs.writeFileSync(file, `${process.pid}\n`);
  } catch (e) {
    return `cannot write pid file: ${(e as Error).message}`;
  }
  return undefined;
}

function removePidFile(file: string): void {
  try {
    if (Number.parseInt(fs.readFileSync(file, 'utf8'), 10) === process.pid) fs.unlinkSync(file);
  } catch {
    /* already gone */
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
