/**
 * The seeding API over HTTP against a real server and upstream in this
 * process: job lifecycle, auth, bad input (400 naming the field, 404, 429),
 * cancelling, and the configuration checks of services.admin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { listFiles, startSeedUpstream, type SeedUpstream } from '../seed/helpers.ts';
import { adminYaml, startAdmin, TOKEN, waitFor, waitJob, type AdminServer } from './helpers.ts';
import { loadConfigString } from '../../src/config/loader.ts';
import { buildProxy } from '../../src/core/build-proxy.ts';
import { ConfigError } from '../../src/errors.ts';
import { adminSettings, checkAdminConfig } from '../../src/service/admin/admin-config.ts';
import { createHandler } from '../../src/server/app.ts';

const SEED_YAML = `seeds:
  low:
    caches: [c]
    levels: [0, 1]
  other:
    caches: [d]
    levels: [0]
`;

describe('seeding API', () => {
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

  it('runs a job from POST to done: progress, tiles on disk, one upstream request per meta tile', async () => {
    up.requests.length = 0;
    const r = await srv.call('POST', '/admin/seed', { body: { cache: 'c', levels: '0-3', bbox: [-180, -85, 180, 85] } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.match(r.json.id, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(r.json.url, `/admin/jobs/${r.json.id}`);
    assert.equal(r.headers.get('location'), r.json.url);
    assert.equal(r.headers.get('cache-control'), 'no-store');
    assert.ok(['queued', 'running'].includes(r.json.state));
    const job = await waitJob(srv.url, r.json.id, ['done', 'failed'], 15_000);
    assert.equal(job.state, 'done', JSON.stringify(job));
    // levels 0-3 with 4x4 meta tiles: 1 + 1 + 1 + 4 meta tiles, 1 + 4 + 16 + 64 tiles
    assert.equal(up.requests.length, 7);
    assert.equal(job.progress.done, 85);
    assert.equal(job.progress.percent, 100);
    assert.equal(job.progress.failed, 0);
    assert.ok(job.started && job.finished && job.owner_pid === process.pid);
    const tiles = listFiles(path.join(srv.dir, 'cache_data')).filter((f) => f.endsWith('.png') && f.startsWith('c_'));
    assert.equal(tiles.length, 85);
    // the progress file is gone, the job file stays
    const jobsDir = path.join(srv.dir, 'cache_data', '.mapproxy-jobs');
    assert.ok(fs.existsSync(path.join(jobsDir, `${job.id}.job.json`)));
    assert.ok(!fs.existsSync(path.join(jobsDir, `${job.id}.progress.json`)));
    const list = await srv.call('GET', '/admin/jobs');
    assert.equal(list.status, 200);
    assert.ok(list.json.jobs.some((j: { id: string }) => j.id === job.id));
  });

  it('takes an uploaded seed.yaml with seed names, and a seed.yaml document as YAML body', async () => {
    up.requests.length = 0;
    const a = await srv.call('POST', '/admin/seed', { body: { seed_conf_text: SEED_YAML, seeds: ['other'] } });
    assert.equal(a.status, 201, JSON.stringify(a.json));
    const ja = await waitJob(srv.url, a.json.id, ['done', 'failed'], 10_000);
    assert.equal(ja.state, 'done');
    assert.equal(ja.progress.done, 1);
    assert.equal(up.requests.length, 1);
    const b = await srv.call('POST', '/admin/seed?seeds=low', { text: SEED_YAML, contentType: 'application/yaml' });
    assert.equal(b.status, 201, JSON.stringify(b.json));
    const jb = await waitJob(srv.url, b.json.id, ['done', 'failed'], 10_000);
    assert.equal(jb.state, 'done');
    assert.deepEqual(jb.request.seeds, ['low']);
    assert.deepEqual(jb.request.cleanups, []);
  });

  it('answers 401 without or with a wrong token, with WWW-Authenticate: Bearer', async () => {
    for (const token of [null, 'wrong', `${TOKEN}x`, '']) {
      const r = await srv.call('GET', '/admin/jobs', { token });
      assert.equal(r.status, 401, `token ${token}`);
      assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer/);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
    const post = await srv.call('POST', '/admin/seed', { body: { cache: 'c' }, token: null });
    assert.equal(post.status, 401);
    const basic = await fetch(`${srv.url}/admin/jobs`, { headers: { Authorization: `Basic ${btoa(`admin:${TOKEN}`)}` } });
    assert.equal(basic.status, 401);
  });

  it('answers 404 for unknown and malformed job ids, without touching other files', async () => {
    for (const id of ['AAAAAAAAAAAAAAAA', 'nope', '..%2F..%2Fmapproxy.yaml', '%2e%2e%2fseed.yaml']) {
      const g = await srv.call('GET', `/admin/jobs/${id}`);
      assert.equal(g.status, 404, id);
      assert.deepEqual(Object.keys(g.json), ['error']);
      const d = await srv.call('DELETE', `/admin/jobs/${id}`);
      assert.equal(d.status, 404, id);
    }
    assert.ok(fs.existsSync(path.join(srv.dir, 'seed.yaml')));
    assert.equal((await srv.call('GET', '/admin/nothing')).status, 404);
    assert.equal((await srv.call('GET', '/admin/seed')).status, 405);
  });

  it('answers 400 naming the field for malformed bodies, and queues nothing', async () => {
    const before = (await srv.call('GET', '/admin/jobs')).json.jobs.length;
    const cases: [unknown, string, RegExp, string?][] = [
      [{ cache: 'nope', levels: '0-2' }, 'cache', /unknown cache 'nope'/],
      [{ cache: 'c', levels: '5-2' }, 'levels', /5 is above 2/],
      [{ cache: 'c', levels: 'zero' }, 'levels', /invalid levels/],
      [{ cache: 'c', levels: '0-40' }, 'levels', /outside grid/],
      [{ cache: 'c', levels: { from: 1 } }, 'levels', /expected/],
      [{ cache: 'c', bbox: [10, 50, 5, 55] }, 'bbox', /inverted bbox/],
      [{ cache: 'c', bbox: '1,2,3' }, 'bbox', /minx,miny,maxx,maxy/],
      [{ cache: 'c', bbox_srs: 'EPSG:999999', bbox: '1,2,3,4' }, 'bbox_srs', /./],
      [{ cache: 'c', grid: 'nogrid' }, 'grid', /not a grid of cache 'c'/],
      [{ cache: 'c', refresh_before: 'soon' }, 'refresh_before', /invalid/],
      [{ cache: 'c', concurrency: 0 }, 'concurrency', /from 1 to 64/],
      [{ cache: 'c', colour: 'red' }, 'colour', /unknown field 'colour'/],
      [{ cache: 'c', bbox: [0, 0, 1, 1], coverage: 'POLYGON((0 0,1 0,1 1,0 0))' }, 'coverage', /either bbox or coverage/],
      [{ cache: 'c', coverage: 'POLYGON((0 0, 1 0' }, 'coverage', /./],
      [{ seed_conf_text: SEED_YAML, seeds: ['low', 'missing'] }, 'seeds', /unknown seed task: missing \(available: low, other\)/],
      [{ seed_conf_text: 'seeds:\n  s:\n    caches: [nope]\n' }, 'seeds.s.caches[0]', /seed\.yaml:3: seeds\.s\.caches\[0\]: cache 'nope' not found/],
      [{ seed_conf_text: 'seeds:\n  s:\n    caches: [c\n' }, 'seed_conf_text', /seed\.yaml:\d+: .*YAML/],
      [{ seed_conf_text: 'seeds:\n  s:\n    caches: [c]\n    levels:\n      from: 3\n      to: 1\n' }, 'seeds.s.levels', /from 3 is above to 1/],
      [{ seed_conf_text: 42 }, 'seed_conf_text', /text of a seed\.yaml/],
      // no $ENV substitution in uploads: the server's environment stays private
      [{ seed_conf_text: 'seeds:\n  s:\n    caches: ["${HOME}"]\n' }, 'seeds.s.caches[0]', /cache '\$\{HOME\}' not found/],
      [{ seed_conf_text: 'coverages:\n  x:\n    datasource: /etc/passwd\n    srs: EPSG:4326\nseeds:\n  s:\n    caches: [c]\n    coverages: [x]\n' }, 'coverages.x.datasource', /only name files in the configuration directory/],
      [{ seed_conf_text: 'coverages:\n  x:\n    union:\n      - polygons: ../../secret.wkt\n        polygons_srs: EPSG:4326\nseeds:\n  s:\n    caches: [c]\n' }, 'coverages.x.union[0].polygons', /configuration directory/],
      [{ levels: '0-3' }, 'cache', /expected seed_conf_text/],
      [[1, 2], 'body', /mapping/],
    ];
    for (const [body, field, re] of cases) {
      const r = await srv.call('POST', '/admin/seed', { body });
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.json)}`);
      assert.equal(r.json.field, field, `${JSON.stringify(body)}: ${JSON.stringify(r.json)}`);
      assert.match(r.json.error, re, JSON.stringify(body));
      assert.equal(r.headers.get('cache-control'), 'no-store');
    }
    const badJson = await srv.call('POST', '/admin/seed', { text: '{"cache": "c",', contentType: 'application/json' });
    assert.equal(badJson.status, 400);
    assert.equal(badJson.json.field, 'body');
    const badYaml = await srv.call('POST', '/admin/seed', { text: 'seeds:\n  a: [\n b', contentType: 'text/yaml' });
    assert.equal(badYaml.status, 400);
    assert.equal(badYaml.json.field, 'body');
    assert.match(badYaml.json.error, /YAML syntax error at line \d/);
    const base = await srv.call('POST', '/admin/seed', { text: 'base: /etc/passwd\nseeds:\n  a:\n    caches: [c]\n', contentType: 'application/yaml' });
    assert.equal(base.status, 400);
    assert.equal(base.json.field, 'base');
    const query = await srv.call('POST', '/admin/seed?seeds=nope', { text: SEED_YAML, contentType: 'application/yaml' });
    assert.equal(query.status, 400);
    assert.equal(query.json.field, 'seeds');
    // nothing was queued, no upload left behind
    assert.equal((await srv.call('GET', '/admin/jobs')).json.jobs.length, before);
    const jobsDir = path.join(srv.dir, 'cache_data', '.mapproxy-jobs');
    assert.deepEqual(fs.readdirSync(jobsDir).filter((f) => f.endsWith('.seed.yaml') || f.endsWith('.coverage')).length, 2);
  });

  it('stores an age in refresh_before as the time it means at submission (a resumed job keeps it)', async () => {
    const r = await srv.call('POST', '/admin/seed', { body: { cache: 'c', levels: '0', refresh_before: '7d' } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const job = await waitJob(srv.url, r.json.id, ['done', 'failed'], 10_000);
    assert.equal(job.state, 'done');
    const ts = Date.parse(job.request.refresh_before);
    assert.ok(Math.abs(ts - (Date.now() - 7 * 86400_000)) < 60_000, job.request.refresh_before);
  });

  it('seeds an uploaded GeoJSON coverage', async () => {
    up.requests.length = 0;
    // a small square in Germany: at level 3 one meta tile
    const coverage = { type: 'Polygon', coordinates: [[[8, 50], [9, 50], [9, 51], [8, 51], [8, 50]]] };
    const r = await srv.call('POST', '/admin/seed', { body: { cache: 'd', levels: [3], coverage } });
    assert.equal(r.status, 201, JSON.stringify(r.json));
    const job = await waitJob(srv.url, r.json.id, ['done', 'failed'], 10_000);
    assert.equal(job.state, 'done', JSON.stringify(job));
    assert.equal(up.requests.length, 1);
    assert.ok(job.progress.done >= 1 && job.progress.done <= 16, String(job.progress.done));
  });

  it('DELETE cancels a running job within a second; the upstream sees no more requests', async () => {
    up.requests.length = 0;
    up.delayMs = 150;
    try {
      const r = await srv.call('POST', '/admin/seed', { body: { cache: 'd', levels: '0-5', concurrency: 1, refresh_before: '2100-01-01T00:00' } });
      assert.equal(r.status, 201);
      const id = r.json.id;
      // the runner writes its progress about once a second
      const running = await waitFor('progress of the running job', 10_000, async () => {
        const j = (await srv.call('GET', `/admin/jobs/${id}`)).json;
        return j.state === 'running' && j.progress.done > 0 && j;
      });
      assert.equal(running.progress.tasks, 1);
      assert.equal(running.progress.task, 1);
      assert.ok(running.progress.percent > 0 && running.progress.percent < 100, JSON.stringify(running.progress));
      assert.ok(running.progress.rate > 0);
      assert.match(running.progress.label, /^seed seed d\/GLOBAL_WEBMERCATOR$/);
      assert.equal(running.owner_pid, process.pid);
      const d = await srv.call('DELETE', `/admin/jobs/${id}`);
      assert.equal(d.status, 200);
      assert.equal(d.json.id, id);
      assert.ok(d.json.state === 'cancelled' || d.json.cancel_requested === true, JSON.stringify(d.json));
      const t0 = Date.now();
      const job = await waitJob(srv.url, id, ['cancelled', 'done', 'failed'], 5000);
      assert.equal(job.state, 'cancelled');
      // stopped within a second plus the meta tile in flight
      assert.ok(Date.now() - t0 < 1000 + up.delayMs * 2, `${Date.now() - t0} ms`);
      const n = up.requests.length;
      assert.ok(n < 87, `${n} requests`);
      await new Promise((res) => setTimeout(res, 500));
      assert.equal(up.requests.length, n);
      // a finished job stays as it is when deleted again
      const again = await srv.call('DELETE', `/admin/jobs/${id}`);
      assert.equal(again.status, 200);
      assert.equal(again.json.state, 'cancelled');
      assert.ok(!fs.existsSync(path.join(srv.dir, 'cache_data', '.mapproxy-jobs', `${id}.progress.json`)));
    } finally {
      up.delayMs = 0;
    }
  });
});

describe('seeding API: pause and resume', () => {
  it('a job stopped and resumed many times ends with every tile written', async () => {
    const up = await startSeedUpstream();
    // a CPU-only source: the walk never waits for I/O, so stops land between its steps
    const yaml = adminYaml(up).replace('caches:\n', 'caches:\n  g:\n    grids: [GLOBAL_WEBMERCATOR]\n    sources: [dbg]\n').replace('sources:\n', 'sources:\n  dbg:\n    type: debug\n');
    const srv = await startAdmin(yaml, { runner: false });
    try {
      const r = await srv.call('POST', '/admin/seed', { body: { cache: 'g', levels: '0-4' } });
      assert.equal(r.status, 201);
      let job: any;
      for (let i = 0; i < 60; i++) {
        srv.startRunner();
        await new Promise((res) => setTimeout(res, 150 + (i % 4) * 40));
        await srv.stopRunner();
        job = (await srv.call('GET', `/admin/jobs/${r.json.id}`)).json;
        if (job.state !== 'running' && job.state !== 'queued') break;
      }
      assert.equal(job.state, 'done', JSON.stringify(job));
      assert.ok(job.resumed >= 2, `resumed ${job.resumed} times`);
      const tiles = listFiles(path.join(srv.dir, 'cache_data')).filter((f) => f.endsWith('.png') && f.startsWith('g_'));
      assert.equal(tiles.length, 341);
    } finally {
      await srv.stop();
      await up.stop();
    }
  });
});

describe('seeding API: failing upstream', () => {
  it('ends a job whose tiles fail every retry as failed, with the failures listed', async () => {
    const up = await startSeedUpstream();
    const srv = await startAdmin(adminYaml(up));
    try {
      up.failAll = true;
      const r = await srv.call('POST', '/admin/seed', { body: { cache: 'd', levels: '0-1', max_retries: 1, retry_delay: 0.05, refresh_before: '2100-01-01T00:00' } });
      assert.equal(r.status, 201, JSON.stringify(r.json));
      const job = await waitJob(srv.url, r.json.id, ['done', 'failed'], 10_000);
      assert.equal(job.state, 'failed');
      assert.match(job.error, /2 tiles failed after every retry/);
      assert.equal(job.progress.failed, 2);
      assert.deepEqual(job.progress.failures.map((f: { tile: string }) => f.tile).sort(), ['0/0/0', '0/0/1']);
      assert.equal(job.progress.failures[0].cache, 'd');
      assert.match(job.progress.failures[0].error, /500/);
      // two meta tiles, each tried twice
      assert.equal(up.requests.length, 4);
    } finally {
      await srv.stop();
      await up.stop();
    }
  });
});

describe('seeding API: flood and configuration', () => {
  let up: SeedUpstream;
  before(async () => {
    up = await startSeedUpstream();
  });
  after(async () => {
    await up.stop();
  });

  it('answers 429 with Retry-After beyond max_jobs; a queued job is cancelled at once', async () => {
    up.delayMs = 200;
    const srv = await startAdmin(adminYaml(up, `    token: ${TOKEN}\n    max_jobs: 3`));
    try {
      const body = { cache: 'c', levels: '0-5', concurrency: 1, refresh_before: '2100-01-01T00:00' };
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await srv.call('POST', '/admin/seed', { body });
        assert.equal(r.status, 201);
        ids.push(r.json.id);
      }
      for (let i = 0; i < 3; i++) {
        const r = await srv.call('POST', '/admin/seed', { body });
        assert.equal(r.status, 429);
        assert.ok(Number(r.headers.get('retry-after')) > 0);
        assert.match(r.json.error, /max_jobs 3/);
      }
      // the last one is still queued behind the running first: cancelled at once
      const d = await srv.call('DELETE', `/admin/jobs/${ids[2]}`);
      assert.equal(d.status, 200);
      assert.equal(d.json.state, 'cancelled');
      assert.ok(d.json.finished);
      assert.equal((await srv.call('POST', '/admin/seed', { body })).status, 201);
      const list = await waitFor('the first job running', 5000, async () => {
        const jobs = (await srv.call('GET', '/admin/jobs')).json.jobs as { id: string; state: string }[];
        return jobs.some((j) => j.state === 'running') && jobs;
      });
      assert.equal(list.filter((j) => j.state === 'running').length, 1);
      assert.equal(list.filter((j) => j.state === 'queued').length, 2);
      for (const j of list) await srv.call('DELETE', `/admin/jobs/${j.id}`);
      await waitFor('every job ended', 5000, async () => (await srv.call('GET', '/admin/jobs')).json.jobs.every((j: { state: string }) => j.state === 'cancelled'));
    } finally {
      up.delayMs = 0;
      await srv.stop();
    }
  });

  it('mounts /admin only with services.admin; other paths keep refusing POST', async () => {
    const srv = await startAdmin(adminYaml(up).replace(/  admin:\n.*\n/, ''), { runner: false });
    try {
      assert.equal((await srv.call('GET', '/admin/jobs')).status, 404);
      assert.equal((await srv.call('POST', '/admin/seed', { body: { cache: 'c' } })).status, 405);
    } finally {
      await srv.stop();
    }
    const withAdmin = await startAdmin(adminYaml(up), { runner: false });
    try {
      const r = await fetch(`${withAdmin.url}/tms/1.0.0/`, { method: 'POST', body: 'x' });
      assert.equal(r.status, 405);
      assert.equal((await withAdmin.call('GET', '/tms/1.0.0/')).status, 200);
    } finally {
      await withAdmin.stop();
    }
  });

  it('checks services.admin: a token is required on the public binds, values name their key', () => {
    const dirs: string[] = [];
    after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
    const build = (admin: string, files: Record<string, string> = {}) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mp-admin-conf-'));
      dirs.push(dir);
      for (const [n, t] of Object.entries(files)) fs.writeFileSync(path.join(dir, n), t);
      return buildProxy(loadConfigString(adminYaml(up, admin), path.join(dir, 'mapproxy.yaml')));
    };
    const noToken = build('    max_jobs: 4');
    const saved = process.env.MAPPROXY_ADMIN_TOKEN;
    delete process.env.MAPPROXY_ADMIN_TOKEN;
    try {
      assert.throws(() => createHandler(noToken), (e: unknown) => e instanceof ConfigError && /services\.admin: the seeding API needs 'token' or 'token_file'/.test((e as Error).message));
      // allowed when only --admin-bind serves it
      assert.equal(checkAdminConfig(noToken, { adminBind: true })?.token, undefined);
      process.env.MAPPROXY_ADMIN_TOKEN = 'from-env';
      assert.equal(adminSettings(build('    max_jobs: 4'))?.token, 'from-env');
      assert.equal(adminSettings(build('    token_file: token.txt', { 'token.txt': 'from-file\n' }))?.token, 'from-file');
    } finally {
      if (saved === undefined) delete process.env.MAPPROXY_ADMIN_TOKEN;
      else process.env.MAPPROXY_ADMIN_TOKEN = saved;
    }
    const bad: [string, RegExp][] = [
      ['    token: x\n    max_jobs: 0', /services\.admin\.max_jobs: expected an integer >= 1/],
      ['    token_file: missing.txt', /services\.admin\.token_file: cannot read/],
      ['    token: x\n    reseed:\n      - seed_conf: nope.yaml\n        interval: 1h', /services\.admin\.reseed\[0\]\.seed_conf: .*nope\.yaml not found/],
      ['    token: x\n    reseed:\n      - seed_conf: seed.yaml\n        interval: often', /services\.admin\.reseed\[0\]\.interval: expected seconds or a duration/],
      ['    token: x\n    reseed:\n      - seed_conf: seed.yaml\n        interval: 1h\n        seeds: [nope]', /services\.admin\.reseed\[0\]\.seeds: unknown in seed\.yaml: nope/],
    ];
    for (const [admin, re] of bad) {
      assert.throws(() => adminSettings(build(admin, { 'seed.yaml': SEED_YAML })), (e: unknown) => e instanceof ConfigError && re.test((e as Error).message), admin);
    }
    const ok = adminSettings(build('    token: x\n    jobs_dir: jobs\n    reseed:\n      - seed_conf: seed.yaml\n        interval: 12h\n        seeds: [low]\n        concurrency: 3', { 'seed.yaml': SEED_YAML }))!;
    assert.equal(path.basename(ok.jobsDir), 'jobs');
    assert.equal(ok.reseed[0].interval, 12 * 3600);
    assert.equal(ok.reseed[0].request.concurrency, 3);
  });
});
