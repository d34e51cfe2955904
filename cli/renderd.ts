/** `mapproxy renderd -f mapproxy.yaml [--bind HOST:PORT]`: create tiles for MapProxy's `globals.renderd.address`. */
import type { Command, CommanderError } from 'commander';
import { DEFAULT_RENDERD_BIND } from '../src/server/serve-options.ts';

/** Add the renderd subcommand. */
export function registerRenderd(program: Command): void {
  program
    .command('renderd')
    .description("act as MapProxy's renderd: create tiles on request of MapProxy (or mapproxy-ts) configured with globals.renderd.address")
    .requiredOption('-f, --mapproxy-conf <file>', 'mapproxy.yaml (the same file, or the same caches, as the MapProxy that asks)')
    .option('-b, --bind <address>', '[HOST:]PORT to listen on', DEFAULT_RENDERD_BIND)
    .exitOverride((err: CommanderError) => process.exit(err.exitCode === 0 ? 0 : 2))
    .action(async (opts: { mapproxyConf: string; bind: string }) => {
      const { runRenderd } = await import('../src/render/renderd.ts');
      const code = await runRenderd({ config: opts.mapproxyConf, bind: opts.bind });
      if (code !== 0) process.exit(code);
    });
}
