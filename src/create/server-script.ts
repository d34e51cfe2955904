/**
 * `mapproxy create -t wsgi-app`: a server script that hosts the app with
 * Bun.serve or Deno.serve, the counterpart of MapProxy's WSGI script
 * (config.py for gunicorn or mod_wsgi).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Inputs of the server script. */
export interface ServerScriptOptions {
  /** Absolute path of mapproxy.yaml. */
  config: string;
  /** Import specifier of the embedding API (mapproxy-lib.js or src/index.ts). */
  lib: string;
}

/** The file name of the embedding API in dist/. */
export const LIB_NAME = 'mapproxy-lib.js';

/**
 * How server.ts should import makeApp: a path given with --lib (made
 * absolute) or any other specifier as given; by default mapproxy-lib.js next
 * to the running mapproxy.js (or src/index.ts when running from source),
 * else ./mapproxy-lib.js beside the script. `found` is false when that file
 * does not exist (yet).
 */
export function resolveLib(given: string | undefined, scriptDir: string): { lib: string; found: boolean } {
  if (given !== undefined) {
    const isPath = /^(\.{1,2}[\\/]|\/)/.test(given) || /\.(m?js|ts)$/.test(given);
    if (!isPath) return { lib: given, found: true };
    const abs = path.resolve(given);
    return { lib: abs, found: fs.existsSync(abs) };
  }
  for (const candidate of defaultLibCandidates()) {
    if (fs.existsSync(candidate)) return { lib: candidate, found: true };
  }
  return { lib: `./${LIB_NAME}`, found: fs.existsSync(path.join(scriptDir, LIB_NAME)) };
}

function defaultLibCandidates(): string[] {
  const out: string[] = [];
  let here: string | undefined;
  try {
    here = path.dirname(fileURLToPath(import.meta.url));
  } catch {
    here = undefined; // not a file: URL (inside a compiled executable)
  }
  if (here) {
    out.push(path.join(here, LIB_NAME)); // bundle: dist/mapproxy.js -> dist/mapproxy-lib.js
    out.push(path.resolve(here, '..', 'index.ts')); // source: src/create/ -> src/index.ts
  }
  out.push(path.join(path.dirname(process.execPath), LIB_NAME)); // compiled executable with the lib beside it
  // a compiled executable's own files live in a virtual file system, not on disk
  return out.filter((p) => !p.includes(`${path.sep}$bunfs${path.sep}`));
}

/** The server script text. */
export function renderServerScript(opts: ServerScriptOptions): string {
  const lib = JSON.stringify(opts.lib);
  const config = JSON.stringify(opts.config);
  const logIni = JSON.stringify(path.join(path.dirname(opts.config), 'log.ini'));
  return `/**
 * Server script for ${opts.config.replace(/\*\//g, '*\\/')}
 * written by \`mapproxy create -t wsgi-app\`: the mapproxy-ts counterpart of
 * MapProxy's WSGI script.
 *
 * Run it with Bun or Deno:
 *   bun server.ts
 *   deno run --allow-all server.ts
 * It listens on MAPPROXY_BIND: [HOST:]PORT or unix:/path/to.sock
 * (default 127.0.0.1:8080; port 0 picks a free one and prints it).
 *
 * For production, \`mapproxy serve\` already has worker processes, access
 * logs and reloading on SIGHUP. This script is for putting your own code
 * around the app: authentication, extra routes, headers (see handler below).
 *
 * makeApp comes from the embedding API, ${LIB_NAME}, which \`npm run build\`
 * writes next to mapproxy.js. This script imports it from the path below;
 * edit the import when it moves (or create the script again with --lib PATH).
 */
import * as fs from 'node:fs';
import * as mapproxy from ${lib};

const CONFIG = ${config};

// Logging: uncomment to configure it from a log.ini; \`mapproxy create -t log-ini log.ini\`
// writes an example. Without it, messages go to stderr.
// mapproxy.applyLogConfig(${logIni});

// Reloader: swap the two lines to re-read the configuration whenever
// mapproxy.yaml or one of its base files changes (checked once a second).
const app = mapproxy.makeApp(CONFIG);
// const app = mapproxy.makeApp(CONFIG, { reloader: true });

// Every request passes here: wrap app.fetch to add your own behaviour.
const handler = (req: Request): Response | Promise<Response> => app.fetch(req);

const g = globalThis as any;
const bind: string = (g.Deno ? g.Deno.env.get('MAPPROXY_BIND') : g.process?.env.MAPPROXY_BIND) || '127.0.0.1:8080';
const unix = bind.startsWith('unix:') ? bind.slice(5) : undefined;
const hostPort = unix ? null : /^(?:\\[?([^\\]]*?)\\]?:)?(\\d{1,5})$/.exec(bind);
if (!unix && !hostPort) throw new Error(\`MAPPROXY_BIND: expected [HOST:]PORT or unix:PATH, got '\${bind}'\`);
const hostname = hostPort?.[1] || '127.0.0.1';
const port = Number(hostPort?.[2] ?? 0);
// a socket left over from a previous run would make the bind fail
if (unix && fs.existsSync(unix) && fs.statSync(unix).isSocket()) fs.unlinkSync(unix);
const listening = (where: string) => console.log(\`mapproxy-ts: serving \${CONFIG} on \${where}\`);

if (g.Bun) {
  const server = unix ? g.Bun.serve({ unix, fetch: handler }) : g.Bun.serve({ hostname, port, fetch: handler });
  listening(unix ? \`unix:\${unix}\` : \`http://\${hostname}:\${server.port}/\`);
} else if (g.Deno) {
  const where = unix ? { transport: 'unix', path: unix } : { hostname, port };
  g.Deno.serve({ ...where, onListen: (a: any) => listening(unix ? \`unix:\${unix}\` : \`http://\${hostname}:\${a.port}/\`) }, handler);
} else {
  throw new Error('run this script with Bun or Deno');
}
`;
}
