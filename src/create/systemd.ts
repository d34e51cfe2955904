/** `mapproxy create -t systemd`: a sandboxed systemd unit for `mapproxy serve` on a UNIX socket. */
import * as path from 'node:path';

/** What the unit needs to know; every path absolute. */
export interface SystemdOptions {
  user: string;
  config: string;
  cacheDir: string;
  bin: string;
  /** `mapproxy serve --bind` value: unix:PATH or [HOST:]PORT. */
  bind: string;
  workers: number;
  logDir: string;
  logConfig?: string;
}

/** Defaults for a Debian-style install. */
export const SYSTEMD_DEFAULTS: SystemdOptions = {
  user: 'mapproxy',
  config: '/etc/mapproxy/mapproxy.yaml',
  cacheDir: '/var/cache/mapproxy',
  bin: '/usr/local/bin/mapproxy',
  bind: 'unix:/run/mapproxy/mapproxy.sock',
  workers: 4,
  logDir: '/var/log/mapproxy',
};

// systemd expands %specifiers and $VARIABLES and splits at blanks: such paths would need escaping that is easy to get wrong
const SAFE_PATH = /^\/[^\s%$"'\\;]*$/;

/** Check the options; a message for the first one a unit file cannot carry as it is. */
export function checkSystemdOptions(o: SystemdOptions): string | undefined {
  const paths: [string, string | undefined][] = [
    ['--config', o.config],
    ['--cache-dir', o.cacheDir],
    ['--bin', o.bin],
    ['--log-dir', o.logDir],
    ['--log-config', o.logConfig],
  ];
  if (o.bind.startsWith('unix:')) paths.push(['--bind', o.bind.slice(5)]);
  for (const [flag, p] of paths) {
    if (p !== undefined && !SAFE_PATH.test(p)) return `${flag} '${p}': needs an absolute path without blanks, quotes, '%', '$', ';' or '\\'`;
  }
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(o.user)) return `--user '${o.user}': not a valid system user name`;
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > 256) return `--workers '${o.workers}': expected a number from 1 to 256`;
  if (!o.bind.startsWith('unix:') && !/^(?:\[?[^\]\s]*\]?:)?\d{1,5}$/.test(o.bind)) return `--bind '${o.bind}': expected unix:PATH or [HOST:]PORT`;
  return undefined;
}

/** The unit file text. */
export function renderSystemdUnit(o: SystemdOptions): string {
  const socketDir = o.bind.startsWith('unix:') ? path.dirname(o.bind.slice(5)) : undefined;
  const runtimeDir = '/run/mapproxy';
  const writable = [o.cacheDir];
  if (socketDir && socketDir !== runtimeDir) writable.push(socketDir);
  if (!o.logDir.startsWith('/var/log/')) writable.push(o.logDir);
  const logsDirectory = o.logDir.startsWith('/var/log/') ? o.logDir.slice('/var/log/'.length) : undefined;
  // ProtectHome=yes would hide a config or cache kept in a home directory
  const underHome = [o.config, o.cacheDir, o.logDir, o.logConfig ?? '', o.bin].some((p) => /^\/(home|root|run\/user)(\/|$)/.test(p));
  const args = [
    `${o.bin} serve`,
    `--bind ${o.bind}`,
    `--workers ${o.workers}`,
    `--access-log ${o.logDir}/access.log`,
    `--error-log ${o.logDir}/error.log`,
    ...(o.logConfig ? [`--log-config ${o.logConfig}`] : []),
    o.config,
  ];
  const socketNote = socketDir
    ? `# The web server reaches the socket through the group:
#   usermod -aG ${o.user} www-data    (nginx; for Caddy: usermod -aG ${o.user} caddy)
`
    : '';
  return `# mapproxy.service, written by \`mapproxy create -t systemd\`:
# mapproxy-ts as a service, in a sandbox, behind a reverse proxy.
#
# Install:
#   useradd --system --home-dir ${o.cacheDir} --shell /usr/sbin/nologin ${o.user}
#   install -d -o ${o.user} -g ${o.user} -m 0750 ${o.cacheDir}
#   cp mapproxy.service /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now mapproxy
${socketNote}#
# systemctl reload mapproxy     re-reads ${path.basename(o.config)} without dropping requests
# journalctl -u mapproxy        startup messages and crashes
# systemd-analyze security mapproxy.service   rates the sandbox
#
# In an LXC container the sandbox needs nesting (Proxmox: Options > Features >
# nesting); without it the service fails with status=226/NAMESPACE.

[Unit]
Description=MapProxy tile cache and map proxy (mapproxy-ts)
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
User=${o.user}
Group=${o.user}
WorkingDirectory=${path.dirname(o.config)}
# add --log-config FILE to configure logging with a log.ini (mapproxy create -t log-ini)
ExecStart=${args.join(' \\\n    ')}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
# SIGTERM goes to the main process only: it stops accepting and lets the
# workers finish what they are serving; whatever is left is killed later
KillMode=mixed
TimeoutStopSec=40s
LimitNOFILE=65536

# ${runtimeDir} holds the socket: created at start, removed at stop
RuntimeDirectory=mapproxy
RuntimeDirectoryMode=0750
${logsDirectory ? `# access and error logs\nLogsDirectory=${logsDirectory}\nLogsDirectoryMode=0750\n` : ''}# new files 0660, directories 0770: the group may use the socket, others nothing
UMask=0007

# Sandbox: read-only system, writable only where tiles (and locks) go
ProtectSystem=strict
ReadWritePaths=${writable.join(' ')}
ProtectHome=${underHome ? 'read-only' : 'yes'}
PrivateTmp=yes
PrivateDevices=yes
NoNewPrivileges=yes
CapabilityBoundingSet=
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RemoveIPC=yes
# the socket, and HTTP to the upstream servers
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
# no MemoryDenyWriteExecute: the JavaScript JIT needs writable code memory

[Install]
WantedBy=multi-user.target
`;
}
