/** Automatic re-seeding: `reseed:` entries queued every interval after their last finish, never twice at once, remembered over a restart. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startSeedUpstream, type SeedUpstream } from '../seed/helpers.ts';
import { adminYaml, startAdmin, TOKEN, waitFor, type AdminServer } from './helpers.ts';

const SEED_YAML = `seeds:
  top:
    caches: [d]
    levels: [0, 1, 2]
    refresh_before:
      seconds: 0
`;

describe('reseed entries', () => {
  let up: SeedUpstream;
  let srv: AdminServer;
  before(async () => {
    up = await startSeedUpstream();
    up.delayMs = 100;
    const admin = `    token: ${TOKEN}
    reseed:
      - seed_conf: seed.yaml
        seeds: [top]
        interval: 2
        concurrency: 1`;
    srv = await startAdmin(adminYaml(up, admin), { files: { 'seed.yaml': SEED_YAML } });
  });
  after(async () => {
    await srv.stop();
    await up.stop();
  });

  const reseedJobs = async () => ((await srv.call('GET', '/admin/jobs')).json.jobs as { id: string; state: string; reseed?: string; created: string; finished: string | null }[]).filter((j) => j.reseed);

  it('queues the entry at once when it never ran, then again one interval after its finish, also after a restart', async () => {
    const first = await waitFor('the first reseed job done', 8000, async () => (await reseedJobs()).find((j) => j.state === 'done'));
    assert.equal(first.reseed, 'seed.yaml:top');
    assert.equal(up.requests.length, 3);
    const finished = Date.parse(first.finished!);
    const state = JSON.parse(fs.readFileSync(path.join(srv.dir, 'cache_data', '.mapproxy-jobs', 'reseed.json'), 'utf8'));
    assert.equal(state.entries['seed.yaml:top'].last_job, first.id);

    // a restart right after the finish neither reseeds at once nor forgets the last run
    await srv.stopRunner();
    srv.startRunner();
    let maxActive = 0;
    const second = await waitFor('the second reseed job', 8000, async () => {
      const jobs = await reseedJobs();
      maxActive = Math.max(maxActive, jobs.filter((j) => j.state === 'queued' || j.state === 'running').length);
      return jobs.find((j) => j.id !== first.id);
    }, 100);
    const waited = Date.parse(second.created) - finished;
    assert.ok(waited >= 1900, `queued ${waited} ms after the last finish`);
    assert.ok(waited < 3500, `queued only ${waited} ms after the last finish`);
    const done = await waitFor('the second reseed job done', 8000, async () => {
      const jobs = await reseedJobs();
      maxActive = Math.max(maxActive, jobs.filter((j) => j.state === 'queued' || j.state === 'running').length);
      return jobs.find((j) => j.id === second.id && j.state === 'done');
    }, 100);
    assert.ok(done);
    // refresh_before makes each run remake its 3 meta tiles: a run takes a while, and was seen alone
    assert.equal(up.requests.length, 6);
    assert.equal(maxActive, 1);
  });
});
