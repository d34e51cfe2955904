/** Seed tests: a counting upstream WMS that can fail or be slow, a case directory, and runSeed with captured output. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';
import { encodeImage } from '../../src/image/codec.ts';
import { createRaster } from '../../src/image/raster.ts';
import { runSeed, type SeedArgs } from '../../src/seed/run-seed.ts';

/** A WMS that answers every GetMap with a PNG of the asked size. */
export interface SeedUpstream {
  url: string;
  /** GetMap requests: `minx,miny,maxx,maxy WxH` */
  requests: string[];
  /** Answer the next N requests with HTTP 500. */
  failNext: number;
  /** Answer every request with HTTP 500. */
  failAll: boolean;
  delayMs: number;
  /** Requests being answered now, and the most there were at once. */
  open: number;
  maxOpen: number;
  stop(): Promise<void>;
}

export async function startSeedUpstream(): Promise<SeedUpstream> {
  const pngs = new Map<string, Uint8Array<ArrayBuffer>>();
  let server: RunningServer;
  let n = 0;
  const up: SeedUpstream = { url: '', requests: [], failNext: 0, failAll: false, delayMs: 0, open: 0, maxOpen: 0, stop: () => server.stop() };
  server = await serveHttp({
    hostname: '127.0.0.1',
    port: 0,
    fetch: async (req) => {
      up.maxOpen = Math.max(up.maxOpen, ++up.open);
      try {
        return await answer(req);
      } finally {
        up.open--;
      }
    },
  });
  async function answer(req: Request): Promise<Response> {
    const q = new URL(req.url).searchParams;
    const p = (k: string) => q.get(k) ?? q.get(k.toLowerCase()) ?? '';
    if (up.delayMs) await new Promise((r) => setTimeout(r, up.delayMs));
    if (up.failAll || up.failNext > 0) {
      if (up.failNext > 0) up.failNext--;
      up.requests.push(`FAILED ${p('BBOX')}`);
      return new Response('upstream broken', { status: 500 });
    }
    const w = Number(p('WIDTH'));
    const h = Number(p('HEIGHT'));
    up.requests.push(`${p('BBOX')} ${w}x${h}`);
    const key = `${w}x${h}:${n++ % 3}`;
    let png = pngs.get(key);
    if (!png) {
      const r = createRaster(w, h, [200, 40, 40, 255]);
      // not one colour: single-colour tiles would be stored differently where configured
      for (let i = 0; i < Math.min(w * h, 64); i++) r.data[i * 4 + 1] = (i * 7 + n) & 255;
      png = (await encodeImage(r, { format: 'png' })) as Uint8Array<ArrayBuffer>;
      pngs.set(key, png);
    }
    return new Response(png, { headers: { 'Content-Type': 'image/png' } });
  }
  up.url = `http://127.0.0.1:${server.port}/service?`;
  return up;
}

/** A temp directory with mapproxy.yaml, seed.yaml and other files; `@UPSTREAM@` is replaced. */
export function makeCase(files: Record<string, string>, upstream?: SeedUpstream): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-seed-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), upstream ? text.replaceAll('@UPSTREAM@', upstream.url) : text);
  }
  return dir;
}

/** Files below dir, relative, sorted, '/'-separated (temp files included, so tests see them). */
export { listFiles } from '../cache/cache-helpers.ts';

export const DEFAULT_ARGS: SeedArgs = {
  concurrency: 2,
  dryRun: false,
  summary: false,
  quiet: 0,
  interactive: false,
  skipUncached: false,
  skipGeomsForLastLevels: 0,
  useCacheLock: false,
  continueSeed: false,
  maxRetries: 5,
  retryDelay: 0.01,
  maxRate: 0,
  maxFailures: 10,
  removeAll: false,
};

/** runSeed in this process with cwd = dir; returns exit code and output. */
export async function seedIn(dir: string, args: Partial<SeedArgs>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const code = await runSeed({ ...DEFAULT_ARGS, proxyConf: 'mapproxy.yaml', ...args }, { out: (s) => void (out += s), err: (s) => void (err += s), tty: false });
    return { code, out, err };
  } finally {
    process.chdir(cwd);
  }
}

/** Simple mapproxy.yaml: one WMS source, cache `c` on GLOBAL_WEBMERCATOR with 4x4 meta tiles. */
export function basicConfig(extraCache = ''): string {
  return `
globals:
  cache:
    base_dir: ./cache_data
    lock_dir: ./cache_data/locks
sources:
  wms:
    type: wms
    req:
      url: @UPSTREAM@
      layers: base
caches:
  c:
    grids: [GLOBAL_WEBMERCATOR]
    sources: [wms]
    meta_size: [4, 4]
    meta_buffer: 0
${extraCache}
`;
}
