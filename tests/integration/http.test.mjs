// HTTP/1.1 behaviour on raw sockets: pipelining, keep-alive, chunked bodies, and a client
// that sends headers forever.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChatd, api, sleep } from '../helpers/chatd.mjs';

let chatd;
before(async () => {
  chatd = await startChatd({ env: { CHAT_HTTP_HEADER_TIMEOUT_MS: '1500', CHAT_HTTP_IDLE_TIMEOUT_MS: '3000' } });
});
after(async () => { assert.equal((await chatd.stop()).code, 0); });

function rawExchange(payload, { until, timeoutMs = 5000 } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(chatd.port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => { sock.destroy(); resolve({ data, timedOut: true }); }, timeoutMs);
    sock.on('data', (d) => {
      data += d;
      if (until && until(data)) { clearTimeout(timer); sock.destroy(); resolve({ data }); }
    });
    sock.on('end', () => { clearTimeout(timer); resolve({ data, closed: true }); });
    sock.on('error', reject);
    sock.write(payload);
  });
}

const count = (s, re) => (s.match(re) || []).length;

test('pipelined requests on one socket are answered in order', async () => {
  const req = (p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
  const { data } = await rawExchange(
    req('/actuator/health/liveness') + req('/nope') + req('/actuator/health/readiness'),
    { until: (d) => count(d, /HTTP\/1\.1 /g) === 3 && d.endsWith('}') && count(d, /"status"/g) >= 3 });
  const statuses = [...data.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
  assert.deepEqual(statuses, ['200', '404', '200']);
});

test('keep-alive: several requests on one connection; HTTP/1.0 closes', async () => {
  const { data, closed } = await rawExchange('GET /actuator/health/liveness HTTP/1.0\r\n\r\n');
  assert.match(data, /^HTTP\/1\.1 200/);
  assert.match(data, /Connection: close/);
  assert.ok(closed);
  const agent = await rawExchange('GET /actuator/health/liveness HTTP/1.1\r\nHost: x\r\n\r\n',
    { until: (d) => d.endsWith('{"status":"UP"}') });
  assert.match(agent.data, /Connection: keep-alive/);
});

test('a chunked request body is read', async () => {
  const body = '{"studyId":1,';
  const rest = '"roomId":"x","userId":1}';
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n${rest.length.toString(16)}\r\n${rest}\r\n0\r\n\r\n`;
  const { data } = await rawExchange(`POST /api/chat/rooms/member HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}`,
    { until: (d) => d.includes('"path"') });
  assert.match(data, /^HTTP\/1\.1 400/);
  assert.match(data, /field 'roomId' must be a 64-bit integer/, 'the whole de-chunked body reached the handler');
});

test('a client that sends headers forever gets 408 and others are still served', async () => {
  const sock = net.connect(chatd.port, '127.0.0.1');
  let data = '';
  let closed = false;
  sock.on('data', (d) => { data += d; });
  sock.on('close', () => { closed = true; });
  sock.on('error', () => {});
  sock.write('GET /actuator/health HTTP/1.1\r\n');
  const started = Date.now();
  let i = 0;
  while (!closed && Date.now() - started < 6000) {
    sock.write(`X-Slow-${i++}: y\r\n`);
    await sleep(200);
    if (i === 3) assert.equal((await api(chatd.url, 'GET', '/actuator/health/liveness')).status, 200);
  }
  assert.ok(closed, 'the slow client was disconnected');
  assert.match(data, /^HTTP\/1\.1 408/);
  assert.ok(Date.now() - started < 4000, `closed after ${Date.now() - started} ms`);
});

test('garbage and oversized headers get 400 and 431', async () => {
  const garbage = await rawExchange('HELLO\r\n\r\n');
  assert.match(garbage.data, /^HTTP\/1\.1 (400|501)/);
  const big = await rawExchange(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`);
  assert.match(big.data, /^HTTP\/1\.1 431/);
  assert.match(big.data, /"status":431/);
});

test('static files: the page is served, nothing outside the folder or hidden is', async () => {
  const page = await rawExchange('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.match(page.data, /^HTTP\/1\.1 200/);
  assert.match(page.data, /Content-Type: text\/html/);
  assert.match(page.data, /<title>chatd<\/title>/);
  for (const p of ['/../README.md', '/%2e%2e/README.md', '/.gitignore', '/js/../../CMakeLists.txt', '/nope.html']) {
    const res = await rawExchange(`GET ${p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.match(res.data, /^HTTP\/1\.1 404/, `${p} must not be served`);
  }
});
