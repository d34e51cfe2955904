#!/usr/bin/env bash
# Smoke test of the built artefacts: the executable and the bundle under Deno
# each serve the built-in demo and answer a TMS tile and a /tiles tile.
set -euo pipefail
cd "$(dirname "$0")/.."

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

check() { # name port
  local name=$1 port=$2 ok=0
  for _ in $(seq 1 100); do
    if curl -sf -o /dev/null "http://127.0.0.1:$port/"; then ok=1; break; fi
    sleep 0.1
  done
  [ $ok = 1 ] || { echo "smoke: $name did not start"; exit 1; }
  for url in "/tms/1.0.0/osm/EPSG900913/3/4/2.png" "/tiles/osm/webmercator/3/4/5.png?origin=nw"; do
    ct=$(curl -sf -o /tmp/smoke-tile.$$ -w '%{content_type}' "http://127.0.0.1:$port$url")
    [ "$ct" = "image/png" ] || { echo "smoke: $name $url answered $ct"; exit 1; }
    head -c 4 /tmp/smoke-tile.$$ | od -An -tx1 | grep -q '89 50 4e 47' || { echo "smoke: $name $url is not a PNG"; exit 1; }
  done
  rm -f /tmp/smoke-tile.$$
  for url in /demo/ /demo/static/viewer.js; do
    code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$url")
    [ "$code" = 200 ] || { echo "smoke: $name $url answered $code"; exit 1; }
  done
  echo "smoke: $name ok"
}

./dist/mapproxy --version
./dist/mapproxy serve-develop -b 127.0.0.1:18480 > /tmp/smoke-bin.log 2>&1 & pids+=($!)
check "dist/mapproxy" 18480

./node_modules/.bin/deno run -A dist/mapproxy.js serve-develop -b 127.0.0.1:18481 > /tmp/smoke-deno.log 2>&1 & pids+=($!)
check "deno dist/mapproxy.js" 18481

# the embedding API under Deno: makeApp + Deno.serve, one tile, then exit
cat > /tmp/smoke-embed.$$.mjs <<JS
import { makeApp, writeDemoConfig } from '$PWD/dist/mapproxy-lib.js';
const app = makeApp(writeDemoConfig());
const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen() {} }, app.fetch);
const r = await fetch('http://127.0.0.1:' + server.addr.port + '/tms/1.0.0/osm/EPSG900913/1/0/0.png');
const b = new Uint8Array(await r.arrayBuffer());
await server.shutdown();
app.close();
if (r.status !== 200 || b[1] !== 0x50) { console.error('embed: bad answer', r.status); Deno.exit(1); }
console.log('smoke: deno makeApp ok');
JS
timeout 60 ./node_modules/.bin/deno run -A /tmp/smoke-embed.$$.mjs
rm -f /tmp/smoke-embed.$$.mjs
