// HTTP/1.1 conformance of the real server (RFC 9112 and the request-smuggling shapes):
// each case of http_cases.mjs goes on a fresh TCP connection; the answer's status must be
// the case's, and after any 4xx or 5xx the server must close the connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChatd, sleep } from '../helpers/chatd.mjs';
import { cases, LIMITS } from './http_cases.mjs';

const CASE_TIMEOUT_MS = 5000;
const KEEP_OPEN_MS = 300; // how long a kept-alive connection is watched for a close
const PARSER_STATUSES = new Set([400, 413, 414, 431, 501, 505]);

let chatd;
before(async () => {
  chatd = await startChatd({
    env: {
      CHAT_HTTP_MAX_HEADER_BYTES: String(LIMITS.headerBytes),
      CHAT_HTTP_MAX_BODY_BYTES: String(LIMITS.bodyBytes),
      // Shorter than a case's timeout, so a server left waiting shows as 408, not a hang.
      CHAT_HTTP_HEADER_TIMEOUT_MS: '3000',
    },
  });
});
after(async () => { assert.equal((await chatd.stop()).code, 0); });

// The complete responses at the front of buf (status, head, body), in order.
function parseResponses(buf) {
  const out = [];
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    if (end < 0) break;
    const head = buf.subarray(off, end).toString('latin1');
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(head);
    if (!m) {
      out.push({ status: NaN, head, body: '' });
      break;
    }
    const status = Number(m[1]);
    const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
    const len = status === 101 ? 0 : cl ? Number(cl[1]) : 0;
    if (buf.length < end + 4 + len) break;
    out.push({ status, head, body: buf.subarray(end + 4, end + 4 + len).toString('utf8') });
    off = end + 4 + len;
    if (status === 101) break; // what follows is WebSocket
  }
  return out;
}

// Sends a case on a new connection; resolves with the responses and whether the server
// closed the connection (and when, relative to the last expected response).
function exchange(c) {
  const want = Array.isArray(c.expect) ? c.expect.length : c.expect === 'close' ? 0 : 1;
  const pieces = (Array.isArray(c.bytes) ? c.bytes : [c.bytes])
    .map((b) => (Buffer.isBuffer(b) ? b : Buffer.from(b, 'latin1')));
  return new Promise((resolve) => {
    const sock = net.connect(chatd.port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let responses = [];
    let closed = false;
    let done = false;
    let watch = null;
    const finish = (why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearTimeout(watch);
      sock.destroy();
      resolve({ responses, closed, why, raw: buf.toString('latin1').slice(0, 400) });
    };
    const timer = setTimeout(() => finish('timeout'), CASE_TIMEOUT_MS);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      responses = parseResponses(buf);
      if (responses.length < want || watch) return;
      const last = responses[responses.length - 1];
      if (last.status === 101) return finish('upgraded');
      // An error answer, or an expected close: wait for the close. A kept-alive answer:
      // watch a moment that the connection stays open.
      if (last.status >= 400 || c.closed) return;
      watch = setTimeout(() => finish('kept open'), c.open ? KEEP_OPEN_MS : 50);
    });
    sock.on('close', () => { closed = true; finish('closed'); });
    sock.on('error', () => {}); // a reset shows as a close without the answer
    sock.on('connect', async () => {
      for (let i = 0; i < pieces.length; i++) {
        if (i > 0) await sleep(30);
        if (done) return;
        sock.write(pieces[i]);
      }
      if (c.end) sock.end();
    });
  });
}

for (const c of cases) {
  test(`${c.name} [${c.rfc}]`, async () => {
    const r = await exchange(c);
    const statuses = r.responses.map((x) => x.status);
    const detail = `answers ${JSON.stringify(statuses)}, ${r.why}; received: ${JSON.stringify(r.raw)}`;
    if (c.expect === 'close') {
      assert.deepEqual(statuses, [], `no answer expected: ${detail}`);
      assert.ok(r.closed, `the server must close: ${detail}`);
      return;
    }
    const expected = Array.isArray(c.expect) ? c.expect : [c.expect];
    assert.deepEqual(statuses, expected, detail);
    const last = expected[expected.length - 1];
    if (last >= 400 || c.closed) assert.ok(r.closed, `the connection must be closed after the answer: ${detail}`);
    if (c.open) assert.ok(!r.closed, `the connection must stay open: ${detail}`);
    if (c.body) assert.match(r.responses[0].body, c.body, detail);
    // A refusal by the parser says why (Spring Boot's error JSON with the parser's reason).
    if (PARSER_STATUSES.has(last)) assert.match(r.responses[r.responses.length - 1].body, /"message":"[^"]+"/, detail);
  });
}

test('the suite has at least 150 cases, each with its source', () => {
  assert.ok(cases.length >= 150, `${cases.length} cases`);
  for (const c of cases) assert.ok(c.name && c.rfc && c.bytes !== undefined && c.expect !== undefined, JSON.stringify(c.name));
  assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, 'case names are unique');
});

test('the server still serves after every case', async () => {
  const res = await fetch(`${chatd.url}/actuator/health/liveness`);
  assert.equal(res.status, 200);
});
