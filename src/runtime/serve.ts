/** Start an HTTP server on whatever runtime we are on (Bun.serve or Deno.serve). */
import { runtimeName } from './runtime.ts';

/** A running server. */
export interface RunningServer {
  hostname: string;
  port: number;
  stop(): Promise<void>;
}

/** Options of serveHttp. */
export interface ServeOptions {
  hostname: string;
  port: number;
  /** `peer` gives the remote address ('' for a UNIX socket), computed only when called. */
  fetch: (req: Request, peer?: () => string | undefined) => Response | Promise<Response>;
}

/** Serve fetch on hostname:port (port 0 picks a free port). */
export async function serveHttp(opts: ServeOptions): Promise<RunningServer> {
  const g = globalThis as any;
  const rt = runtimeName();
  if (rt === 'bun') {
    const fetch = opts.fetch.length < 2 ? opts.fetch : (req: Request, srv: any) => opts.fetch(req, () => srv.requestIP(req)?.address ?? '');
    const server = g.Bun.serve({ hostname: opts.hostname, port: opts.port, fetch, development: false });
    return { hostname: opts.hostname, port: server.port, stop: async () => server.stop(true) };
  }
  if (rt === 'deno') {
    let resolvePort!: (p: number) => void;
    const ready = new Promise<number>((r) => (resolvePort = r));
    const server = g.Deno.serve({ hostname: opts.hostname, port: opts.port, onListen: (a: { port: number }) => resolvePort(a.port) }, (req: Request, info: any) =>
      opts.fetch(req, () => info?.remoteAddr?.hostname ?? ''),
    );
    const port = await ready;
    return { hostname: opts.hostname, port, stop: async () => server.shutdown() };
  }
  const http = await import('node:http');
  const server = http.createServer(async (req, res) => {
    const url = `http://${req.headers.host ?? `${opts.hostname}:${opts.port}`}${req.url}`;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length && req.method !== 'GET' && req.method !== 'HEAD' ? Buffer.concat(chunks) : undefined;
    const resp = await opts.fetch(new Request(url, { method: req.method, headers: req.headers as Record<string, string>, body }), () => req.socket.remoteAddress ?? '');
    res.writeHead(resp.status, Object.fromEntries(resp.headers));
    res.end(req.method === 'HEAD' ? undefined : Buffer.from(await resp.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(opts.port, opts.hostname, r));
  const addr = server.address() as { port: number };
  return { hostname: opts.hostname, port: addr.port, stop: () => new Promise((r) => server.close(() => r())) };
}
