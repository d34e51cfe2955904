/** Typed errors; each service turns them into its own exception format. */

/** Where in which config file something is: file as shown to the user, 1-based line, key path. */
export interface ConfigLocation {
  file: string;
  line?: number;
  path: string;
}

/** A config value that is wrong: the message names file, line and key path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly detail: string,
    readonly location?: ConfigLocation,
  ) {
    super(location ? `${formatLocation(location)}: ${detail}` : detail);
  }
}

/** `mapproxy.yaml:14: caches.osm_cache.sources[0]` */
export function formatLocation(loc: ConfigLocation): string {
  const where = loc.line ? `${loc.file}:${loc.line}` : loc.file;
  return loc.path ? `${where}: ${loc.path}` : where;
}

/** An unknown or unusable SRS code. */
export class SrsError extends Error {
  override name = 'SrsError';
}

/** An upstream (source) failed: timeout, HTTP error, non-image body. */
export class SourceError extends Error {
  override name = 'SourceError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A client request that is wrong; status is the HTTP status to answer with. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    message: string,
    readonly status = 400,
    readonly code?: string,
  ) {
    super(message);
  }
}
