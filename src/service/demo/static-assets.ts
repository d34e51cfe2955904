/**
 * The demo's static files, held in memory: a fixed map of name -> bytes, so
 * no part of a request path ever reaches the file system. Built once, at the
 * first request that needs them.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { buildViewerAssets } from './viewer-build.ts';

/** One static file. */
export interface StaticAsset {
  mime: string;
  bytes: Uint8Array;
  /** the same bytes gzipped, for clients that accept it */
  gzip: Uint8Array;
  etag: string;
}

let assets: Promise<ReadonlyMap<string, StaticAsset>> | undefined;

function asset(mime: string, text: string): StaticAsset {
  const bytes = new TextEncoder().encode(text);
  return { mime, bytes, gzip: gzipSync(bytes, { level: 9 }), etag: `"${createHash('sha1').update(bytes).digest('hex').slice(0, 20)}"` };
}

/** All static files by name (as in /demo/static/NAME). */
export function staticAssets(): Promise<ReadonlyMap<string, StaticAsset>> {
  assets ??= buildViewerAssets().then(
    (v) =>
      new Map([
        ['viewer.js', asset('text/javascript; charset=utf-8', v.js)],
        ['demo.css', asset('text/css; charset=utf-8', v.css)],
      ]),
    (e) => {
      // let a later request try again (e.g. after esbuild got installed)
      assets = undefined;
      throw e;
    },
  );
  return assets;
}

/** Answer GET /demo/static/NAME: exact names only, 304 on a matching ETag, gzip when accepted. */
export async function serveStatic(req: Request, name: string): Promise<Response | undefined> {
  const a = (await staticAssets()).get(name);
  if (!a) return undefined;
  const headers: Record<string, string> = {
    'Content-Type': a.mime,
    ETag: a.etag,
    'Cache-Control': 'public, max-age=3600',
    'X-Content-Type-Options': 'nosniff',
    Vary: 'Accept-Encoding',
  };
  const inm = req.headers.get('if-none-match');
  if (inm && inm.split(',').some((t) => t.trim().replace(/^W\//, '') === a.etag)) return new Response(null, { status: 304, headers });
  const gzip = /\bgzip\b/i.test(req.headers.get('accept-encoding') ?? '');
  if (gzip) headers['Content-Encoding'] = 'gzip';
  const body = gzip ? a.gzip : a.bytes;
  return new Response(req.method === 'HEAD' ? null : (body as Uint8Array<ArrayBuffer>), { headers });
}
