/**
 * The configs of a serve-multiapp directory: NAME.yaml with NAME made of
 * A-Z, a-z, 0-9, _ and -. Apart from multiapp.ts so the supervisor can list
 * them without loading the modules that serve them.
 */
import * as fs from 'node:fs';

/** A valid config name (the /NAME/ prefix it is served under). */
export const CONFIG_NAME_RE = /^[A-Za-z0-9_-]+$/;

/** Throws when dir is missing (ENOENT) or not a directory. */
export function checkConfigDir(dir: string): void {
  if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
}

/** Names of the configs in dir, sorted. */
export function configNames(dir: string): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && CONFIG_NAME_RE.test(f.slice(0, -5)))
    .map((f) => f.slice(0, -5))
    .sort();
}
