/** `mapproxy grids -f mapproxy.yaml [-g NAME] [--all] [-l] [-s seed.yaml -c COVERAGE]`, like `mapproxy-util grids`. */
import type { Command } from 'commander';

/** Add the grids subcommand. */
export function registerGrids(program: Command): void {
  program
    .command('grids')
    .description('show the tile grids of a configuration (resolutions, scales, tiles per level)')
    .argument('[config]', 'mapproxy.yaml')
    .option('-f, --mapproxy-conf <file>', 'mapproxy.yaml')
    .option('-g, --grid <name>', 'only this grid')
    .option('--all', 'also grids no cache uses')
    .option('-l, --list', 'only the names of the grids caches use')
    .option('-s, --seed-conf <file>', 'seed.yaml with the coverage of -c')
    .option('-c, --coverage-name <name>', 'also count the tiles within this coverage of the seed.yaml')
    .action(async (config: string | undefined, opts: { mapproxyConf?: string; grid?: string; all?: boolean; list?: boolean; seedConf?: string; coverageName?: string }) => {
      const { runGrids } = await import('../src/core/grids-report.ts');
      process.exitCode = await runGrids({ config: opts.mapproxyConf ?? config, grid: opts.grid, all: opts.all === true, list: opts.list === true, seedConf: opts.seedConf, coverage: opts.coverageName });
    });
}
