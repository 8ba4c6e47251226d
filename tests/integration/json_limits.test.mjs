// JSON decoding under hostile bodies (issue 15): a burst of deeply nested and wide bodies
// just under CHAT_HTTP_MAX_BODY_BYTES, on REST and as STOMP SEND bodies, each refused with
// a reason, and the process's RSS (from /proc) must come back to where it was: the decoder
// (core/json_decode.c) checks a whole text before it makes any Lua value, bounds nesting
// at 64 levels and refuses a text whose values would take more than 8 times its size.
// Before it, dkjson grew the process by ~36 MB per deeply nested body and kept it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startChatd, sleep } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

const MAX_BODY = 1024 * 1024; // CHAT_HTTP_MAX_BODY_BYTES's default
const SIZE = MAX_BODY - 1024;
const MiB = 1024 * 1024;
const KiB = 1024;

// In the sanitizer build (deploy/dev/test runs every suite on it) ASan keeps freed memory in
// its quarantine and its allocator's caches, so RSS would measure ASan: both are turned off
// for this chatd. A plain build ignores the variable.
const ASAN_OPTIONS = [process.env.ASAN_OPTIONS, 'quarantine_size_mb=0', 'thread_local_quarantine_size_kb=0',
  'allocator_release_to_os_interval_ms=0'].filter(Boolean).join(':');

let chatd;
before(async () => {
  // STOMP frames as large as the REST bodies, so SEND bodies reach the decoder too.
  chatd = await startChatd({ env: { CHAT_STOMP_MAX_FRAME_BYTES: String(2 * MiB), ASAN_OPTIONS } });
});
after(async () => {
  const exit = await chatd.stop();
  assert.equal(exit.code, 0, 'chatd exits 0 on SIGTERM');
});

