/** `mapproxy cache-clean -f mapproxy.yaml CACHE [--max-age 30d | --before T | --all | --max-size 20G] ...` (alias clean-cache). */
import type { Command, CommanderError } from 'commander';
import type { CacheCleanCommand } from '../src/cache/cache-clean.ts';

/** Add the cache-clean subcommand. */
export function registerCacheClean(program: Command): void {
  program
    .command('cache-clean')
    .alias('clean-cache')
    .description('remove tiles of a file cache by age, all of them, or the least recently used until it fits a size')
    .argument('<cache>', 'the cache (name under caches:)')
    .option('-f, --mapproxy-conf <file>', 'mapproxy.yaml')
    .option('-g, --grid <name>', 'only the tiles of this grid (default: all grids of the cache)')
    .option('-l, --levels <levels>', 'only these levels: 0-10, 3,5,7 or 0-3,8')
    .option('--max-age <age>', 'remove tiles modified longer ago than this: 30d, 12h, 1w2d, 90m, 45s (a bare number is days)')
    .option('--before <time>', 'remove tiles modified before this ISO time (local unless Z or +hh:mm): 2026-01-01T00:00')
    .option('--all', 'remove every selected tile')
    .option('--max-size <size>', 'remove the least recently used tiles (by access time, else mtime) until the selected tiles use at most this much disk, as du counts it: 20G, 500M (binary units); with --max-age/--before those go first')
    .option('--coverage <bbox|file>', 'only tiles intersecting minx,miny,maxx,maxy or the geometries of a coverage file')
    .option('--coverage-srs <srs>', 'SRS of --coverage (default EPSG:4326)')
    .option('-n, --dry-run', 'report what would be removed, remove nothing')
    .addHelpText(
      'after',
      `
Tiles linked to single_color_tiles/ (link_single_color_images) count as tiles;
a single-colour file goes only when no tile links to it any more. Directories
left empty are removed. Exit codes: 0 done, 1 some files could not be removed,
2 bad input (nothing removed).

Examples:
  mapproxy cache-clean -f mapproxy.yaml osm_cache --max-age 30d
  mapproxy cache-clean -f mapproxy.yaml osm_cache --levels 15-19 --before 2026-01-01
  mapproxy cache-clean -f mapproxy.yaml osm_cache --max-size 20G --dry-run
  mapproxy clean-cache -f mapproxy.yaml geoserver_cache --all --coverage 5,50,10,55`,
    )
    // bad input exits with 2, as the option checks of the command itself do
    .exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (cache: string, opts: Omit<CacheCleanCommand, 'cache' | 'config'> & { mapproxyConf?: string }) => {
      const { mapproxyConf, ...rest } = opts;
      const { runCacheClean } = await import('../src/cache/cache-clean.ts');
      process.exitCode = await runCacheClean({ ...rest, cache, config: mapproxyConf });
    });
}
