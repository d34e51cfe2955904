/** `mapproxy create -t TEMPLATE [DEST] [-f mapproxy.yaml] [--force]`, like `mapproxy-util create`. */
import type { Command } from 'commander';
import { listTemplates, runCreate, type CreateOptions } from '../src/create/create.ts';

/** Add the create subcommand. */
export function registerCreate(program: Command): void {
  program
    .command('create')
    .description('write example configurations and deployment files (mapproxy.yaml, server script, log.ini, systemd unit, nginx/Caddy sites)')
    .argument('[dest]', "where to write: a directory for base-config, else a file ('-' prints it)")
    .option('-t, --template <name>', 'the template (see -l)')
    .option('-l, --list-templates', 'list the templates')
    .option('-f, --mapproxy-conf <file>', 'the mapproxy.yaml (wsgi-app, systemd)')
    .option('--force', 'overwrite existing files')
    .option('--lib <path>', 'wsgi-app: where server.ts imports makeApp from (mapproxy-lib.js)')
    .option('--user <name>', 'systemd: the user to run as (mapproxy)')
    .option('--config <file>', 'systemd: the mapproxy.yaml (/etc/mapproxy/mapproxy.yaml)')
    .option('--cache-dir <dir>', 'systemd: the writable cache directory (/var/cache/mapproxy)')
    .option('--bin <path>', 'systemd: the mapproxy executable (/usr/local/bin/mapproxy)')
    .option('--bind <address>', 'systemd: unix:PATH or [HOST:]PORT (unix:/run/mapproxy/mapproxy.sock)')
    .option('--workers <n>', 'systemd: worker processes (4)')
    .option('--log-dir <dir>', 'systemd, log-ini: directory of the log files (/var/log/mapproxy; log-ini: beside log.ini)')
    .option('--log-config <file>', 'systemd: pass --log-config FILE to mapproxy serve')
    .option('--upstream <address>', 'nginx, caddy: where mapproxy listens (unix:/run/mapproxy/mapproxy.sock)')
    .option('--path <path>', 'nginx, caddy: URL path to publish under (/mapproxy)')
    .option('--server-name <host>', 'nginx, caddy: the site name (example.org)')
    .addHelpText('after', `\n${listTemplates()}`)
    .action((dest: string | undefined, opts: Omit<CreateOptions, 'dest'>) => {
      process.exitCode = runCreate({ ...opts, dest });
    });
}
