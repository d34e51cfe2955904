/**
 * How to start this very program again (for worker processes): the compiled
 * executable alone, `bun cli/main.ts` from source, `deno run -A dist/mapproxy.js`
 * for the bundle on Deno, `node script` on Node.
 */
import * as path from 'node:path';
import { runtimeName } from './runtime.ts';

/** Command and leading arguments that re-run the current program. */
export interface SelfCommand {
  cmd: string;
  args: string[];
}

/** The command line of the running program, minus its own arguments. */
export function selfCommand(): SelfCommand {
  const exec = process.execPath;
  const script = process.argv[1];
  const rt = runtimeName();
  if (rt === 'bun') {
    // a `bun build --compile` executable embeds its entry under a virtual root
    if (!script || script.startsWith('/$bunfs/') || /^[A-Za-z]:[\\/]~BUN[\\/]/.test(script)) return { cmd: exec, args: [] };
    return { cmd: exec, args: [...process.execArgv, path.resolve(script)] };
  }
  if (rt === 'deno') {
    // `deno compile` output is its own executable; plain deno needs `run` and permissions,
    // and --unstable-net for Deno.serve({ reusePort }) (workers sharing a port)
    if (!/^deno(\.exe)?$/i.test(path.basename(exec)) || !script) return { cmd: exec, args: [] };
    return { cmd: exec, args: ['run', '-A', '--unstable-net', /^[a-z]+:\/\//i.test(script) ? script : path.resolve(script)] };
  }
  return { cmd: exec, args: [...process.execArgv, path.resolve(script ?? '')] };
}
