#!/usr/bin/env bun
/**
 * Test-only entry: the cache-clean and cache-stats subcommands on a commander
 * program of their own, as cli/main.ts registers them (tests run it as a subprocess).
 */
import { Command } from 'commander';
import { registerCacheClean } from '../../cli/cache-clean.ts';
import { registerCacheStats } from '../../cli/cache-stats.ts';

const program = new Command();
program.name('mapproxy');
registerCacheClean(program);
registerCacheStats(program);
program.parseAsync(process.argv).catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
});
