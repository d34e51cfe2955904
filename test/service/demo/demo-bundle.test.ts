/**
 * The demo as `npm run build` bundles it: the viewer embedded by build.ts's
 * plugin (no esbuild at run time), served by the bundle under Bun and Deno.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as esbuild from 'esbuild';
import { bundleOptions } from '../../../build.ts';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const DENO = path.join(ROOT, 'node_modules/.bin/deno');
const PATHS = ['/demo/', '/demo/static/viewer.js', '/demo/static/demo.css', '/demo/?tms_layer=utm&grid=utm32', '/demo/?wms_layer=utm&format=image%2Fpng&srs=EPSG%3A31467', '/demo/?wms_capabilities'];

/** A script that serves the demo test config with the demo routed in, requests PATHS and prints [status, length] per path. */
const ENTRY = `
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadConfig } from './src/config/loader.ts';
import { buildProxy } from './src/core/build-proxy.ts';
import { createHandler } from './src/server/app.ts';
import { serveHttp } from './src/runtime/serve.ts';
import { DemoService } from './src/service/demo/demo-service.ts';
import { demoConfig } from './test/service/demo/demo-server.ts';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-demo-bundle-'));
fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), demoConfig(path.join(dir, 'cache_data')));
const proxy = buildProxy(loadConfig(path.join(dir, 'mapproxy.yaml')));
const app = createHandler(proxy);
const demo = new DemoService({ proxy, fetch: app });
const server = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: (req) => {
  const url = new URL(req.url);
  return url.pathname.startsWith('/demo') ? demo.handle(req, url.pathname, url.searchParams) : app(req);
} });
const out = {};
for (const p of ${JSON.stringify(PATHS)}) {
  const r = await fetch('http://127.0.0.1:' + server.port + p);
  out[p] = [r.status, (await r.text()).length];
}
console.log('RESULT ' + JSON.stringify(out));
await server.stop();
fs.rmSync(dir, { recursive: true, force: true });
`;

describe('the demo in the esbuild bundle', () => {
  let dir: string | undefined;
  let built: Promise<{ file: string; code: string }> | undefined;
  // bundled by the first test, not in before(): Bun bounds hooks at 5 s, tests take a timeout of their own
  const bundle = () =>
    (built ??= (async () => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-demo-bundle-test-'));
      const file = path.join(dir, 'demo-bundle.mjs');
      await esbuild.build({ ...(await bundleOptions()), stdin: { contents: ENTRY, resolveDir: ROOT, loader: 'ts' }, outfile: file, logLevel: 'error' });
      return { file, code: fs.readFileSync(file, 'utf8') };
    })());
  after(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('embeds the viewer and never loads esbuild', { timeout: 30_000 }, async () => {
    const { code } = await bundle();
    assert.match(code, /BSD 2-Clause License/);
    assert.doesNotMatch(code, /import\(["']esbuild["']\)|from ["']esbuild["']/);
  });

  const run = async (cmd: string, args: (file: string) => string[]) => {
    const { file } = await bundle();
    const r = spawnSync(cmd, args(file), { cwd: dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, NO_COLOR: '1' } });
    const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, `${cmd} ran the bundle:\n${r.stdout}\n${r.stderr}`);
    const out = JSON.parse(line.slice(7)) as Record<string, [number, number]>;
    for (const p of PATHS) assert.equal(out[p]?.[0], 200, `${cmd} ${p}`);
    assert.ok(out['/demo/static/viewer.js'][1] > 100_000);
  };

  it('serves the demo under Bun', { timeout: 40_000 }, () => run(process.execPath, (file) => [file]));

  it('serves the demo under Deno', { timeout: 40_000 }, async (t) => {
    if (!fs.existsSync(DENO)) {
      t.skip('no deno in node_modules');
      return;
    }
    await run(DENO, (file) => ['run', '-A', file]);
  });
});
