/** Start mapproxy-ts on 127.0.0.1 for a YAML text written to a temp dir. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { makeApp, type MapProxyApp } from '../../src/server/reloading-app.ts';
import { serveHttp, type RunningServer } from '../../src/runtime/serve.ts';

/** A running proxy for one test config. */
export interface TestProxy {
  url: string;
  dir: string;
  configFile: string;
  app: MapProxyApp;
  stop(): Promise<void>;
}

/** Write `yaml` as mapproxy.yaml in a fresh temp dir and serve it. */
export async function startProxy(yaml: string, opts: { reloader?: boolean; reloadInterval?: number; files?: Record<string, string> } = {}): Promise<TestProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mapproxy-test-'));
  const configFile = path.join(dir, 'mapproxy.yaml');
  fs.writeFileSync(configFile, yaml);
  for (const [name, text] of Object.entries(opts.files ?? {})) fs.writeFileSync(path.join(dir, name), text);
  const app = makeApp(configFile, opts);
  const server: RunningServer = await serveHttp({ hostname: '127.0.0.1', port: 0, fetch: app.fetch });
  return {
    url: `http://127.0.0.1:${server.port}`,
    dir,
    configFile,
    app,
    stop: async () => {
      app.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
