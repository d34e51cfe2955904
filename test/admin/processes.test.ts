/**
 * The seeding API in real server processes: serve-develop stopped mid-job and
 * started again resumes without redoing finished meta tiles, --admin-bind
 * serves the API on its own address only, and `serve -w 2` runs every job
 * exactly once (in a process of its own, started by the worker of slot 0)
 * whichever worker took it.
 * Every process is started in its own process group and stopped by pid.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeCase, startSeedUpstream, type SeedUpstream } from '../seed/helpers.ts';
import { adminYaml, api, CLI, startCli, TOKEN, waitFor, waitJob, type Cli } from './helpers.ts';

/** Levels 0-5 of a 4x4 meta grid: 1 + 1 + 1 + 4 + 16 + 64 meta tiles. */
const METAS_0_5 = 87;
const TILES_0_5 = 1 + 4 + 16 + 64 + 256 + 1024;
/** Tiles older than this are remade: every meta tile is fetched, cached or not. */
const REFRESH_ALL = '2100-01-01T00:00';

describe('seeding API in server processes', () => {
  let up: SeedUpstream;
  const started: Cli[] = [];
  const run = (args: string[], cwd: string, env: Record<string, string> = {}) => {
    const c = startCli(args, cwd, env);
    started.push(c);
    return c;
  };
  const stop = async (c: Cli) => {
    c.signal('SIGTERM');
    const code = await Promise.race([c.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000))]);
    if (code === 'timeout') c.signal('SIGKILL');
    return code;
  };

  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    for (const c of started) c.signal('SIGKILL');
    await up.stop();
  });

  it('resumes a job after serve-develop is stopped mid-job, without redoing finished meta tiles', async () => {
    const dir = makeCase({ 'mapproxy.yaml': adminYaml(up) });
    up.requests.length = 0;
    up.delayMs = 30;
    try {
      const first = run(['serve-develop', 'mapproxy.yaml', '-b', '127.0.0.1:0'], dir);
      const url = `http://127.0.0.1:${(await first.waitFor(/on http:\/\/127\.0\.0\.1:(\d+)\//, 20_000))[1]}`;
      const r = await api(url, 'POST', '/admin/seed', { body: { cache: 'c', levels: '0-5', concurrency: 1 } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const id = r.json.id;
      await waitFor('a third of the meta tiles', 20_000, () => up.requests.length >= 30);
      assert.equal(await stop(first), 0, first.output());
      const before = up.requests.length;
      assert.ok(before < METAS_0_5, `${before} requests before the stop`);
      const jobsDir = path.join(dir, 'cache_data', '.mapproxy-jobs');
      const paused = JSON.parse(fs.readFileSync(path.join(jobsDir, `${id}.job.json`), 'utf8'));
      assert.equal(paused.state, 'running');
      assert.equal(paused.owner_pid, first.pid);
      assert.ok(fs.existsSync(path.join(jobsDir, `${id}.progress.json`)));

      const second = run(['serve-develop', 'mapproxy.yaml', '-b', '127.0.0.1:0'], dir);
      const url2 = `http://127.0.0.1:${(await second.waitFor(/on http:\/\/127\.0\.0\.1:(\d+)\//, 20_000))[1]}`;
      const job = await waitJob(url2, id, ['done', 'failed', 'cancelled'], 20_000);
      assert.equal(job.state, 'done', JSON.stringify(job));
      assert.equal(job.resumed, 1);
      assert.equal(job.owner_pid, second.pid);
      assert.ok(job.progress.done >= TILES_0_5, JSON.stringify(job.progress));
      // each meta tile exactly once: the one in flight at the stop was finished and stored
      assert.equal(up.requests.length, METAS_0_5, `${up.requests.length} upstream requests (${before} before the stop)`);
      assert.ok(!fs.existsSync(path.join(jobsDir, `${id}.progress.json`)));
      await stop(second);
    } finally {
      up.delayMs = 0;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve: SIGTERM pauses the job process, the next server resumes it without redoing finished meta tiles', async () => {
    const dir = makeCase({ 'mapproxy.yaml': adminYaml(up) });
    up.requests.length = 0;
    up.delayMs = 30;
    const listening = /listening at http:\/\/127\.0\.0\.1:(\d+) with/;
    try {
      const first = run(['serve', 'mapproxy.yaml', '-w', '1', '-b', '127.0.0.1:0'], dir);
      const url = `http://127.0.0.1:${(await first.waitFor(listening, 30_000))[1]}`;
      const r = await api(url, 'POST', '/admin/seed', { body: { cache: 'c', levels: '0-5', concurrency: 1 } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const id = r.json.id;
      await waitFor('a third of the meta tiles', 20_000, () => up.requests.length >= 30);
      assert.equal(await stop(first), 0, first.output());
      const before = up.requests.length;
      assert.ok(before < METAS_0_5, `${before} requests before the stop`);
      const jobsDir = path.join(dir, 'cache_data', '.mapproxy-jobs');
      const paused = JSON.parse(fs.readFileSync(path.join(jobsDir, `${id}.job.json`), 'utf8'));
      assert.equal(paused.state, 'running');
      // the job process stopped with its server
      assert.throws(() => process.kill(paused.owner_pid, 0), /ESRCH/);

      const second = run(['serve', 'mapproxy.yaml', '-w', '1', '-b', '127.0.0.1:0'], dir);
      const url2 = `http://127.0.0.1:${(await second.waitFor(listening, 30_000))[1]}`;
      const job = await waitJob(url2, id, ['done', 'failed', 'cancelled'], 20_000);
      assert.equal(job.state, 'done', JSON.stringify(job));
      assert.equal(job.resumed, 1);
      assert.equal(up.requests.length, METAS_0_5, `${up.requests.length} upstream requests (${before} before the stop)`);
      await stop(second);
    } finally {
      up.delayMs = 0;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve: a job whose process keeps dying (config broken since the start) fails after 3 attempts instead of respawning forever', async () => {
    const dir = makeCase({ 'mapproxy.yaml': adminYaml(up) });
    try {
      const s = run(['serve', 'mapproxy.yaml', '-w', '1', '-b', '127.0.0.1:0'], dir);
      const url = `http://127.0.0.1:${(await s.waitFor(/listening at http:\/\/127\.0\.0\.1:(\d+) with/, 30_000))[1]}`;
      // the serving worker keeps its config; every job process loads the broken file
      fs.writeFileSync(path.join(dir, 'mapproxy.yaml'), 'caches: [broken\n');
      const r = await api(url, 'POST', '/admin/seed', { body: { cache: 'c', levels: '0-1' } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const job = await waitJob(url, r.json.id, ['failed', 'done'], 20_000);
      assert.equal(job.state, 'failed', JSON.stringify(job));
      assert.match(job.error, /exited with 2, 3 times in a row/);
      assert.equal((s.output().match(/runs in process/g) ?? []).length, 3);
      await stop(s);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--admin-bind: the API only on its own address, where no token is needed', async () => {
    const dir = makeCase({ 'mapproxy.yaml': adminYaml(up, '    max_jobs: 4') });
    try {
      // without a token the API may not be on the public address
      const refused = spawnSync(process.execPath, [CLI, 'serve-develop', 'mapproxy.yaml', '-b', '127.0.0.1:0'], { cwd: dir, encoding: 'utf8', timeout: 20_000, env: { ...process.env, MAPPROXY_ADMIN_TOKEN: '' } });
      assert.equal(refused.status, 2, refused.stderr);
      assert.match(refused.stderr, /mapproxy\.yaml:\d+: services\.admin: the seeding API needs 'token' or 'token_file'/);

      const s = run(['serve-develop', 'mapproxy.yaml', '-b', '127.0.0.1:0', '--admin-bind', '127.0.0.1:0'], dir, { MAPPROXY_ADMIN_TOKEN: '' });
      const url = `http://127.0.0.1:${(await s.waitFor(/serving \S+ on http:\/\/127\.0\.0\.1:(\d+)\//, 20_000))[1]}`;
      const admin = `http://127.0.0.1:${(await s.waitFor(/seeding API on http:\/\/127\.0\.0\.1:(\d+)\/admin\//, 20_000))[1]}`;
      assert.equal((await api(url, 'GET', '/admin/jobs', { token: null })).status, 404);
      assert.equal((await api(url, 'POST', '/admin/seed', { body: { cache: 'c' }, token: null })).status, 405);
      assert.equal((await fetch(`${admin}/tms/1.0.0/`)).status, 404);
      assert.equal((await fetch(`${url}/tms/1.0.0/`)).status, 200);
      const r = await api(admin, 'POST', '/admin/seed', { body: { cache: 'd', levels: '0-1' }, token: null });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const job = await waitJob(admin, r.json.id, ['done', 'failed'], 15_000, null);
      assert.equal(job.state, 'done');
      assert.equal(job.owner_pid, s.pid);
      await stop(s);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('serve -w 2: jobs posted to any worker run exactly once, in one worker', async () => {
    const dir = makeCase({ 'mapproxy.yaml': adminYaml(up) });
    up.requests.length = 0;
    try {
      const s = run(['serve', 'mapproxy.yaml', '-w', '2', '-b', '127.0.0.1:0', '--debug'], dir);
      const url = `http://127.0.0.1:${(await s.waitFor(/listening at http:\/\/127\.0\.0\.1:(\d+) with 2 worker/, 30_000))[1]}`;
      const bodies = [
        { cache: 'c', levels: '0-3' },
        { cache: 'd', levels: '0-3' },
        { cache: 'c', levels: '4' },
        { cache: 'd', levels: '4' },
      ];
      const ids: string[] = [];
      const answeredBy = new Set<string>();
      for (const b of bodies) {
        // a new connection each: the kernel spreads them over both workers
        const r = await fetch(`${url}/admin/seed`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json', Connection: 'close' }, body: JSON.stringify({ ...b, refresh_before: REFRESH_ALL }) });
        assert.equal(r.status, 201);
        answeredBy.add(r.headers.get('x-mapproxy-worker') ?? '');
        ids.push(((await r.json()) as { id: string }).id);
      }
      const jobs = [];
      for (const id of ids) jobs.push(await waitJob(url, id, ['done', 'failed'], 20_000));
      for (const j of jobs) assert.equal(j.state, 'done', JSON.stringify(j));
      // 7 + 7 + 16 + 16 meta tiles, each fetched once: no job ran twice
      assert.equal(up.requests.length, 46);
      // each job ran in a process of its own at a lower CPU priority, started by the worker of slot 0
      const owners = new Set(jobs.map((j) => j.owner_pid));
      assert.equal(owners.size, jobs.length);
      for (const j of jobs) {
        assert.notEqual(j.owner_pid, s.pid);
        assert.ok(!answeredBy.has(String(j.owner_pid)), 'a job ran inside a serving worker');
        assert.match(s.output(), new RegExp(`job ${j.id} runs in process ${j.owner_pid} \\(nice \\+10\\)`));
      }
      // every worker reads every job
      const readers = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const r = await fetch(`${url}/admin/jobs/${ids[i % ids.length]}`, { headers: { Authorization: `Bearer ${TOKEN}`, Connection: 'close' } });
        assert.equal(r.status, 200);
        readers.add(r.headers.get('x-mapproxy-worker') ?? '');
        await r.arrayBuffer();
      }
      assert.ok([...readers, ...answeredBy].every((p) => /^\d+$/.test(p)));
      assert.equal(await stop(s), 0, s.output());
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
