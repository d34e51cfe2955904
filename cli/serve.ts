/** `mapproxy serve CONFIG [-b ADDR]... [-w N] ...`, and the hidden `serve-worker` its workers run. */
import { Command } from 'commander';
import { runServe } from '../src/server/serve.ts';
import { DEFAULT_TILE_MEMORY_MB, defaultWorkers, parseCount, parseLogLevel, parseServeBind, WORKER_ENV, type Bind, type ServeOptions, type WorkerSpec } from '../src/server/serve-options.ts';

/** The flags serve and serve-multiapp share, as commander hands them over. */
export interface ServeFlags {
  bind?: string[];
  workers: string;
  maxRequests: string;
  maxRequestsJitter: string;
  timeout: string;
  gracefulTimeout: string;
  keepalive: string;
  accessLog?: string;
  errorLog: string;
  logLevel?: string;
  logConfig?: string;
  trustedProxies?: string;
  pidFile?: string;
  debug?: boolean;
  tileMemory: string;
}

/** Add the flags of the production server (gunicorn's names where it has them) to a command. */
export function addServeOptions(cmd: Command): Command {
  return cmd
    .option('-b, --bind <address>', '[HOST:]PORT or unix:PATH to listen on; repeatable (default localhost:8080)', (v: string, acc: string[] = []) => [...acc, v])
    .option('-w, --workers <n>', 'worker processes', String(defaultWorkers()))
    .option('--max-requests <n>', 'replace a worker after this many requests (0: never)', '0')
    .option('--max-requests-jitter <n>', 'add up to this many requests to each worker’s limit', '0')
    .option('-t, --timeout <seconds>', 'answer 503 to requests running longer; kill workers silent this long (0: no limit)', '30')
    .option('--graceful-timeout <seconds>', 'time a stopping worker gets to finish its requests', '30')
    .option('--keepalive <seconds>', 'idle keep-alive connections are closed after this long (0: no keep-alive)', '5')
    .option('--access-log <file>', "access log in combined format, '-' for stdout")
    .option('--error-log <file>', "error log, '-' for stderr", '-')
    .option('--log-level <level>', 'debug, info, warning, error (default info, debug with --debug)')
    .option('--log-config <file>', "a MapProxy log.ini (Python logging's format); replaces --error-log and --log-level")
    .option('--trusted-proxies <list>', "peers whose X-Forwarded-*, X-Script-Name and Forwarded headers count: IPs, CIDR ranges, 'unix', '*' (default: loopback and UNIX socket)")
    .option('--pid-file <file>', 'write the supervisor pid here, removed at exit')
    .option('--tile-memory <MB>', 'keep up to this many MB of recently served tiles in each worker, checked against their files on every use (0: off)', String(DEFAULT_TILE_MEMORY_MB))
    .option('--debug', 'add an X-MapProxy-Worker: PID response header and log debug messages');
}

/** The shared flags checked and converted; exits with code 2 and the reason when one is wrong. */
export function parseServeFlags(flags: ServeFlags): Omit<ServeOptions, 'config'> {
  try {
    return {
      binds: (flags.bind ?? ['localhost:8080']).map(parseServeBind),
      workers: parseCount('--workers', flags.workers, { integer: true, min: 1 }),
      maxRequests: parseCount('--max-requests', flags.maxRequests, { integer: true }),
      maxRequestsJitter: parseCount('--max-requests-jitter', flags.maxRequestsJitter, { integer: true }),
      timeout: parseCount('--timeout', flags.timeout),
      gracefulTimeout: parseCount('--graceful-timeout', flags.gracefulTimeout),
      keepalive: parseCount('--keepalive', flags.keepalive, { integer: true, max: 255 }),
      logLevel: parseLogLevel(flags.logLevel ?? (flags.debug ? 'debug' : 'info')),
      accessLog: flags.accessLog,
      errorLog: flags.errorLog,
      pidFile: flags.pidFile,
      logConfig: flags.logConfig,
      trustedProxies: flags.trustedProxies,
      debug: flags.debug === true,
      tileMemory: parseCount('--tile-memory', flags.tileMemory, { max: 65536 }),
    };
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    process.exit(2);
  }
}

/** Add the serve subcommand (and the internal serve-worker). */
export function registerServe(program: Command): void {
  addServeOptions(
    program
      .command('serve')
      .description('production server: N worker processes on shared ports or a UNIX socket; SIGHUP reloads, SIGTERM drains')
      .argument('<config>', 'mapproxy.yaml'),
  )
    .option('--admin-bind <address>', '[HOST:]PORT for the seeding API (services.admin) instead of the main addresses; no token needed there')
    .action(async (config: string, flags: ServeFlags & { adminBind?: string }) => {
      const opts = parseServeFlags(flags);
      let adminBind: Bind | undefined;
      try {
        if (flags.adminBind !== undefined) {
          adminBind = parseServeBind(flags.adminBind);
          if (adminBind.kind !== 'tcp') throw new Error(`invalid --admin-bind '${flags.adminBind}': expected [HOST:]PORT`);
        }
      } catch (e) {
        console.error(`error: ${(e as Error).message}`);
        process.exit(2);
      }
      process.exit(await runServe({ config, ...opts, adminBind }));
    });

  program.addCommand(
    new Command('serve-worker').description('internal: a worker process of serve').action(async () => {
      const raw = process.env[WORKER_ENV];
      if (!raw) {
        console.error(`error: serve-worker is started by mapproxy serve (${WORKER_ENV} not set)`);
        process.exit(2);
      }
      const { runWorker } = await import('../src/server/serve-worker.ts');
      await runWorker(JSON.parse(raw) as WorkerSpec);
    }),
    { hidden: true },
  );
}
