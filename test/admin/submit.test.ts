/** `mapproxy seed --server URL`: submit a job instead of seeding in-process, --wait for it, exit codes. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_ARGS, startSeedUpstream, type SeedUpstream } from '../seed/helpers.ts';
import { adminYaml, startAdmin, startCli, TOKEN, waitFor, waitJob, type AdminServer } from './helpers.ts';
import { submitSeed } from '../../src/seed/submit.ts';

const SEED_YAML = `seeds:
  low:
    caches: [c]
    levels: [0, 1]
`;

describe('mapproxy seed --server', () => {
  let up: SeedUpstream;
  let srv: AdminServer;
  before(async () => {
    up = await startSeedUpstream();
    srv = await startAdmin(adminYaml(up), { files: { 'seed.yaml': SEED_YAML } });
  });
  after(async () => {
    await srv.stop();
    await up.stop();
  });

  it('submits the quick form and --wait follows it to done (exit 0)', async () => {
    up.requests.length = 0;
    const cli = startCli(['seed', '--server', srv.url, '--token', TOKEN, '--cache', 'c', '--levels', '0-2', '--wait'], srv.dir);
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
    cli.signal('SIGKILL');
    assert.equal(code, 0, cli.output());
    const m = /job ([A-Za-z0-9_-]{16}) queued: (\S+)/.exec(cli.output());
    assert.ok(m, cli.output());
    assert.equal(m[2], `${srv.url}/admin/jobs/${m[1]}`);
    assert.match(cli.output(), /job \S+ done: 100\.0% 21\/21 tiles/);
    assert.equal(up.requests.length, 3);
  });

  it('posts a seed.yaml with --seed names, the token from $MAPPROXY_ADMIN_TOKEN', async () => {
    const cli = startCli(['seed', '--server', `${srv.url}/`, '-s', 'seed.yaml', '--seed', 'low'], srv.dir, { MAPPROXY_ADMIN_TOKEN: TOKEN });
    const code = await Promise.race([cli.exited, new Promise((r) => setTimeout(() => r('timeout'), 20_000))]);
    cli.signal('SIGKILL');
    assert.equal(code, 0, cli.output());
    const id = /job ([A-Za-z0-9_-]{16}) queued/.exec(cli.output())?.[1];
    assert.ok(id, cli.output());
    const job = await waitJob(srv.url, id, ['done', 'failed'], 10_000);
    assert.equal(job.state, 'done');
    assert.deepEqual(job.request.seeds, ['low']);
  });

  it("exits 2 with the server's message for a refused job or token, 1 for flags the server cannot take", async () => {
    const io = () => {
      const o = { out: '', err: '' };
      return { o, io: { out: (s: string) => void (o.out += s), err: (s: string) => void (o.err += s), tty: false } };
    };
    const bad = io();
    assert.equal(await submitSeed({ ...DEFAULT_ARGS, cache: 'nope', levels: '0-2', server: srv.url, token: TOKEN, wait: false }, bad.io), 2);
    assert.match(bad.o.err, /server answered 400: unknown cache 'nope' \(known: c, d\) \(field cache\)/);
    const badLevels = io();
    assert.equal(await submitSeed({ ...DEFAULT_ARGS, cache: 'c', levels: '3-1', server: srv.url, token: TOKEN, wait: false }, badLevels.io), 2);
    assert.match(badLevels.o.err, /\(field levels\)/);
    const wrong = io();
    assert.equal(await submitSeed({ ...DEFAULT_ARGS, cache: 'c', server: srv.url, token: 'wrong', wait: false }, wrong.io), 2);
    assert.match(wrong.o.err, /server answered 401: invalid token/);
    const dry = io();
    assert.equal(await submitSeed({ ...DEFAULT_ARGS, cache: 'c', dryRun: true, server: srv.url, token: TOKEN, wait: false }, dry.io), 1);
    assert.match(dry.o.err, /--dry-run is not supported with --server/);
    const down = io();
    assert.equal(await submitSeed({ ...DEFAULT_ARGS, cache: 'c', server: 'http://127.0.0.1:1', token: TOKEN, wait: false }, down.io), 2);
    assert.match(down.o.err, /cannot reach/);
    assert.equal(fs.existsSync(path.join(srv.dir, 'cache_data', '.mapproxy-jobs')), true);
  });

  it('--wait exits 3 when the job is cancelled', async () => {
    up.delayMs = 150;
    try {
      const w = { out: '', err: '' };
      const run = submitSeed(
        { ...DEFAULT_ARGS, cache: 'd', levels: '0-5', concurrency: 1, refreshBefore: '2100-01-01T00:00', server: srv.url, token: TOKEN, wait: true, pollMs: 100 },
        { out: (s) => void (w.out += s), err: (s) => void (w.err += s), tty: false },
      );
      const id = await waitFor('the job id', 5000, () => /job ([A-Za-z0-9_-]{16}) queued/.exec(w.out)?.[1]);
      await waitFor('the job running', 5000, () => /running/.test(w.out));
      assert.equal((await srv.call('DELETE', `/admin/jobs/${id}`)).status, 200);
      assert.equal(await run, 3);
      assert.match(w.out, new RegExp(`job ${id} cancelled`));
    } finally {
      up.delayMs = 0;
    }
  });
});
