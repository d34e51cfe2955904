/**
 * `mapproxy create -t nginx` and `-t caddy`: the web server in front of
 * `mapproxy serve`, passing the headers mapproxy builds its URLs from (Host,
 * X-Forwarded-Host, X-Forwarded-Proto, X-Script-Name; X-Forwarded-For for
 * the access log).
 */

/** Inputs of the reverse-proxy snippets. */
export interface ReverseProxyOptions {
  /** Where mapproxy listens: unix:PATH or HOST:PORT, as `mapproxy serve --bind`. */
  upstream: string;
  /** URL path mapproxy appears under: '/' or e.g. '/mapproxy'. */
  path: string;
  /** Host name of the site. */
  serverName: string;
}

/** Defaults: the socket of the systemd unit, published under /mapproxy. */
export const REVERSE_PROXY_DEFAULTS: ReverseProxyOptions = {
  upstream: 'unix:/run/mapproxy/mapproxy.sock',
  path: '/mapproxy',
  serverName: 'example.org',
};

/** Check the options; a message for the first one that cannot go into a config file as it is. */
export function checkReverseProxyOptions(o: ReverseProxyOptions): string | undefined {
  if (o.upstream.startsWith('unix:')) {
    if (!/^\/[\w\-./]*$/.test(o.upstream.slice(5))) return `--upstream '${o.upstream}': the socket needs an absolute path of letters, digits, '-', '_', '.' and '/'`;
  } else if (!/^[\w\-.]+:\d{1,5}$|^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(o.upstream)) {
    return `--upstream '${o.upstream}': expected unix:/path/to.sock or HOST:PORT`;
  }
  if (!/^\/([\w\-.~]+\/?)*$/.test(o.path)) return `--path '${o.path}': expected '/' or a path like /mapproxy (letters, digits, '-', '_', '.', '~')`;
  if (!/^[\w\-.*]+$/.test(o.serverName)) return `--server-name '${o.serverName}': expected a host name`;
  return undefined;
}

/** '/mapproxy/' -> '/mapproxy'; '/' -> ''. */
function prefixOf(p: string): string {
  return p.replace(/\/+$/, '');
}

/** The nginx site: an upstream block and a server block for conf.d (inside http {}). */
export function renderNginx(o: ReverseProxyOptions): string {
  const prefix = prefixOf(o.path);
  const headers = `        proxy_http_version 1.1;
        proxy_set_header Connection "";
        # Host: the site's name; X-Forwarded-Host keeps a non-default port the client used
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
`;
  const location = prefix
    ? `    # ${prefix} without the slash: send clients to the directory URL
    location = ${prefix} {
        return 301 ${prefix}/$is_args$args;
    }

    location ${prefix}/ {
        # the trailing slash in proxy_pass removes ${prefix} from the path;
        # X-Script-Name tells mapproxy to put it back into the URLs it writes
        # (capabilities, tile URLs)
        proxy_pass http://mapproxy/;
${headers}        proxy_set_header X-Script-Name ${prefix};
        # large WMS requests that are not cached can take a while upstream
        proxy_read_timeout 120s;
    }`
    : `    location / {
        proxy_pass http://mapproxy;
${headers}        # large WMS requests that are not cached can take a while upstream
        proxy_read_timeout 120s;
    }`;
  return `# mapproxy-ts behind nginx, written by \`mapproxy create -t nginx\`.
#
# Put this file into /etc/nginx/conf.d/ (read inside the http {} block), or
# copy the upstream block there and the location blocks into an existing
# server {}. Then: nginx -t && systemctl reload nginx
${o.upstream.startsWith('unix:') ? `# nginx must be allowed to use the socket: usermod -aG mapproxy www-data\n` : ''}#
# For HTTPS add "listen 443 ssl;" with ssl_certificate and ssl_certificate_key
# (or let certbot do it): X-Forwarded-Proto then tells mapproxy to write https URLs.

upstream mapproxy {
    # the same address as \`mapproxy serve --bind\`
    server ${o.upstream};
    # keep connections to mapproxy open between requests
    keepalive 16;
}

server {
    listen 80;
    server_name ${o.serverName};

${location}
}
`;
}

/** The Caddy site block (Caddyfile syntax). */
export function renderCaddy(o: ReverseProxyOptions): string {
  const prefix = prefixOf(o.path);
  const target = o.upstream.startsWith('unix:') ? `unix/${o.upstream.slice(5)}` : o.upstream;
  const proxy = (indent: string, scriptName: boolean) =>
    scriptName
      ? `${indent}reverse_proxy ${target} {
${indent}	# tells mapproxy to put ${prefix} back into the URLs it writes (capabilities, tile URLs)
${indent}	header_up X-Script-Name ${prefix}
${indent}}`
      : `${indent}reverse_proxy ${target}`;
  const body = prefix
    ? `	# ${prefix} without the slash: send clients to the directory URL
	redir ${prefix} ${prefix}/ 308

	# handle_path removes ${prefix} from the path before proxying
	handle_path ${prefix}/* {
${proxy('\t\t', true)}
	}`
    : proxy('\t', false);
  return `# mapproxy-ts behind Caddy, written by \`mapproxy create -t caddy\`.
#
# Add this site to /etc/caddy/Caddyfile (or import this file from there),
# then: caddy validate --config /etc/caddy/Caddyfile && systemctl reload caddy
${o.upstream.startsWith('unix:') ? `# Caddy must be allowed to use the socket: usermod -aG mapproxy caddy\n` : ''}#
# reverse_proxy passes the Host header on and sets X-Forwarded-For,
# X-Forwarded-Proto and X-Forwarded-Host itself, which is what mapproxy
# needs to write URLs with this site's name and scheme (Caddy warns about
# header_up lines for them). When Caddy runs on another machine (a firewall,
# as often with OPNsense), use --upstream HOST:PORT and have mapproxy serve
# listen there.

${o.serverName} {
${body}
}
`;
}
