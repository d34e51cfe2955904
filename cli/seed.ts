/** `mapproxy seed -f mapproxy.yaml -s seed.yaml`, and the quick form `mapproxy seed -f mapproxy.yaml --cache C --levels 0-10 --bbox ...`. */
import type { Command } from 'commander';
import { setLogLevel } from '../src/log/logger.ts';
import type { SeedArgs } from '../src/seed/run-seed.ts';
import { parseDuration, SeedUsageError } from '../src/seed/usage.ts';
import { defaultWorkers } from '../src/server/serve-options.ts';

interface SeedFlags {
  proxyConf?: string;
  seedConf?: string;
  concurrency: string;
  dryRun?: boolean;
  summary?: boolean;
  quiet: number;
  interactive?: boolean;
  seed?: string[];
  cleanup?: (string | true)[];
  skipUncached?: boolean;
  skipGeomsForLastLevels: string;
  useCacheLock?: boolean;
  continue?: boolean;
  progressFile?: string;
  duration?: string;
  reseedFile?: string;
  reseedInterval?: string;
  logConfig?: string;
  maxRetries: string;
  retryDelay: string;
  maxRate: string;
  maxFailures: string;
  cache?: string;
  grid?: string[];
  levels?: string;
  bbox?: string;
  bboxSrs?: string;
  coverageFile?: string;
  coverageSrs?: string;
  refreshBefore?: string;
  removeBefore?: string;
  removeAll?: boolean;
  processes?: string;
  server?: string;
  token?: string;
  wait?: boolean;
}

const collect = (v: string, acc: string[] = []) => [...acc, v];

function num(flag: string, v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new SeedUsageError(`${flag}: expected a number, got '${v}'`);
  return n;
}

/** Flags -> SeedArgs; `-c NAME` (not a number) is the cache of the quick form, as in cron lines written for `mapproxy-seed -c osm_cache`. */
export function seedArgs(config: string | undefined, f: SeedFlags): SeedArgs {
  let cache = f.cache;
  let concurrency = f.concurrency;
  if (!/^\s*\d+\s*$/.test(concurrency)) {
    if (cache !== undefined) throw new SeedUsageError(`-c/--concurrency: expected a number, got '${concurrency}'`);
    cache = concurrency;
    concurrency = '2';
  }
  const cleanups = f.cleanup?.filter((v): v is string => typeof v === 'string');
  return {
    proxyConf: f.proxyConf,
    seedConf: f.seedConf ?? config,
    concurrency: num('--concurrency', concurrency),
    dryRun: f.dryRun === true,
    summary: f.summary === true,
    quiet: f.quiet,
    interactive: f.interactive === true,
    seedNames: f.seed,
    cleanupNames: f.cleanup ? cleanups : undefined,
    skipUncached: f.skipUncached === true,
    skipGeomsForLastLevels: num('--skip-geoms-for-last-levels', f.skipGeomsForLastLevels),
    useCacheLock: f.useCacheLock === true,
    continueSeed: f.continue === true,
    progressFile: f.progressFile,
    duration: f.duration !== undefined ? parseDuration(f.duration, '--duration') : undefined,
    reseedFile: f.reseedFile,
    reseedInterval: f.reseedInterval !== undefined ? parseDuration(f.reseedInterval, '--reseed-interval') : undefined,
    logConfig: f.logConfig,
    maxRetries: num('--max-retries', f.maxRetries),
    retryDelay: num('--retry-delay', f.retryDelay),
    maxRate: num('--max-rate', f.maxRate),
    maxFailures: num('--max-failures', f.maxFailures),
    cache,
    grids: f.grid,
    levels: f.levels,
    bbox: f.bbox,
    bboxSrs: f.bboxSrs,
    coverageFile: f.coverageFile,
    coverageSrs: f.coverageSrs,
    refreshBefore: f.refreshBefore,
    removeBefore: f.removeBefore,
    removeAll: f.removeAll === true,
  };
}

