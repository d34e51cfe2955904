/** `mapproxy grids -f mapproxy.yaml [-g NAME] [--all]`, like `mapproxy-util grids`. */
import type { Command } from 'commander';
import { runGrids } from '../src/core/grids-report.ts';

/** Add the grids subcommand. */
export function registerGrids(program: Command): void {
  program
    .command('grids')
    .description('show the tile grids of a configuration (resolutions, scales, tiles per level)')
    .argument('[config]', 'mapproxy.yaml')
    .option('-f, --mapproxy-conf <file>', 'mapproxy.yaml')
    .option('-g, --grid <name>', 'only this grid')
    .option('--all', 'also grids no cache uses')
    .action((config: string | undefined, opts: { mapproxyConf?: string; grid?: string; all?: boolean }) => {
      process.exitCode = runGrids({ config: opts.mapproxyConf ?? config, grid: opts.grid, all: opts.all === true });
    });
}