const rssBytes = () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${chatd.proc.pid}/status`, 'utf8'))[1]) * KiB;

// Bodies of about `size` bytes, with the reason the decoder must give.
function hostileBodies(size) {
  const half = Math.floor(size / 2);
  const deepObjects = Math.floor((size - 1) / 6);
  const member = (i) => `"k${String(i).padStart(7, '0')}":{}`;
  return [
    { name: 'deep arrays', body: '['.repeat(half) + ']'.repeat(half), reason: /nesting too deep at position 65$/ },
    { name: 'deep objects', body: '{"a":'.repeat(deepObjects) + '1' + '}'.repeat(deepObjects),
      reason: /nesting too deep at position 321$/ },
    { name: 'deep and unterminated', body: '[{"a":'.repeat(Math.floor(size / 6)), reason: /nesting too deep at position 193$/ },
    { name: 'wide array of empty arrays', body: '[' + '[],'.repeat(Math.floor(size / 3) - 1) + '[]]',
      reason: /document too large for its size at position \d+$/ },
    { name: 'wide object of empty objects',
      body: '{' + Array.from({ length: Math.floor(size / 14) }, (_, i) => member(i)).join(',') + '}',
      reason: /document too large for its size at position \d+$/ },
    { name: 'wide and broken at the end', body: '[' + '1,'.repeat(half - 2) + '1,]',
      reason: new RegExp(`unexpected character at position ${2 * half}$`) }, // the final "]"
  ];
}

async function post(body) {
  const res = await fetch(`${chatd.url}/api/chat/rooms/member`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, json: await res.json() };
}

// Warms the buffers a 1 MiB request grows once (socket, body, the body's Lua string) with a
// body every decoder takes cheaply, so what is measured afterwards is the decoding.
async function warmedBaseline() {
  const benign = JSON.stringify({ studyId: 1, roomId: 1, userId: 1, nickname: 'x'.repeat(SIZE - 60) });
  for (let i = 0; i < 3; i++) assert.equal((await post(benign)).status, 400);
  await sleep(300);
  return rssBytes();
}

test('a burst of deep and wide REST bodies is refused with reasons, and RSS comes back', async (t) => {
  const start = await warmedBaseline();
  const bodies = hostileBodies(SIZE);
  const answers = [];
  for (let round = 0; round < 5; round++) {
    for (const { name, body, reason } of bodies) {
      assert.ok(body.length <= MAX_BODY, `${name} fits the body limit`);
      const res = await post(body);
      assert.equal(res.status, 400, name);
      answers.push({ name, message: res.json.message, reason });
    }
  }
  await sleep(500);
  const grown = rssBytes() - start;
  t.diagnostic(`RSS ${(start / MiB).toFixed(1)} MiB -> ${((start + grown) / MiB).toFixed(1)} MiB`);
  assert.ok(grown < 2 * MAX_BODY,
    `RSS grew by ${(grown / MiB).toFixed(1)} MiB over ${answers.length} bodies of 1 MiB (bound: 2 MiB)`);
  for (const { name, message, reason } of answers) {
    assert.match(message, /^malformed JSON request body: /, name);
    assert.match(message, reason, name);
  }
});

test('the same bodies as STOMP SEND bodies reach the error queue, and RSS comes back', async (t) => {
  const c = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
  try {
    c.subscribe('/user/queue/errors');
    await sleep(100);
    await warmedBaseline();
    const bodies = hostileBodies(SIZE);
    // One of each first, so the buffers of 1 MiB frames are grown before the baseline.
    for (const { body } of bodies) c.send('/app/chat.sendMessage', body);
    await c.waitFor('/user/queue/errors', (m) => m.length >= bodies.length, 20000);
    await sleep(300);
    const start = rssBytes();
    for (let round = 0; round < 3; round++) {
      for (const { body } of bodies) c.send('/app/chat.sendMessage', body);
    }
    const errors = await c.waitFor('/user/queue/errors', (m) => m.length >= 4 * bodies.length, 30000);
    await sleep(500);
    const grown = rssBytes() - start;
    t.diagnostic(`RSS ${(start / MiB).toFixed(1)} MiB -> ${((start + grown) / MiB).toFixed(1)} MiB`);
    assert.ok(grown < 2 * MAX_BODY,
      `RSS grew by ${(grown / MiB).toFixed(1)} MiB over ${3 * bodies.length} SEND bodies of 1 MiB (bound: 2 MiB)`);
    for (const e of errors) assert.match(e.body, /not valid JSON/);
  } finally { await c.close(); }
});

test('large bodies that are valid JSON leave at most two documents of values, however many come', async (t) => {
  // Valid, so decoded in full (their values take up to 8 times their size) before the route
  // refuses their shape. Their values are garbage once answered; the decoder collects
  // before it makes a document that large, so the garbage of one is gone when the next is
  // made: what is left after twenty is about the last one's values, not twenty.
  const start = await warmedBaseline();
  const zeros = '[' + '0,'.repeat(Math.floor(SIZE / 2) - 1) + '0]';
  const objects = '[' + '{"id":1,"nickname":"ab"},'.repeat(Math.floor(SIZE / 26) - 1) + '{"id":1,"nickname":"ab"}]';
  for (let i = 0; i < 10; i++) {
    for (const body of [zeros, objects]) {
      const res = await post(body);
      assert.equal(res.status, 400);
      assert.equal(res.json.message, 'the request body must be a JSON object');
    }
  }
  await sleep(500);
  const grown = rssBytes() - start;
  t.diagnostic(`RSS ${(start / MiB).toFixed(1)} MiB -> ${((start + grown) / MiB).toFixed(1)} MiB`);
  assert.ok(grown < 2 * 8 * MAX_BODY,
    `RSS grew by ${(grown / MiB).toFixed(1)} MiB over 20 valid bodies of 1 MiB (bound: 2 documents of values, 16 MiB)`);
});

test('a leading zero is refused as Jackson refuses it, with the position', async () => {
  const res = await post('{"studyId":012,"roomId":1,"userId":1,"nickname":"n"}');
  assert.equal(res.status, 400);
  assert.equal(res.json.message, 'malformed JSON request body: invalid number at position 12');
  const big = await post('{"studyId":9223372036854775808,"roomId":1,"userId":1,"nickname":"n"}');
  assert.equal(big.status, 400);
  assert.equal(big.json.message, 'malformed JSON request body: number out of range at position 12');
  const nul = await post('{"studyId":1,"roomId":1,"userId":1,"nickname":"a\\u0000b"}');
  assert.equal(nul.status, 400);
  assert.match(nul.json.message, /contains a NUL character at position 49$/);
});
