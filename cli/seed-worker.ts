/** `mapproxy seed-worker` (internal): one of the tile-creating processes of `mapproxy seed -c N`. */
import type { Command } from 'commander';

/** Add the hidden seed-worker subcommand. */
export function registerSeedWorker(program: Command): void {
  program
    .command('seed-worker', { hidden: true })
    .description('internal: create the meta tiles mapproxy seed sends on stdin')
    .requiredOption('-f, --proxy-conf <file>', 'mapproxy.yaml')
    .action(async (opts: { proxyConf: string }) => {
      const { runSeedWorker } = await import('../src/seed/seed-worker.ts');
      process.exit(await runSeedWorker(opts.proxyConf));
    });
}
