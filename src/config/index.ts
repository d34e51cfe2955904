/** Public entry of the config loader: load, validate, defaults. */

export {
  configErrorAt,
  describeAt,
  displayName,
  loadConfig,
  loadConfigString,
  type ConfigData,
  type LoadedConfig,
  type LoadOptions,
} from './loader.ts';
export type { ConfigWarning } from './warnings.ts';
export { formatWarning } from './warnings.ts';
export { formatPath, type PathSegment, type SourcePos } from './positions.ts';
export { ConfigErrors, validateConfig } from './validate.ts';
export {
  BUILTIN_GRIDS,
  cacheBaseDir,
  getGlobal,
  GLOBAL_DEFAULTS,
  globalsWithDefaults,
  resolveConfigPath,
  tileLockDir,
  type Globals,
} from './defaults.ts';