/** Add the seed subcommand. */
export function registerSeed(program: Command): void {
  program
    .command('seed')
    .description('pre-generate (seed) and clean up caches, as mapproxy-seed: with a seed.yaml (-s) or for one cache (--cache)')
    .argument('[seed_conf]', 'seed.yaml (same as -s)')
    .option('-f, --proxy-conf <file>', 'mapproxy.yaml')
    .option('-s, --seed-conf <file>', 'seed.yaml with seeds, cleanups and coverages')
    .option('-c, --concurrency <n>', 'meta tiles made at the same time (a non-number is taken as --cache)', '2')
    .option('-n, --dry-run', 'do not seed or remove, only count and print')
    .option('--summary', 'print the tasks and exit')
    .option('-q, --quiet', 'less output; twice: no progress at all', (_v: string, prev: number) => prev + 1, 0)
    .option('-i, --interactive', 'ask for each task whether to run it')
    .option('--seed <tasks>', 'only these seed tasks (comma separated, ALL for all); cleanups only with --cleanup', collect)
    .option('--cleanup [tasks]', 'only these cleanup tasks (comma separated, ALL for all); seeds only with --seed. Without a seed.yaml: clean up --cache instead of seeding it', collect)
    .option('--skip-uncached', 'only refresh tiles that are already cached (with refresh_before)')
    .option('-l, --skip-geoms-for-last-levels <n>', 'no coverage tests on the last N levels', '0')
    .option('--use-cache-lock', 'lock each cache against other seed runs (.mapproxy_seed.lck)')
    .option('--continue', 'continue an interrupted run from the progress file')
    .option('--progress-file <file>', 'where the progress is kept (default .mapproxy_seed_progress)')
    .option('--duration <time>', 'stop after this long (120s, 15m, 4h, 0.5d); --continue goes on later')
    .option('--reseed-file <file>', 'marks the start of the last complete re-seed')
    .option('--reseed-interval <time>', 'only seed when --reseed-file is older than this')
    .option('--log-config <file>', "MapProxy log.ini (Python logging's format)")
    .option('--max-retries <n>', 'retries of a failing meta tile before it is reported as failed', '5')
    .option('--retry-delay <seconds>', 'first wait before a retry, doubled each time (at most 60 s)', '2')
    .option('--max-rate <n>', 'at most N requests per second to each source (0: no limit)', '0')
    .option('--max-failures <n>', 'stop after N meta tiles in a row failed (0: never)', '10')
    .option('--cache <name>', 'without a seed.yaml: the cache to seed (or clean up with --cleanup)')
    .option('--grid <name>', 'with --cache: only this grid (repeatable; default all grids of the cache)', collect)
    .option('--levels <levels>', 'with --cache: levels, e.g. 0-10 or 3,5,7 (default all)')
    .option('--bbox <minx,miny,maxx,maxy>', 'with --cache: only this area')
    .option('--bbox-srs <srs>', 'SRS of --bbox (default EPSG:4326)')
    .option('--coverage-file <file>', 'with --cache: only the area of this GeoJSON or WKT file')
    .option('--coverage-srs <srs>', 'SRS of --coverage-file (default EPSG:4326)')
    .option('--refresh-before <time>', 'with --cache: also remake tiles older than this (7d, 12h, or 2026-01-01T00:00)')
    .option('--remove-before <time>', 'with --cache --cleanup: remove tiles older than this (default: the start of the run)')
    .option('--remove-all', 'with --cache --cleanup: remove all tiles in the levels and area')
    .option('--processes <n>', 'processes that create the tiles (default: -c, at most one per CPU core; never more than -c; 0: all in the seed process)')
    .option('--server <url>', 'submit the job to a running mapproxy serve (services.admin) instead of seeding here')
    .option('--token <token>', 'with --server: the admin token (default $MAPPROXY_ADMIN_TOKEN)')
    .option('--wait', 'with --server: follow the job until it ends (exit 0 done, 3 failed or cancelled)')
    .action(async (config: string | undefined, flags: SeedFlags) => {
      let args: SeedArgs;
      try {
        args = seedArgs(config, flags);
      } catch (e) {
        console.error(`error: ${(e as Error).message}`);
        process.exit(e instanceof SeedUsageError ? e.code : 2);
      }
      const { processIo, runSeed } = await import('../src/seed/run-seed.ts');
      if (flags.server !== undefined) {
        const { submitSeed } = await import('../src/seed/submit.ts');
        process.exit(await submitSeed({ ...args, server: flags.server, token: flags.token, wait: flags.wait === true }, processIo()));
      }
      // as mapproxy-seed: only warnings from the library unless --log-config says otherwise
      if (!args.logConfig) setLogLevel('mapproxy', 'warning');
      // as mapproxy-seed -c N: N processes (here at most one per core) make the tiles
      try {
        args.processes = flags.processes !== undefined ? num('--processes', flags.processes) : Math.min(args.concurrency, defaultWorkers());
      } catch (e) {
        console.error(`error: ${(e as Error).message}`);
        process.exit(1);
      }
      const code = await runSeed(args, processIo());
      process.exit(code);
    });
}
