/**
 * --use-cache-lock: one lock file per cache below `.mapproxy_seed.lck/`, so
 * two mapproxy seed runs (cron overlapping a manual one) never seed the same
 * cache at once. A lock whose process is gone is taken over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Per-cache locks between seed processes. */
export class CacheLock {
  constructor(
    readonly dir: string,
    private readonly pollMs = 1000,
    private readonly maxWaitMs = 24 * 3600 * 1000,
  ) {}

  private file(cache: string): string {
    return path.join(this.dir, `${encodeURIComponent(cache)}.lck`);
  }

  /** Takes the lock: undefined when it is held and `wait` is false (or the run stops while waiting). */
  async acquire(cache: string, o: { wait: boolean; stopped?: () => boolean }): Promise<{ release(): void } | undefined> {
    fs.mkdirSync(this.dir, { recursive: true });
    const file = this.file(cache);
    const deadline = Date.now() + this.maxWaitMs;
    for (;;) {
      if (this.tryTake(file)) {
        return {
          release: () => {
            try {
              if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file);
            } catch {
              /* already gone */
            }
          },
        };
      }
      if (!o.wait || o.stopped?.() || Date.now() > deadline) return undefined;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private tryTake(file: string): boolean {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let pid = NaN;
    try {
      pid = Number(fs.readFileSync(file, 'utf8').trim());
    } catch {
      return false;
    }
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) return false;
    // the holder died: take the lock over (of two racing takers, one gets EEXIST)
    try {
      fs.unlinkSync(file);
    } catch {
      return false;
    }
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      return false;
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
