/** `mapproxy serve-multiapp-develop CONFIG_DIR [-b [HOST:]PORT] [--allow-listing]` */
import type { Command } from 'commander';

/** Add the serve-multiapp-develop subcommand. */
export function registerServeMultiappDevelop(program: Command): void {
  program
    .command('serve-multiapp-develop')
    .description('development server for a directory of configs: CONFIG_DIR/NAME.yaml at /NAME/, loaded on first use, reloaded on change')
    .argument('<config_dir>', 'directory with NAME.yaml files')
    .option('-b, --bind <address>', '[HOST:]PORT to listen on', 'localhost:8080')
    .option('--allow-listing', 'list all configurations at /')
    .option('--debug', 'log debug messages')
    .option('--trusted-proxies <list>', "peers whose X-Forwarded-*, X-Script-Name and Forwarded headers count: IPs, CIDR ranges, 'unix', '*' (default: loopback)")
    .action(async (dir: string, opts: { bind: string; allowListing?: boolean; debug?: boolean; trustedProxies?: string }) => {
      const { runServeMultiappDevelop } = await import('../src/server/serve-develop.ts');
      process.exitCode = await runServeMultiappDevelop({ dir, bind: opts.bind, debug: opts.debug === true, allowListing: opts.allowListing === true, trustedProxies: opts.trustedProxies });
    });
}
