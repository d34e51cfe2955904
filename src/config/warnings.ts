/** Non-fatal config findings (unknown keys, deprecated syntax, unset env variables). */

import { formatLocation } from '../errors.ts';

/** A config warning; `String(w)` gives `file:line: path: message`. */
export interface ConfigWarning {
  file: string;
  line?: number;
  path: string;
  message: string;
  toString(): string;
}

/** Builds a ConfigWarning whose toString() renders like ConfigError messages. */
export function makeWarning(file: string, line: number | undefined, path: string, message: string): ConfigWarning {
  return {
    file,
    line,
    path,
    message,
    toString() {
      return formatWarning(this);
    },
  };
}

/** `mapproxy.yaml:12: caches.osm.foo: unknown 'foo' in caches.osm` */
export function formatWarning(w: Pick<ConfigWarning, 'file' | 'line' | 'path' | 'message'>): string {
  return `${formatLocation({ file: w.file, line: w.line, path: w.path })}: ${w.message}`;
}
