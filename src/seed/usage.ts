/** The usage errors of `mapproxy seed` and the duration syntax of its flags, kept light so the CLI can check flags before loading the seeder. */

/** A usage or input error: printed as one line, exit code `code`. */
export class SeedUsageError extends Error {
  constructor(
    message: string,
    readonly code = 2,
  ) {
    super(message);
  }
}

/** `10s`, `15m`, `0.5h`, `3d`, `1w` (mapproxy-seed's parse_duration, plus weeks) in seconds. */
export function parseDuration(v: string, what: string): number {
  const m = /^(\d*\.?\d+)\s*(s|m|h|d|w)$/.exec(v.trim());
  if (!m) throw new SeedUsageError(`${what}: invalid duration '${v}', expected e.g. 10s, 15m, 0.5h, 3d`);
  const mult: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  return Number(m[1]) * mult[m[2]];
}
