/** `mapproxy serve-develop [CONFIG] [-b [HOST:]PORT] [--debug]` */
import type { Command } from 'commander';

/** Add the serve-develop subcommand. */
export function registerServeDevelop(program: Command): void {
  program
    .command('serve-develop')
    .description('development server: reloads on config changes; without CONFIG a built-in demo (no network needed)')
    .argument('[config]', 'mapproxy.yaml')
    .option('-b, --bind <address>', '[HOST:]PORT to listen on', 'localhost:8080')
    .option('--debug', 'log debug messages')
    .option('--admin-bind <address>', '[HOST:]PORT for the seeding API (services.admin) instead of the main address; no token needed there')
    .option('--trusted-proxies <list>', "peers whose X-Forwarded-*, X-Script-Name and Forwarded headers count: IPs, CIDR ranges, 'unix', '*' (default: loopback)")
    .action(async (config: string | undefined, opts: { bind: string; debug?: boolean; trustedProxies?: string; adminBind?: string }) => {
      const { runServeDevelop } = await import('../src/server/serve-develop.ts');
      process.exitCode = await runServeDevelop({ config, bind: opts.bind, debug: opts.debug === true, trustedProxies: opts.trustedProxies, adminBind: opts.adminBind });
    });
}
