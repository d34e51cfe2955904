/** A counting semaphore for async work: at most `limit` holders at once, FIFO waiters. */
export class Semaphore {
  private active = 0;
  private waiters: (() => void)[] = [];
  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new RangeError(`semaphore limit must be >= 1, got ${limit}`);
  }

  /** Runs fn when a slot is free and frees the slot when fn settles. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Waits for a slot; pair every acquire with one release. */
  acquire(): Promise<void> {
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Frees a slot, handing it straight to the next waiter so the count never dips. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.active--;
  }

  /** Holders right now (for tests and stats). */
  get inUse(): number {
    return this.active;
  }
}

/** Maps items with at most `limit` calls of fn running at once, keeping input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
