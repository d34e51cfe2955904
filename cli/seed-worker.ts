/** `mapproxy seed-worker` (internal): one of the tile-creating processes of `mapproxy seed -c N`. */
import type { Command } from 'commander';

/** Add the hidden seed-worker subcommand. */
export function registerSeedWorker(program: Command): void {
  program
    .command('seed-worker', { hidden: true })
    .description('internal: create the meta tiles mapproxy seed sends on stdin')
    .requiredOption('-f, --proxy-conf <file>', 'mapproxy.yaml')
    .option('--upstream-requests <n>', 'upstream requests this worker may have open at once (0: no limit)', '0')
    .action(async (opts: { proxyConf: string; upstreamRequests: string }) => {
      const { runSeedWorker } = await import('../src/seed/seed-worker.ts');
      const n = Number(opts.upstreamRequests);
      process.exit(await runSeedWorker(opts.proxyConf, Number.isInteger(n) && n > 0 ? n : undefined));
    });
}
