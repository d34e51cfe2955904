/** `mapproxy cache-stats -f mapproxy.yaml [CACHE] [--grid G] [--json]`: tiles and bytes per level of file caches. */
import type { Command, CommanderError } from 'commander';

/** Add the cache-stats subcommand. */
export function registerCacheStats(program: Command): void {
  program
    .command('cache-stats')
    .description('tiles, bytes, oldest and newest tile per level of file caches')
    .argument('[cache]', 'only this cache (default: all)')
    .option('-f, --mapproxy-conf <file>', 'mapproxy.yaml')
    .option('-g, --grid <name>', 'only this grid')
    .option('--json', 'print JSON (times in seconds since the epoch) for monitoring')
    .exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (cache: string | undefined, opts: { mapproxyConf?: string; grid?: string; json?: boolean }) => {
      const { runCacheStats } = await import('../src/cache/cache-stats.ts');
      process.exitCode = runCacheStats({ config: opts.mapproxyConf, cache, grid: opts.grid, json: opts.json === true });
    });
}
