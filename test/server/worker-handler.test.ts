/**
 * The access log of a serve worker's handler (guardHandler): the size field
 * of the combined format for every kind of response, and the response the
 * client gets left whole.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { guardHandler, type GuardedHandler } from '../../src/server/worker-handler.ts';
import { AccessLog, LogFile } from '../../src/server/log-output.ts';
import type { Peer } from '../../src/runtime/listen.ts';

const peer: Peer = { remote: () => '192.0.2.7', timeout: () => {} };

describe('serve worker access log', () => {
  let dir: string;
  let access: AccessLog;
  let handler: GuardedHandler;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'access-'));
    access = new AccessLog(new LogFile(path.join(dir, 'access.log'), 'stdout'), 60_000);
    handler = guardHandler(
      (req) => {
        const p = new URL(req.url).pathname;
        if (p === '/sized') return new Response(new Uint8Array(865), { headers: { 'Content-Length': '865' } });
        if (p === '/not-modified') return new Response(null, { status: 304, headers: { ETag: '"x"' } });
        if (p === '/empty') return new Response(null, { status: 200 });
        // a body of unknown length: the log has to read it to count it
        if (p === '/stream') return new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('twelve bytes')), c.close()) }));
        return Promise.resolve(new Response('later', { status: 404 }));
      },
      { timeout: 0, keepalive: 5, idleTimeout: 10, debug: false, accessLog: access },
    );
  });
  after(() => {
    access.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The response and the log line of one request. */
  async function logged(pathname: string, method = 'GET'): Promise<{ resp: Response; line: string }> {
    const resp = await handler.fetch(new Request(`http://127.0.0.1:8080${pathname}`, { method }), peer);
    access.flush();
    const lines = fs.readFileSync(path.join(dir, 'access.log'), 'utf8').trimEnd().split('\n');
    return { resp, line: lines[lines.length - 1] };
  }

  it('logs the Content-Length of a sized response', async () => {
    const { resp, line } = await logged('/sized');
    assert.match(line, /^192\.0\.2\.7 - - \[[^\]]+\] "GET \/sized HTTP\/1\.1" 200 865 "-" "-"$/);
    assert.equal((await resp.arrayBuffer()).byteLength, 865);
  });

  it("logs '-' for a 304, a HEAD and an empty body", async () => {
    assert.match((await logged('/not-modified')).line, /" 304 - "/);
    assert.match((await logged('/sized', 'HEAD')).line, /"HEAD \/sized HTTP\/1\.1" 200 - "/);
    const empty = await logged('/empty');
    assert.match(empty.line, /" 200 - "/);
    assert.equal(await empty.resp.text(), '');
  });

  it('counts a body of unknown length and still sends all of it', async () => {
    const { resp, line } = await logged('/stream');
    assert.match(line, /" 200 12 "/);
    assert.equal(await resp.text(), 'twelve bytes');
  });

  it('logs a response that came later, with its status', async () => {
    const { resp, line } = await logged('/later');
    assert.match(line, /"GET \/later HTTP\/1\.1" 404 5 "/);
    assert.equal(await resp.text(), 'later');
  });
});
