/**
 * makeApp: the embeddable app for a config file. With the reloader on, it
 * re-reads the config when any of its files (base files included) changes;
 * a config that fails to load keeps the old app running and logs why.
 */
import * as fs from 'node:fs';
import { loadConfig } from '../config/loader.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import { getLogger } from '../log/logger.ts';
import { createHandler, type FetchHandler, type HandlerOptions } from './app.ts';

const log = getLogger('mapproxy.system');

/** Options of makeApp. */
export interface MakeAppOptions extends HandlerOptions {
  /** Watch the config files and reload on change (serve-develop). */
  reloader?: boolean;
  /** Poll interval of the reloader in ms (default 1000). */
  reloadInterval?: number;
  /** Processes serving this config side by side (they share globals.render.concurrency). */
  renderShare?: number;
}

/** An app bound to a config file. */
export interface MapProxyApp {
  fetch: FetchHandler;
  /** The current proxy graph. */
  readonly proxy: Proxy;
  /** Re-read the config now; true if the new config is in use. */
  reload(): boolean;
  /** Stop the reloader. */
  close(): void;
}

/** Load, build and wrap a config as a fetch handler (throws ConfigError on a broken config). */
export function makeApp(configPath: string, opts: MakeAppOptions = {}): MapProxyApp {
  const build = { renderShare: opts.renderShare };
  let proxy = buildProxy(loadConfig(configPath), build);
  const handlerOpts: HandlerOptions = { trustedProxies: opts.trustedProxies, maxConcurrent: opts.maxConcurrent, maxUrlLength: opts.maxUrlLength, admin: opts.admin };
  let handler = createHandler(proxy, handlerOpts);
  let stamps = fileStamps(proxy.config.files);
  let timer: ReturnType<typeof setInterval> | undefined;

  const reload = (): boolean => {
    try {
      const next = buildProxy(loadConfig(configPath), build);
      proxy = next;
      handler = createHandler(next, handlerOpts);
      stamps = fileStamps(next.config.files);
      log.info(`reloaded configuration ${configPath}`);
      return true;
    } catch (e) {
      // keep serving the old config; remember the new stamps so the error is logged once per change
      stamps = fileStamps(proxy.config.files);
      log.error(`could not reload configuration, keeping the previous one: ${(e as Error).message}`);
      return false;
    }
  };

  if (opts.reloader) {
    timer = setInterval(() => {
      const now = fileStamps(proxy.config.files);
      if (now !== stamps) reload();
    }, opts.reloadInterval ?? 1000);
    (timer as { unref?: () => void }).unref?.();
  }

  return {
    fetch: (req, peer) => handler(req, peer),
    get proxy() {
      return proxy;
    },
    reload,
    close: () => timer && clearInterval(timer),
  };
}

/** A fingerprint of the files' mtimes and sizes: it changes when any of them does. */
export function fileStamps(files: string[]): string {
  return [...new Set(files)]
    .map((f) => {
      try {
        const st = fs.statSync(f);
        return `${f}:${st.mtimeMs}:${st.size}`;
      } catch {
        return `${f}:missing`;
      }
    })
    .join('|');
}
