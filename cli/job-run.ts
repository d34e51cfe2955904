/** `mapproxy job-run` (internal): one seeding job of `mapproxy serve`'s job runner, in its own process. */
import type { Command } from 'commander';

/** Add the hidden job-run subcommand. */
export function registerJobRun(program: Command): void {
  program
    .command('job-run', { hidden: true })
    .description('internal: run one job of the seeding API (started by mapproxy serve)')
    .requiredOption('--config <file>', 'mapproxy.yaml')
    .requiredOption('--jobs-dir <dir>', 'the jobs directory')
    .requiredOption('--id <id>', 'the job id')
    .action(async (opts: { config: string; jobsDir: string; id: string }) => {
      const { runJobProcess } = await import('../src/render/job-process.ts');
      process.exit(await runJobProcess(opts));
    });
}
