/**
 * serve-multiapp: every CONFIG_DIR/NAME.yaml served at /NAME/, loaded on first
 * use, kept in a bounded least-recently-used set, reloaded when the file or
 * one of its base files changes. A broken config answers an error page on its
 * own /NAME/ only. As MapProxy's MultiMapProxy, with an optional index page.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors.ts';
import { getLogger } from '../log/logger.ts';
import { renderMetrics } from '../util/metrics.ts';
import { xmlEscape } from '../util/py-format.ts';
import type { FetchHandler, HandlerOptions } from './app.ts';
import { forwardedRequest, parseTrustedProxies, type PeerAddress } from './proxy-headers.ts';
import { fileStamps, makeApp, type MapProxyApp } from './reloading-app.ts';
import { checkConfigDir, CONFIG_NAME_RE, configNames } from './config-dir.ts';

const log = getLogger('mapproxy.multiapp');

/** Options of serve-multiapp. */
export interface MultiAppOptions extends HandlerOptions {
  /** Show an index of all configs at / (MapProxy's allow_listing). */
  allowListing?: boolean;
  /** Most configs kept loaded (default 100); the least recently used is dropped beyond. */
  maxLoaded?: number;
  /** Milliseconds between checks of a loaded config's files (default 1000). */
  checkInterval?: number;
  /** Processes serving these configs side by side (serve-multiapp -w N: they share globals.render.concurrency). */
  renderShare?: number;
}

interface Loaded {
  app?: MapProxyApp;
  /** the load error of a broken config */
  error?: string;
  stamps: string;
  files: string[];
  checked: number;
}

/** One handler for a directory of configs. */
export class MultiApp {
  private loaded = new Map<string, Loaded>();
  private trusted;
  readonly fetch: FetchHandler;

  constructor(
    readonly dir: string,
    readonly opts: MultiAppOptions = {},
  ) {
    checkConfigDir(dir);
    this.trusted = opts.trustedProxies ?? parseTrustedProxies();
    this.fetch = (req, peer) => this.handle(req, peer);
  }

  /** Names of the configs in the directory (NAME.yaml with a valid NAME), sorted. */
  names(): string[] {
    return configNames(this.dir);
  }

  private async handle(req: Request, peer?: PeerAddress): Promise<Response> {
    // the prefix of each app is added to X-Script-Name, so trust is decided here, once
    req = forwardedRequest(req, this.trusted.trusts(peer?.()));
    const url = new URL(req.url);
    const m = /^\/([^/]*)(\/.*)?$/.exec(url.pathname);
    const name = m?.[1] ?? '';
    if (name === '') {
      if (!this.opts.allowListing) return text(404, 'not found');
      return new Response(this.index(req), { headers: { 'Content-Type': 'text/html; charset=utf-8' } });
    }
    if (!CONFIG_NAME_RE.test(name)) return text(404, `not found: the config name may only contain A-Z, a-z, 0-9, _ and -`);
    if (m?.[2] === undefined) {
      // /metrics and /healthz of the server itself, unless a config takes the name (its /NAME/ is never shadowed)
      if ((name === 'metrics' || name === 'healthz') && !fs.existsSync(path.join(this.dir, `${name}.yaml`))) return this.own(name);
      return new Response(null, { status: 301, headers: { Location: `${url.pathname}/${url.search}` } });
    }
    const entry = this.entry(name);
    if (!entry) return text(404, `no configuration '${name}'`);
    if (!entry.app) return text(503, `configuration error in ${name}.yaml: ${entry.error}`);
    url.pathname = m[2];
    const headers = new Headers(req.headers);
    const script = (req.headers.get('x-script-name') ?? '').replace(/\/+$/, '');
    headers.set('x-script-name', `${script}/${name}`);
    const inner = new Request(url.href, { method: req.method, headers });
    // headers were already judged: the app itself must take them as they are (peer unknown = trusted)
    return entry.app.fetch(inner);
  }

  /** The loaded (or broken) config of a name, loading or reloading it as needed; undefined when there is no such file. */
  private entry(name: string): Loaded | undefined {
    const file = path.join(this.dir, `${name}.yaml`);
    let e = this.loaded.get(name);
    const now = Date.now();
    if (e && now - e.checked >= (this.opts.checkInterval ?? 1000)) {
      e.checked = now;
      if (!fs.existsSync(file)) {
        this.drop(name);
        return undefined;
      }
      if (fileStamps(e.files) !== e.stamps) {
        this.drop(name);
        e = undefined;
      }
    }
    if (!e) {
      if (!fs.existsSync(file)) return undefined;
      e = this.load(name, file);
    }
    // most recently used last
    this.loaded.delete(name);
    this.loaded.set(name, e);
    const max = Math.max(1, this.opts.maxLoaded ?? 100);
    while (this.loaded.size > max) this.drop(this.loaded.keys().next().value!);
    return e;
  }

  private load(name: string, file: string): Loaded {
    try {
      // no job runner here: the seeding API (services.admin) is for serve and serve-develop
      const app = makeApp(file, { trustedProxies: parseTrustedProxies(['*']), maxConcurrent: this.opts.maxConcurrent, maxUrlLength: this.opts.maxUrlLength, admin: false, renderShare: this.opts.renderShare });
      log.info(`loaded configuration ${name}.yaml`);
      return { app, stamps: fileStamps(app.proxy.config.files), files: app.proxy.config.files, checked: Date.now() };
    } catch (e) {
      const msg = e instanceof ConfigError || (e as NodeJS.ErrnoException).code === 'ENOENT' ? (e as Error).message : `could not load: ${(e as Error).message}`;
      log.error(`configuration ${name}.yaml: ${msg}`);
      // retried when the file changes
      return { error: msg, stamps: fileStamps([file]), files: [file], checked: Date.now() };
    }
  }

  /**
   * /metrics (the figures of all configs; of all workers under serve-multiapp)
   * and /healthz (the server answers; each config's own health is at /NAME/healthz).
   */
  private own(name: 'metrics' | 'healthz'): Response {
    if (name === 'metrics') return new Response(renderMetrics(), { headers: { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Cache-Control': 'no-cache' } });
    return Response.json({ status: 'ok' }, { headers: { 'Cache-Control': 'no-cache' } });
  }

  private drop(name: string): void {
    this.loaded.get(name)?.app?.close();
    this.loaded.delete(name);
  }

  private index(req: Request): string {
    const script = (req.headers.get('x-script-name') ?? '').replace(/\/+$/, '');
    const items = this.names()
      .map((n) => `<li><a href="${xmlEscape(`${script}/${n}/`)}">${xmlEscape(n)}</a> (<a href="${xmlEscape(`${script}/${n}/demo/`)}">demo</a>)</li>`)
      .join('\n');
    return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>MapProxy</title></head>
<body><h1>MapProxy configurations</h1>
<ul>
${items}
</ul>
</body></html>`;
  }
}

function text(status: number, msg: string): Response {
  return new Response(`${msg}\n`, { status, headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-cache' } });
}
