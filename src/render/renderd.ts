/**
 * The renderd side of MapProxy's renderd protocol (see remote.ts): MapProxy
 * 1.15 (or another mapproxy-ts) configured with `globals.renderd.address`
 * POSTs `{"command": "tile", "id", "tiles": [[x, y, z]], "cache_identifier",
 * "priority"}`; we create the meta tiles of those tiles in the shared cache
 * through the cache's tile manager (render queue, meta-tile locks and all)
 * and answer `{"status": "ok"}`, `{"status": "lock", ...}` or
 * `{"status": "error", "error_message": ...}`. The client then reads the
 * tiles from the cache itself.
 */
import { ConfigError, SourceError } from '../errors.ts';
import type { TileCoord } from '../grid/tile-grid.ts';
import { loadConfig } from '../config/loader.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import { listenHttp, type Listener } from '../runtime/listen.ts';
import { DEFAULT_RENDERD_BIND, parseBind } from '../server/serve-options.ts';
import { TileManager } from '../cache/tile-manager.ts';
import { LockTimeoutError } from '../cache/tile-lock.ts';
import { getLogger } from '../log/logger.ts';
import { RenderCancelled, type RenderPriority } from './queue.ts';

const log = getLogger('mapproxy.renderd');

/** Largest request body accepted (MapProxy sends one tile per request: ~200 bytes). */
export const MAX_BODY_BYTES = 1024 * 1024;

/** Tiles accepted in one request. */
const MAX_TILES = 4096;

/** The protocol's answers. */
type Answer = { status: 'ok' } | { status: 'error' | 'lock'; error_message: string };

/** MapProxy's numeric priority (100 on demand, 10 seeding) as a render queue priority. */
export function renderPriority(priority: number): RenderPriority {
  if (priority >= 80) return 'ondemand';
  if (priority >= 40) return 'refresh';
  if (priority >= 8) return 'seed';
  return 'prefetch';
}

/** An HTTP handler that acts as MapProxy's renderd for the caches of `proxy`. */
export function renderdHandler(proxy: Proxy): (req: Request) => Promise<Response> {
  const managers = renderdManagers(proxy);
  /** message id -> the creation answering it (and what it was asked, so a reused id with other tiles is not merged) */
  const inflight = new Map<string, { what: string; answer: Promise<Answer> }>();

  async function tileCommand(msg: Record<string, unknown>): Promise<Answer> {
    const cacheId = msg.cache_identifier;
    if (typeof cacheId !== 'string') return error("missing 'cache_identifier'");
    const tm = managers.get(cacheId);
    if (!tm) return error(`unknown cache_identifier '${cacheId}'`);
    if (tm.opts.disableStorage) return error(`cache '${cacheId}' has disable_storage: renderd cannot create tiles for it`);
    if (!tm.opts.sources.length) return error(`cache '${cacheId}' has no sources to create tiles from`);
    const coords = parseTiles(msg.tiles, tm);
    if (typeof coords === 'string') return error(coords);
    let priority: RenderPriority = 'ondemand';
    if (msg.priority !== undefined) {
      if (typeof msg.priority !== 'number' || !Number.isFinite(msg.priority)) return error(`invalid priority ${JSON.stringify(msg.priority)}: expected a number`);
      priority = renderPriority(msg.priority);
    }

    const id = typeof msg.id === 'string' && msg.id ? msg.id : undefined;
    const what = `${cacheId}\u0000${JSON.stringify(coords)}`;
    const have = id !== undefined ? inflight.get(id) : undefined;
    if (have && have.what === what) return have.answer;
    const answer = create(tm, cacheId, coords, priority);
    if (id !== undefined && !have) {
      inflight.set(id, { what, answer });
      void answer.finally(() => {
        if (inflight.get(id)?.answer === answer) inflight.delete(id);
      });
    }
    return answer;
  }

  return async (req) => {
    if (req.method !== 'POST') return json({ status: 'error', error_message: `method ${req.method} not allowed: renderd takes POST with a JSON body` }, 405, { Allow: 'POST' });
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) return json({ status: 'error', error_message: `request body larger than ${MAX_BODY_BYTES} bytes` }, 413);
    let msg: unknown;
    try {
      msg = JSON.parse(body);
    } catch {
      return json({ status: 'error', error_message: 'request body is not valid JSON' }, 400);
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return json({ status: 'error', error_message: 'request body must be a JSON object' }, 400);
    const m = msg as Record<string, unknown>;
    if (m.command !== 'tile') return json(error(`unknown command ${JSON.stringify(m.command ?? null)}: only 'tile' is supported`));
    return json(await tileCommand(m));
  };
}

/**
 * Tile managers by MapProxy's cache identifier `<cache>_<grid>`. Cache names
 * may contain '_', so the full strings are the keys, never a split. A
 * manager set up to delegate to a renderd itself gets a local twin: the
 * shared mapproxy.yaml of a MapProxy + renderd setup names the renderd's own
 * address, and MapProxy's renderd ignores that setting too.
 */
