/** The example log.ini of `mapproxy create -t log-ini`, in MapProxy's (Python fileConfig) format. */

/** Where the example's log files go: a directory, or %(here)s for the directory of the log.ini. */
export interface LogIniOptions {
  logDir?: string;
}

/** The example log.ini: messages to stderr, upstream requests to their own file, JSON lines ready to switch on. */
export function renderLogIni(opts: LogIniOptions = {}): string {
  // '%' starts an interpolation in ini values, so a literal one is doubled
  const dir = (opts.logDir ?? '%(here)s').replace(/%(?!\(here\)s)/g, '%%').replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return `# log.ini, written by \`mapproxy create -t log-ini\`.
#
# Use it with \`mapproxy serve --log-config log.ini\` or applyLogConfig() in a
# server script. The format is the one of MapProxy's log.ini (Python's
# logging.config.fileConfig), so an existing log.ini keeps working.
# %(here)s is the directory of this file.
#
# MapProxy's loggers: mapproxy (everything), mapproxy.system, mapproxy.config,
# mapproxy.source.<type> (e.g. mapproxy.source.wms), mapproxy.source.request
# (one line per upstream request: method, URL, status, kB, ms) and
# mapproxy.cache.<type>. Configuring one configures those below it.

[loggers]
keys=root,source_requests

[handlers]
keys=console,source_requests

[formatters]
keys=default,requests,json

# Everything at INFO and above goes to stderr (the journal under systemd).
# DEBUG shows much more, WARNING only problems.
[logger_root]
level=INFO
handlers=console

# Upstream requests in their own file; propagate=0 keeps them out of stderr.
[logger_source_requests]
level=INFO
qualname=mapproxy.source.request
propagate=0
handlers=source_requests

[handler_console]
class=StreamHandler
formatter=default
args=(sys.stderr,)

# A file that logrotate may move away: it is reopened on the next record.
# Several workers (mapproxy serve --workers N) can share it. For example
# /etc/logrotate.d/mapproxy:
#   /var/log/mapproxy/*.log { weekly rotate 8 compress missingok notifempty }
# A single process can rotate on its own instead (10 MB, 5 old files kept):
#   class=handlers.RotatingFileHandler
#   args=('...', 'a', 10*1024*1024, 5)
[handler_source_requests]
class=handlers.WatchedFileHandler
formatter=requests
args=('${dir}/source-requests.log', 'a')

[formatter_default]
format=[%(asctime)s] %(name)s - %(levelname)s - %(message)s

[formatter_requests]
format=[%(asctime)s] %(message)s

# One JSON object per line (time, level, logger, message) for log shippers
# (Loki, Elasticsearch, ...): set formatter=json in a handler above.
[formatter_json]
class=json
`;
}
