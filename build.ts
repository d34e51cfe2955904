/**
 * npm run build: esbuild bundle dist/mapproxy.js (runs on Bun and Deno, WASM
 * codecs embedded), then `bun build --compile` for the single executable dist/mapproxy.
 */
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { buildViewerAssets } from './src/service/demo/viewer-build.ts';
import { prebuiltViewerPlugin } from './src/service/demo/viewer-plugin.ts';

/**
 * esbuild options of both bundles. The demo's browser viewer (OpenLayers +
 * proj4) is bundled first and embedded, so neither bundle loads esbuild at
 * run time. Exported for the demo's bundle test.
 */
export async function bundleOptions(): Promise<esbuild.BuildOptions> {
  return { ...common, plugins: [prebuiltViewerPlugin(await buildViewerAssets())] };
}

const common: esbuild.BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  mainFields: ['module', 'main'],
  conditions: ['import', 'module', 'default'],
  external: ['bun:*', 'node:*'],
  loader: { '.wasm': 'binary' },
  // commander is CommonJS and require()s node: modules; give the ESM bundle a real require
  banner: { js: "import { createRequire as __mpCreateRequire } from 'node:module'; const require = __mpCreateRequire(import.meta.url);" },
  minifySyntax: true,
  legalComments: 'none',
  logLevel: 'warning',
};

if (import.meta.main) await build();

/** Both bundles, then the executable (unless --no-compile). */
async function build(): Promise<void> {
  const started = performance.now();
  fs.mkdirSync('dist', { recursive: true });
  const options = await bundleOptions();
  await esbuild.build({ ...options, entryPoints: ['cli/main.ts'], outfile: 'dist/mapproxy.js' });
  // the embedding API (makeApp ...) as a module for server scripts on Bun or Deno
  await esbuild.build({ ...options, entryPoints: ['src/index.ts'], outfile: 'dist/mapproxy-lib.js' });
  fs.chmodSync('dist/mapproxy.js', 0o755);
  console.log(`dist/mapproxy.js ${(fs.statSync('dist/mapproxy.js').size / 1024).toFixed(0)} kB (${Math.round(performance.now() - started)} ms)`);

  if (!process.argv.includes('--no-compile')) {
    const bun = process.execPath.includes('bun') ? process.execPath : 'bun';
    // --bytecode: precompiled JavaScript in the executable; startup to the first tile 56-71 ms instead of 163-207 ms
    const r = spawnSync(bun, ['build', '--compile', '--bytecode', '--minify-syntax', 'dist/mapproxy.js', '--outfile', 'dist/mapproxy'], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
    console.log(`dist/mapproxy ${(fs.statSync('dist/mapproxy').size / 1024 / 1024).toFixed(1)} MB`);
  }
}
