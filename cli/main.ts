#!/usr/bin/env bun
/** The `mapproxy` command: one file per subcommand, each a thin shell over src/. */
import { Command } from 'commander';
import { VERSION } from '../src/version.ts';
import { registerServeDevelop } from './serve-develop.ts';
import { registerServeMultiappDevelop } from './serve-multiapp-develop.ts';
import { registerGrids } from './grids.ts';
import { registerServe } from './serve.ts';
import { registerCreate } from './create.ts';
import { registerSeed } from './seed.ts';

const program = new Command();
program.name('mapproxy').description('MapProxy-compatible tile cache and map proxy').version(VERSION, '-V, --version');
registerServeDevelop(program);
registerServeMultiappDevelop(program);
registerGrids(program);
registerServe(program);
registerCreate(program);
registerSeed(program);
program.parseAsync(process.argv).catch((e) => {
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
});
