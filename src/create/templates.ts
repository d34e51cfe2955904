/** The templates of `mapproxy create`: what each writes, where by default, and which options it reads. */
import * as path from 'node:path';
import { BASE_CONFIG_FILES } from './base-config.ts';
import { renderLogIni } from './log-ini.ts';
import { checkReverseProxyOptions, renderCaddy, renderNginx, REVERSE_PROXY_DEFAULTS, type ReverseProxyOptions } from './reverse-proxy.ts';
import { renderServerScript, resolveLib, LIB_NAME } from './server-script.ts';
import { checkSystemdOptions, renderSystemdUnit, SYSTEMD_DEFAULTS, type SystemdOptions } from './systemd.ts';

/** Everything `mapproxy create` can be told; each template reads its own part. */
export interface CreateOptions {
  template?: string;
  dest?: string;
  listTemplates?: boolean;
  force?: boolean;
  mapproxyConf?: string;
  lib?: string;
  user?: string;
  config?: string;
  cacheDir?: string;
  bin?: string;
  bind?: string;
  workers?: string;
  logDir?: string;
  logConfig?: string;
  upstream?: string;
  path?: string;
  serverName?: string;
}

/** The template-specific options and their flags, for "option X is not used by template Y". */
export const OPTION_FLAGS: Partial<Record<keyof CreateOptions, string>> = {
  mapproxyConf: '-f/--mapproxy-conf',
  lib: '--lib',
  user: '--user',
  config: '--config',
  cacheDir: '--cache-dir',
  bin: '--bin',
  bind: '--bind',
  workers: '--workers',
  logDir: '--log-dir',
  logConfig: '--log-config',
  upstream: '--upstream',
  path: '--path',
  serverName: '--server-name',
};

/** A file to write. */
export interface OutputFile {
  path: string;
  text: string;
}

/** What a template produced: files, remarks for the user, or why it cannot. */
export type Rendered = { files: OutputFile[]; notes: string[] } | { error: string };

/** One template. */
export interface Template {
  name: string;
  description: string;
  /** Destination when none is given: a directory for base-config, else a file name. */
  defaultDest: string;
  /** True when DEST is a directory that receives several files. */
  writesDirectory: boolean;
  /** Options this template reads (others are refused, so typos do not pass silently). */
  options: (keyof CreateOptions)[];
  /** The files for this destination (dest is resolved; a file path, or a directory for writesDirectory). */
  render(o: CreateOptions, dest: string): Rendered;
}

const abs = (p: string) => path.resolve(p);

function systemdOptions(o: CreateOptions): SystemdOptions | { error: string } {
  const d = SYSTEMD_DEFAULTS;
  if (o.bin !== undefined && !path.isAbsolute(o.bin)) return { error: `--bin '${o.bin}': give the absolute path of the mapproxy executable` };
  if (o.workers !== undefined && !/^\d+$/.test(o.workers)) return { error: `--workers '${o.workers}': expected a number from 1 to 256` };
  const workers = o.workers === undefined ? d.workers : Number(o.workers);
  const s: SystemdOptions = {
    user: o.user ?? d.user,
    config: abs(o.config ?? o.mapproxyConf ?? d.config),
    cacheDir: abs(o.cacheDir ?? d.cacheDir).replace(/(.)\/+$/, '$1'),
    bin: o.bin ?? d.bin,
    bind: o.bind ?? d.bind,
    workers,
    logDir: abs(o.logDir ?? d.logDir).replace(/(.)\/+$/, '$1'),
    logConfig: o.logConfig === undefined ? undefined : abs(o.logConfig),
  };
  const err = checkSystemdOptions(s);
  return err ? { error: err } : s;
}

function reverseProxyOptions(o: CreateOptions): ReverseProxyOptions | { error: string } {
  const r: ReverseProxyOptions = {
    upstream: o.upstream ?? REVERSE_PROXY_DEFAULTS.upstream,
    path: o.path ?? REVERSE_PROXY_DEFAULTS.path,
    serverName: o.serverName ?? REVERSE_PROXY_DEFAULTS.serverName,
  };
  const err = checkReverseProxyOptions(r);
  return err ? { error: err } : r;
}

/** All templates, in the order `create -l` lists them. */
export const TEMPLATES: readonly Template[] = [
  {
    name: 'base-config',
    description: 'mapproxy.yaml, seed.yaml, full_example.yaml and full_seed_example.yaml',
    defaultDest: '.',
    writesDirectory: true,
    options: [],
    render: (_o, dest) => ({ files: BASE_CONFIG_FILES.map((f) => ({ path: path.join(dest, f.name), text: f.text })), notes: [] }),
  },
  {
    name: 'wsgi-app',
    description: `server script hosting the app with Bun.serve/Deno.serve (needs -f mapproxy.yaml; --lib: path of ${LIB_NAME})`,
    defaultDest: 'server.ts',
    writesDirectory: false,
    options: ['mapproxyConf', 'config', 'lib'],
    render: (o, dest) => {
      const conf = o.mapproxyConf ?? o.config;
      if (!conf) return { error: 'template wsgi-app needs the configuration: -f mapproxy.yaml' };
      const { lib, found } = resolveLib(o.lib, path.dirname(dest));
      const notes: string[] = [];
      if (!found) notes.push(`${dest} imports makeApp from ${lib}, which does not exist (yet): copy dist/${LIB_NAME} there or create the script again with --lib PATH`);
      return { files: [{ path: dest, text: renderServerScript({ config: abs(conf), lib }) }], notes };
    },
  },
  {
    name: 'log-ini',
    description: "example log.ini for --log-config (MapProxy's format; --log-dir: where its log file goes)",
    defaultDest: 'log.ini',
    writesDirectory: false,
    options: ['logDir'],
    render: (o, dest) => ({ files: [{ path: dest, text: renderLogIni({ logDir: o.logDir === undefined ? undefined : abs(o.logDir) }) }], notes: [] }),
  },
  {
    name: 'systemd',
    description: 'sandboxed systemd unit for mapproxy serve on a UNIX socket (--user --config --cache-dir --bin --bind --workers --log-dir --log-config)',
    defaultDest: 'mapproxy.service',
    writesDirectory: false,
    options: ['mapproxyConf', 'config', 'user', 'cacheDir', 'bin', 'bind', 'workers', 'logDir', 'logConfig'],
    render: (o, dest) => {
      const s = systemdOptions(o);
      if ('error' in s) return s;
      return { files: [{ path: dest, text: renderSystemdUnit(s) }], notes: [] };
    },
  },
  {
    name: 'nginx',
    description: 'nginx site proxying to mapproxy serve (--upstream --path --server-name)',
    defaultDest: 'mapproxy-nginx.conf',
    writesDirectory: false,
    options: ['upstream', 'path', 'serverName'],
    render: (o, dest) => {
      const r = reverseProxyOptions(o);
      if ('error' in r) return r;
      return { files: [{ path: dest, text: renderNginx(r) }], notes: [] };
    },
  },
  {
    name: 'caddy',
    description: 'Caddyfile site proxying to mapproxy serve (--upstream --path --server-name)',
    defaultDest: 'mapproxy.caddy',
    writesDirectory: false,
    options: ['upstream', 'path', 'serverName'],
    render: (o, dest) => {
      const r = reverseProxyOptions(o);
      if ('error' in r) return r;
      return { files: [{ path: dest, text: renderCaddy(r) }], notes: [] };
    },
  },
];

/** The template of that name, or undefined. */
export function findTemplate(name: string): Template | undefined {
  return TEMPLATES.find((t) => t.name === name);
}
