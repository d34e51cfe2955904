/**
 * Reverse-proxy headers: X-Forwarded-Host/-Proto, X-Script-Name and RFC 7239
 * Forwarded are honoured only from trusted peers (default: loopback and UNIX
 * socket peers, as gunicorn's forwarded_allow_ips), so a client cannot rewrite
 * the URLs in capabilities documents. X-Script-Name is also stripped from the
 * path, as MapProxy's WSGI app does, so a proxy may pass /mapproxy/... through.
 */

/** Which peers may set the proxy headers. */
export interface TrustedProxies {
  /** `peer`: the remote IP address; '' for a UNIX socket peer; undefined when unknown (an embedding that did not say). */
  trusts(peer: string | undefined): boolean;
}

/** Peer address of a request, computed only when needed (Bun's requestIP is not free). */
export type PeerAddress = () => string | undefined;

const DEFAULT_TRUSTED = ['127.0.0.0/8', '::1', 'unix'];

/**
 * Parse `--trusted-proxies`: IPv4/IPv6 addresses and CIDR ranges, 'unix' for
 * UNIX socket peers, '*' for everyone. Throws Error naming a bad entry.
 */
export function parseTrustedProxies(list: readonly string[] = DEFAULT_TRUSTED): TrustedProxies {
  const entries = list.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (entries.includes('*')) return { trusts: () => true };
  const unix = entries.includes('unix');
  const ranges = entries.filter((e) => e !== 'unix').map(parseRange);
  return {
    trusts(peer) {
      // an embedding that passes no peer gets MapProxy's behaviour: headers are used
      if (peer === undefined) return true;
      if (peer === '') return unix;
      const addr = parseIp(peer);
      return addr !== undefined && ranges.some((r) => r.v6 === addr.v6 && (addr.value >> r.shift) === (r.base >> r.shift));
    },
  };
}

interface Range {
  v6: boolean;
  base: bigint;
  /** bits below the prefix */
  shift: bigint;
}

function parseRange(s: string): Range {
  const [ip, bits] = s.split('/');
  const a = parseIp(ip);
  const max = a?.v6 ? 128 : 32;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!a || !(prefix >= 0 && prefix <= max)) throw new Error(`invalid trusted proxy '${s}': expected an IP address, a CIDR range, 'unix' or '*'`);
  return { v6: a.v6, base: a.value, shift: BigInt(max - prefix) };
}

/** An IPv4 or IPv6 address as a number; IPv4-mapped IPv6 (::ffff:a.b.c.d) counts as IPv4. */
function parseIp(s: string): { v6: boolean; value: bigint } | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v6: false, value: BigInt(((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]) };
  }
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped) return parseIp(mapped[1]);
  const addr = s.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!/^[0-9a-f:]+$/i.test(addr) || addr.split('::').length > 2) return undefined;
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const missing = 8 - h.length - t.length;
  if ((tail === undefined && missing !== 0) || missing < 0) return undefined;
  const groups = [...h, ...Array(tail === undefined ? 0 : missing).fill('0'), ...t];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-f]{1,4}$/i.test(g))) return undefined;
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n) };
}

const PROXY_HEADERS = ['x-forwarded-host', 'x-forwarded-proto', 'x-script-name', 'forwarded'];

/**
 * The request as the services should see it: untrusted proxy headers
 * removed; from a trusted peer, RFC 7239 Forwarded (first element) filled in
 * as X-Forwarded-Host/-Proto where those are absent, and the X-Script-Name
 * prefix stripped from the path. Requests without such headers pass unchanged.
 */
export function forwardedRequest(req: Request, trusted: boolean): Request {
  const h = req.headers;
  if (!PROXY_HEADERS.some((n) => h.has(n))) return req;
  const headers = new Headers(h);
  if (!trusted) {
    for (const n of PROXY_HEADERS) headers.delete(n);
    return new Request(req.url, { method: req.method, headers, body: req.body, duplex: 'half' } as RequestInit);
  }
  const fwd = h.get('forwarded');
  if (fwd) {
    const first = parseForwarded(fwd);
    if (first.host && !headers.has('x-forwarded-host')) headers.set('x-forwarded-host', first.host);
    if (first.proto && !headers.has('x-forwarded-proto')) headers.set('x-forwarded-proto', first.proto);
  }
  let url = req.url;
  const script = (h.get('x-script-name') ?? '').trim().replace(/\/+$/, '');
  if (script.startsWith('/')) {
    const u = new URL(req.url);
    if (u.pathname === script || u.pathname.startsWith(`${script}/`)) {
      u.pathname = u.pathname.slice(script.length) || '/';
      url = u.href;
    }
  }
  return new Request(url, { method: req.method, headers, body: req.body, duplex: 'half' } as RequestInit);
}

/** host and proto of the first element of an RFC 7239 Forwarded header. */
export function parseForwarded(value: string): { host?: string; proto?: string } {
  const first = value.split(',')[0];
  const out: { host?: string; proto?: string } = {};
  for (const pair of first.split(';')) {
    const i = pair.indexOf('=');
    if (i < 0) continue;
    const key = pair.slice(0, i).trim().toLowerCase();
    let v = pair.slice(i + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    if (key === 'host') out.host = v;
    else if (key === 'proto') out.proto = v.toLowerCase();
  }
  return out;
}
