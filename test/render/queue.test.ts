/** The render queue: slots per priority, ordering, coalescing, prefetch under load. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RenderCancelled, RenderQueue, type RenderPriority } from '../../src/render/queue.ts';
import { renderQueueOptions, shareOf } from '../../src/render/render-options.ts';

/** Work the test finishes by hand. */
function gate(): { promise: Promise<string>; open(v?: string): void; fail(e: Error): void } {
  let open!: (v: string) => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => {
    open = res;
    fail = rej;
  });
  return { promise, open: (v = 'done') => open(v), fail };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('render queue', () => {
  it('keeps slots free for on-demand work as the renderd example says (10 creators, at most 6 seeding)', async () => {
    const q = new RenderQueue({ concurrency: 10, backgroundSlots: 6 });
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const submit = (key: string, p: RenderPriority) => {
      const g = gate();
      gates.set(key, g);
      return q.run(key, p, () => {
        started.push(key);
        return g.promise;
      });
    };
    const all: Promise<string>[] = [];
    for (let i = 0; i < 9; i++) all.push(submit(`seed${i}`, 'seed'));
    assert.deepEqual(q.stats().running.seed, 6);
    assert.equal(q.stats().queued.seed, 3);
    // 8 on-demand requests: 4 start at once, 4 wait
    for (let i = 0; i < 8; i++) all.push(submit(`od${i}`, 'ondemand'));
    assert.equal(q.stats().running.ondemand, 4);
    assert.equal(q.stats().queued.ondemand, 4);
    // a finishing seed hands its slot to on-demand work, not to the next seed
    gates.get('seed0')!.open();
    await tick();
    assert.equal(q.stats().running.ondemand, 5);
    assert.equal(q.stats().running.seed, 5);
    // all on-demand work done: seeds start again only while fewer than 6 run in total
    for (let i = 0; i < 8; i++) {
      gates.get(`od${i}`)?.open();
      await tick();
    }
    for (let i = 1; i < 3; i++) gates.get(`seed${i}`)!.open();
    await tick();
    assert.equal(q.stats().running.ondemand, 0);
    assert.equal(q.stats().running.seed, 6);
    assert.equal(q.stats().queued.seed, 0);
    for (const g of gates.values()) g.open();
    await Promise.all(all);
    assert.equal(q.active, 0);
  });

  it('starts waiting work by priority, first come first served within one', async () => {
    const q = new RenderQueue({ concurrency: 1 });
    const order: string[] = [];
    const first = gate();
    const runs = [q.run('busy', 'ondemand', () => first.promise)];
    const add = (key: string, p: RenderPriority) => runs.push(q.run(key, p, async () => (order.push(key), key)));
    add('prefetch1', 'prefetch');
    add('seed1', 'seed');
    add('refresh1', 'refresh');
    add('seed2', 'seed');
    add('od1', 'ondemand');
    add('refresh2', 'refresh');
    first.open();
    await Promise.allSettled(runs);
    // the prefetch entry was dropped when on-demand work had to wait
    assert.deepEqual(order, ['od1', 'refresh1', 'refresh2', 'seed1', 'seed2']);
    await assert.rejects(runs[1], RenderCancelled);
  });

  it('coalesces identical work: one run, every caller gets its result', async () => {
    const q = new RenderQueue({ concurrency: 2 });
    let calls = 0;
    const g = gate();
    const fn = () => {
      calls++;
      return g.promise;
    };
    const ps = Array.from({ length: 64 }, () => q.run('meta/1/2/3', 'ondemand', fn));
    assert.equal(q.stats().running.ondemand, 1);
    g.open('tiles');
    assert.deepEqual(new Set(await Promise.all(ps)), new Set(['tiles']));
    assert.equal(calls, 1);
    // done work is not remembered: asked again, it runs again
    await q.run('meta/1/2/3', 'ondemand', async () => calls++);
    assert.equal(calls, 2);
  });

  it('moves queued seed work up when an on-demand request asks for the same meta tile', async () => {
    const q = new RenderQueue({ concurrency: 1 });
    const order: string[] = [];
    const g = gate();
    const runs = [q.run('busy', 'seed', () => g.promise)];
    for (const k of ['a', 'b', 'c']) runs.push(q.run(k, 'seed', async () => (order.push(k), k)));
    const promoted = q.run('c', 'ondemand', async () => 'never called');
    g.open();
    assert.equal(await promoted, 'c');
    await Promise.all(runs);
    assert.deepEqual(order, ['c', 'a', 'b']);
  });

  it('passes failures to every waiter and frees the slot', async () => {
    const q = new RenderQueue({ concurrency: 1 });
    const g = gate();
    const a = q.run('k', 'ondemand', () => g.promise);
    const b = q.run('k', 'seed', () => g.promise);
    g.fail(new Error('upstream down'));
    await assert.rejects(a, /upstream down/);
    await assert.rejects(b, /upstream down/);
    assert.equal(await q.run('next', 'ondemand', async () => 'ok'), 'ok');
    // a function that throws synchronously is a failure too, not a stuck slot
    await assert.rejects(q.run('sync', 'ondemand', () => { throw new Error('boom'); }), /boom/);
    assert.equal(q.active, 0);
  });

  it('bounds prefetch work and refuses it while on-demand work waits', async () => {
    const q = new RenderQueue({ concurrency: 1, maxPrefetch: 2 });
    const g = gate();
    const busy = q.run('busy', 'seed', () => g.promise);
    const p1 = q.run('p1', 'prefetch', async () => 1);
    const p2 = q.run('p2', 'prefetch', async () => 2);
    await assert.rejects(q.run('p3', 'prefetch', async () => 3), /prefetch queue full/);
    const od = q.run('od', 'ondemand', async () => 'od');
    await assert.rejects(p1, RenderCancelled);
    await assert.rejects(p2, RenderCancelled);
    await assert.rejects(q.run('p4', 'prefetch', async () => 4), /under load/);
    g.open();
    await busy;
    assert.equal(await od, 'od');
    assert.equal(await q.run('p5', 'prefetch', async () => 5), 5);
  });

  it('divides globals.render among the workers of serve, rounding up', () => {
    const fail = (p: string, m: string): never => {
      throw new Error(`${p}: ${m}`);
    };
    const q = renderQueueOptions({ concurrency: 10, keep_free: 4 }, fail);
    assert.deepEqual([q.concurrency, q.backgroundSlots], [10, 6]);
    assert.deepEqual(shareOf(q, 1), q);
    const half = shareOf(q, 2);
    assert.deepEqual([half.concurrency, half.backgroundSlots], [5, 3]);
    const third = shareOf(q, 3);
    assert.deepEqual([third.concurrency, third.backgroundSlots], [4, 2]);
    const many = shareOf(q, 64);
    assert.deepEqual([many.concurrency, many.backgroundSlots], [1, 1]);
    assert.throws(() => renderQueueOptions({ concurrency: 4, max_seed_share: 1.5 }, fail), /max_seed_share/);
    assert.throws(() => renderQueueOptions({ concurrency: 4, max_seed_share: 0.5, keep_free: 1 }, fail), /either/);
  });

  it('refuses impossible sizes', () => {
    assert.throws(() => new RenderQueue({ concurrency: 0 }), /concurrency/);
    assert.throws(() => new RenderQueue({ concurrency: 4, backgroundSlots: 5 }), /background slots/);
  });
});
