/** The embedding API: what a server script (Bun.serve, Deno.serve) needs to host mapproxy-ts. */
export { makeApp, type MapProxyApp, type MakeAppOptions } from './server/reloading-app.ts';
export { loadConfig, loadConfigString, type LoadedConfig } from './config/loader.ts';
export { buildProxy, type Proxy } from './core/build-proxy.ts';
export { writeDemoConfig, DEMO_CONFIG } from './demo/demo-config.ts';
export { ConfigError, RequestError, SourceError } from './errors.ts';
export { VERSION } from './version.ts';
export { applyLogConfig, setLogFormat } from './log/log-config.ts';
export { getLogger, setLogLevel, type LogLevel } from './log/logger.ts';
