/** `mapproxy serve-multiapp CONFIG_DIR [-b ADDR]... [-w N] [--allow-listing] ...`: MapProxy's multiapp on the production server. */
import type { Command } from 'commander';
import { runServe } from '../src/server/serve.ts';
import { addServeOptions, parseServeFlags, type ServeFlags } from './serve.ts';

/** Add the serve-multiapp subcommand (the flags of serve, plus --allow-listing). */
export function registerServeMultiapp(program: Command): void {
  addServeOptions(
    program
      .command('serve-multiapp')
      .description('production server for a directory of configs: CONFIG_DIR/NAME.yaml at /NAME/, loaded on first use; N worker processes, SIGHUP reloads, SIGTERM drains')
      .argument('<config_dir>', 'directory with NAME.yaml files'),
  )
    .option('--allow-listing', 'list all configurations at /')
    .action(async (dir: string, flags: ServeFlags & { allowListing?: boolean }) => {
      const opts = parseServeFlags(flags);
      process.exit(await runServe({ config: dir, ...opts, multiapp: { allowListing: flags.allowListing === true } }));
    });
}
