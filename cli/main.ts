#!/usr/bin/env bun
/** The `mapproxy` command: one file per subcommand, each a thin shell over src/. */
import { Command } from 'commander';
import { VERSION } from '../src/version.ts';
import { registerServeDevelop } from './serve-develop.ts';
import { registerServeMultiappDevelop } from './serve-multiapp-develop.ts';
import { registerGrids } from './grids.ts';
import { registerServe } from './serve.ts';
import { registerServeMultiapp } from './serve-multiapp.ts';
import { registerCreate } from './create.ts';
import { registerSeed } from './seed.ts';
import { registerCacheClean } from './cache-clean.ts';
import { registerCacheStats } from './cache-stats.ts';
import { registerRenderd } from './renderd.ts';
import { registerJobRun } from './job-run.ts';
import { registerSeedWorker } from './seed-worker.ts';

const program = new Command();
program.name('mapproxy').description('MapProxy-compatible tile cache and map proxy').version(VERSION, '-V, --version');
registerServeDevelop(program);
registerServeMultiappDevelop(program);
registerGrids(program);
registerServe(program);
registerServeMultiapp(program);
registerCreate(program);
registerSeed(program);
registerCacheClean(program);
registerCacheStats(program);
registerRenderd(program);
registerJobRun(program);
registerSeedWorker(program);
// `mapproxy -f mapproxy.yaml clean-cache osm_cache` (mapproxy-util's order, used in the LXC runbook): -f goes after the subcommand
const argv = [...process.argv];
if ((argv[2] === '-f' || argv[2] === '--mapproxy-conf' || argv[2] === '--proxy-conf') && argv.length > 4 && !argv[4].startsWith('-')) argv.splice(3, 0, ...argv.splice(2, 2).map((v, i) => (i === 0 ? '-f' : v)));
program.parseAsync(argv).catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
});
