/** serve-develop: one process, reloads on config change, built-in demo without a config. */
import { ConfigError } from '../errors.ts';
import { getLogger, setLogLevel } from '../log/logger.ts';
import { serveHttp } from '../runtime/serve.ts';
import { writeDemoConfig } from '../demo/demo-config.ts';
import { makeApp } from './reloading-app.ts';
import { parseTrustedProxies } from './proxy-headers.ts';
import { parseBind } from './serve-options.ts';
import { MultiApp } from './multiapp.ts';
import { JobRunner } from '../render/job-runner.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import { checkAdminConfig, runnerContext } from '../service/admin/admin-config.ts';
import { createAdminHandler } from '../service/admin/admin-service.ts';

const log = getLogger('mapproxy.system');

/** Run the development server until killed; returns an exit code when it cannot start. */
export async function runServeDevelop(opts: { config?: string; bind: string; debug: boolean; trustedProxies?: string; adminBind?: string }): Promise<number> {
  if (opts.debug) setLogLevel('', 'debug');
  let bind;
  let adminBind;
  let trustedProxies;
  try {
    bind = parseBind(opts.bind);
    adminBind = opts.adminBind !== undefined ? parseBind(opts.adminBind) : undefined;
    trustedProxies = opts.trustedProxies !== undefined ? parseTrustedProxies([opts.trustedProxies]) : undefined;
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  if (!isLoopback(bind.hostname)) {
    log.warn(`serve-develop is a development server and listens on ${bind.hostname}, reachable from other hosts: use 'mapproxy serve' in production`);
  }
  const config = opts.config ?? writeDemoConfig();
  if (!opts.config) log.info(`no configuration given, serving the built-in demo from ${config}`);
  let app;
  try {
    // with --admin-bind the seeding API is served only there
    app = makeApp(config, { reloader: true, trustedProxies, admin: !adminBind });
    if (!checkAdminConfig(app.proxy, { adminBind: !!adminBind }) && adminBind) log.warn('--admin-bind given, but the configuration has no services.admin: the seeding API answers 404');
  } catch (e) {
    if (e instanceof ConfigError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`error: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
  for (const w of app.proxy.config.warnings) log.warn(String(w));
  const server = await serveHttp({ hostname: bind.hostname, port: bind.port, fetch: app.fetch });
  console.log(`mapproxy serve-develop: serving ${config} on http://${bind.hostname}:${server.port}/`);
  // the one process: it runs the seeding jobs (idle while services.admin is not configured)
  const live = app;
  // jobs run in this process on a seeding proxy (seed_only sources in use) sharing the server's render queue
  const runner = new JobRunner({ context: () => (runnerContext(live.proxy) ? runnerContext(seedingProxy(live.proxy)) : undefined) }).start();
  if (runnerContext(live.proxy)) {
    // a running seeding job stores its progress before the process ends (a second signal ends it at once)
    let stopping = false;
    const onSignal = () => {
      if (stopping) process.exit(130);
      stopping = true;
      const t = setTimeout(() => process.exit(0), 10_000);
      void runner.stop().finally(() => {
        clearTimeout(t);
        process.exit(0);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  if (adminBind) {
    const admin = await serveHttp({ hostname: adminBind.hostname, port: adminBind.port, fetch: createAdminHandler(() => live.proxy) });
    console.log(`mapproxy serve-develop: seeding API on http://${adminBind.hostname}:${admin.port}/admin/`);
  }
  return 0;
}

/** Whether a bind host only accepts local connections. */
export function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || /^127\./.test(hostname) || hostname === '::1' || hostname === '[::1]';
}

/** serve-multiapp-develop: every CONFIG_DIR/NAME.yaml at /NAME/ in one process; returns an exit code when it cannot start. */
export async function runServeMultiappDevelop(opts: { dir: string; bind: string; debug: boolean; allowListing: boolean; trustedProxies?: string }): Promise<number> {
  if (opts.debug) setLogLevel('', 'debug');
  let bind;
  let multi;
  try {
    bind = parseBind(opts.bind);
    const trustedProxies = opts.trustedProxies !== undefined ? parseTrustedProxies([opts.trustedProxies]) : undefined;
    multi = new MultiApp(opts.dir, { allowListing: opts.allowListing, trustedProxies });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  if (!isLoopback(bind.hostname)) log.warn(`serve-multiapp-develop is a development server and listens on ${bind.hostname}: use 'mapproxy serve-multiapp' in production`);
  const server = await serveHttp({ hostname: bind.hostname, port: bind.port, fetch: multi.fetch });
  console.log(`mapproxy serve-multiapp-develop: serving ${opts.dir} on http://${bind.hostname}:${server.port}/`);
  return 0;
}

const seedingProxies = new WeakMap<Proxy, Proxy>();

/** The proxy of the same config for seeding: `seed_only` sources are used there (built once per loaded config). */
function seedingProxy(serving: Proxy): Proxy {
  let p = seedingProxies.get(serving);
  if (!p) {
    p = buildProxy(serving.config, { seeding: true, renderQueue: serving.renderQueue });
    seedingProxies.set(serving, p);
  }
  return p;
}
