/**
 * `mapproxy seed-worker` (internal): one of the processes of `mapproxy seed
 * -c N` (see seed-processes.ts). It loads the config as the seed does (seed_only
 * sources in use), creates the meta tiles it is sent on stdin and answers each
 * on stdout. When stdin closes it finishes what it has and exits; Ctrl-C is
 * the seed's to handle.
 */
import * as readline from 'node:readline';
import type { TileManager } from '../cache/tile-manager.ts';
import { loadConfig } from '../config/loader.ts';
import { buildProxy, type Proxy } from '../core/build-proxy.ts';
import type { TileCoord } from '../grid/tile-grid.ts';
import { getLogger, setLogLevel } from '../log/logger.ts';
import { retryable, seedManager } from './seeder.ts';

const log = getLogger('mapproxy.seed');

interface Message {
  id: number;
  cache: string;
  grid: string;
  refresh: number | null;
  coords: TileCoord[];
}

/**
 * Serves the seed on stdin/stdout until stdin closes; resolves with the exit
 * code. upstreamRequests: this worker's share of the seed's -c, the upstream
 * requests it may have open at once while it holds more meta tiles than that.
 */
export async function runSeedWorker(config: string, upstreamRequests?: number): Promise<number> {
  // as mapproxy seed: no line per upstream request
  setLogLevel('mapproxy', 'warning');
  process.on('SIGINT', () => {});
  let proxy: Proxy;
  try {
    proxy = buildProxy(loadConfig(config), { seeding: true, upstreamRequests });
  } catch (e) {
    log.error(`seed worker: cannot load ${config}: ${(e as Error).message}`);
    return 2;
  }
  const managers = new Map<string, TileManager>();
  const managerFor = (m: Message): TileManager => {
    const key = `${m.cache}\u0000${m.grid}\u0000${m.refresh}`;
    let tm = managers.get(key);
    if (!tm) {
      const base = proxy.caches.get(m.cache)?.get(m.grid);
      if (!base) throw new Error(`unknown cache '${m.cache}' or grid '${m.grid}'`);
      tm = seedManager(base, m.refresh ?? undefined).tm;
      managers.set(key, tm);
    }
    return tm;
  };
  const answer = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const running = new Set<Promise<void>>();
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (!line.trim()) continue;
    let m: Message;
    try {
      m = JSON.parse(line) as Message;
    } catch {
      log.error(`seed worker: unreadable message: ${line.slice(0, 200)}`);
      continue;
    }
    const job = (async () => {
      try {
        await managerFor(m).getTiles(m.coords);
        answer({ id: m.id, ok: true });
      } catch (e) {
        answer({ id: m.id, ok: false, error: (e as Error).message, retryable: retryable(e) });
      }
    })();
    running.add(job);
    void job.finally(() => running.delete(job));
  }
  await Promise.all(running);
  return 0;
}