function renderdManagers(proxy: Proxy): Map<string, TileManager> {
  const out = new Map<string, TileManager>();
  for (const [cacheName, grids] of proxy.caches) {
    for (const [gridName, tm] of grids) {
      const local = tm.opts.remote ? new TileManager({ ...tm.opts, remote: undefined }) : tm;
      const ids = [tm.opts.renderdId, `${cacheName}_${gridName}`, tm.grid.name !== undefined ? `${cacheName}_${tm.grid.name}` : undefined];
      for (const id of ids) if (id !== undefined && !out.has(id)) out.set(id, local);
    }
  }
  return out;
}

/** The tiles of a message, or why they are not acceptable. */
function parseTiles(tiles: unknown, tm: TileManager): TileCoord[] | string {
  if (!Array.isArray(tiles) || tiles.length === 0) return "'tiles' must be a non-empty list of [x, y, z]";
  if (tiles.length > MAX_TILES) return `too many tiles in one request (${tiles.length}, at most ${MAX_TILES})`;
  const out: TileCoord[] = [];
  for (const t of tiles) {
    const ok = Array.isArray(t) && t.length === 3 && t.every((v) => Number.isSafeInteger(v) && v >= 0);
    if (!ok) return `invalid tile ${JSON.stringify(t)}: expected [x, y, z] of non-negative integers`;
    const coord: TileCoord = [t[0], t[1], t[2]];
    if (!tm.grid.isValidTile(coord)) return `tile ${JSON.stringify(coord)} is outside the grid of the cache`;
    out.push(coord);
  }
  return out;
}

/** Creates the meta tiles of coords; every failure becomes an answer, never a thrown error or a stack. */
async function create(tm: TileManager, cacheId: string, coords: TileCoord[], priority: RenderPriority): Promise<Answer> {
  const started = performance.now();
  try {
    await tm.getTiles(coords, { priority });
    log.debug(`${cacheId} ${JSON.stringify(coords)} ${priority}: created in ${Math.round(performance.now() - started)} ms`);
    return { status: 'ok' };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof LockTimeoutError || e instanceof RenderCancelled) {
      log.warn(`${cacheId} ${JSON.stringify(coords)}: ${message}`);
      return { status: 'lock', error_message: message };
    }
    if (e instanceof SourceError) log.warn(`${cacheId} ${JSON.stringify(coords)}: ${message}`);
    else log.error(`${cacheId} ${JSON.stringify(coords)}: ${e instanceof Error ? (e.stack ?? message) : message}`);
    return { status: 'error', error_message: message || 'unknown error' };
  }
}

/** The body as text, or undefined when it is longer than max bytes (read no further than that). */
async function readBody(req: Request, max: number): Promise<string | undefined> {
  const declared = Number(req.headers.get('content-length') ?? NaN);
  if (declared > max) return undefined;
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function error(message: string): Answer {
  return { status: 'error', error_message: message };
}

function json(answer: Answer, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(answer), { status, headers: { 'Content-Type': 'application/json', ...headers } });
}

/** Seconds in-flight creations get to finish after SIGINT/SIGTERM before connections are cut. */
const DRAIN_SECONDS = 30;

/**
 * `mapproxy renderd -f mapproxy.yaml [--bind HOST:PORT]`: serve renderdHandler
 * until SIGINT/SIGTERM. Returns the exit code: 2 for a config or bind
 * problem; otherwise it runs until a signal and then exits the process itself.
 */
export async function runRenderd(opts: { config: string; bind?: string }): Promise<number> {
  let proxy: Proxy;
  let bind: { hostname: string; port: number };
  try {
    bind = parseBind(opts.bind ?? DEFAULT_RENDERD_BIND);
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return 2;
  }
  try {
    const loaded = loadConfig(opts.config);
    for (const w of loaded.warnings) log.warn(String(w));
    // no seed context: MapProxy's renderd loads the config with renderd=True, seed=False (seed_only sources stay dummies)
    proxy = buildProxy(loaded);
  } catch (e) {
    if (e instanceof ConfigError || (e as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`error: ${(e as Error).message}`);
      return 2;
    }
    throw e;
  }
  const handler = renderdHandler(proxy);
  let listener: Listener;
  try {
    listener = await listenHttp(
      { kind: 'tcp', hostname: bind.hostname, port: bind.port },
      {
        // a creation may take longer than any idle timeout: never cut a connection with a request in progress
        fetch: (req, peer) => {
          peer.timeout(0);
          return handler(req);
        },
        idleTimeout: 60,
        reusePort: false,
      },
    );
  } catch (e) {
    console.error(`error: cannot listen on ${bind.hostname}:${bind.port}: ${(e as Error).message}`);
    return 2;
  }
  const url = `http://${bind.hostname.includes(':') ? `[${bind.hostname}]` : bind.hostname}:${listener.port}/`;
  console.log(`mapproxy renderd: renderd listening at ${url} for ${opts.config}`);

  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${sig}: stopping renderd, waiting up to ${DRAIN_SECONDS} s for tiles in progress`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      listener.stop(false).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), DRAIN_SECONDS * 1000))),
    ]);
    clearTimeout(timer);
    if (!drained) await listener.stop(true);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
  return 0;
}
