/** The environment `mapproxy serve` starts its workers with. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { workerEnv } from '../../src/server/workers.ts';
import { WORKER_ENV, type WorkerSpec } from '../../src/server/serve-options.ts';

describe('serve worker environment', () => {
  const spec = { config: '/etc/mapproxy/mapproxy.yaml', workers: 2 } as unknown as WorkerSpec;

  it('keeps freed memory for a second (MIMALLOC_PURGE_DELAY) and passes the spec and the rest of the environment', () => {
    const env = workerEnv({ PATH: '/usr/bin', LANG: 'C.UTF-8' }, spec);
    assert.equal(env.MIMALLOC_PURGE_DELAY, '1000');
    assert.equal(env.PATH, '/usr/bin');
    assert.equal(env.LANG, 'C.UTF-8');
    assert.deepEqual(JSON.parse(env[WORKER_ENV]!), spec);
  });

  it('leaves an allocator setting from the environment as it is', () => {
    assert.equal(workerEnv({ MIMALLOC_PURGE_DELAY: '0' }, spec).MIMALLOC_PURGE_DELAY, '0');
  });

  it('does not let the environment replace the worker spec', () => {
    const env = workerEnv({ [WORKER_ENV]: '{"config":"/tmp/other.yaml"}' }, spec);
    assert.deepEqual(JSON.parse(env[WORKER_ENV]!), spec);
  });
});
