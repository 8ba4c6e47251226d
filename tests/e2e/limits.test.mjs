// The limits that protect the server (CHAT_MAX_CONNECTIONS, CHAT_STOMP_MAX_HEADERS,
// CHAT_STOMP_MAX_SUBSCRIPTIONS, CHAT_STOMP_MAX_FRAMES_PER_SECOND, CHAT_SOCKJS_MAX_SESSIONS):
// whoever crosses one gets a clear refusal (503, or an ERROR frame and a close) and
// everyone else carries on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startChatd, sleep } from '../helpers/chatd.mjs';
import { connectStomp, rawStomp } from '../helpers/stomp.mjs';

let stompLimited;
let fewConnections;
before(async () => {
  [stompLimited, fewConnections] = await Promise.all([
    startChatd({ env: { CHAT_KAFKA_ENABLED: '0', CHAT_STOMP_MAX_FRAMES_PER_SECOND: '20', CHAT_STOMP_MAX_SUBSCRIPTIONS: '3',
      CHAT_STOMP_MAX_HEADERS: '8', CHAT_SOCKJS_MAX_SESSIONS: '2' } }),
    startChatd({ env: { CHAT_KAFKA_ENABLED: '0', CHAT_MAX_CONNECTIONS: '5' } }),
  ]);
});
after(async () => {
  await stompLimited.stop();
  await fewConnections.stop();
});

const CONNECT = 'CONNECT\naccept-version:1.2\nhost:/\n\n\0';
const errorOf = (frames) => frames.find((f) => f.startsWith('ERROR'));

async function connected(inst) {
  const c = await rawStomp(inst.wsUrl);
  c.send(CONNECT);
  await c.waitFor((f) => f.some((x) => x.startsWith('CONNECTED')));
  return c;
}

test('a client flooding frames gets an ERROR and is closed; a calm one is untouched', async () => {
  const calm = await connectStomp(stompLimited.wsUrl);
  const flood = await connected(stompLimited);
  for (let i = 0; i < 60; i++) flood.send('SUBSCRIBE\nid:x\ndestination:/topic/chatroom/1\n\n\0UNSUBSCRIBE\nid:x\n\n\0');
  await flood.waitFor((f, closed) => errorOf(f) && closed);
  assert.match(errorOf(flood.frames), /message:too many frames per second/);
  assert.ok([1000, 1002, 1008].includes(flood.closed.code), JSON.stringify(flood.closed));
  calm.subscribe('/topic/chatroom/1');
  await calm.sendWithReceipt('/app/chat.leave', { chatRoomId: 1, senderId: 1 }).catch(() => {});
  assert.equal(calm.closed, null, 'the calm client is still connected');
  await calm.close();
});

test('a burst within the rate passes', async () => {
  const c = await connected(stompLimited); // CONNECT was frame 1 of the 20 allowed at once
  for (let i = 0; i < 8; i++) {
    c.send(`SUBSCRIBE\nid:s\ndestination:/topic/chatroom/${i}\n\n\0UNSUBSCRIBE\nid:s\nreceipt:r${i}\n\n\0`);
  }
  await c.waitFor((f) => f.filter((x) => x.startsWith('RECEIPT')).length === 8);
  assert.equal(errorOf(c.frames), undefined, JSON.stringify(c.frames));
  assert.equal(c.closed, null);
  c.ws.close();
});

test('more subscriptions than allowed on one connection: ERROR, then close', async () => {
  const c = await connected(stompLimited);
  for (let i = 0; i < 4; i++) c.send(`SUBSCRIBE\nid:${i}\ndestination:/topic/chatroom/${i}\nreceipt:r${i}\n\n\0`);
  await c.waitFor((f, closed) => errorOf(f) && closed);
  assert.match(errorOf(c.frames), /message:too many subscriptions on one connection/);
  assert.equal(c.frames.filter((f) => f.startsWith('RECEIPT')).length, 3, 'the first three were accepted');
});

test('a frame with more headers than allowed: ERROR, then close', async () => {
  const c = await connected(stompLimited);
  const headers = Array.from({ length: 20 }, (_, i) => `x${i}:v`).join('\n');
  c.send(`SEND\ndestination:/app/chat.sendMessage\n${headers}\n\n{}\0`);
  await c.waitFor((f, closed) => errorOf(f) && closed);
  assert.match(errorOf(c.frames), /header/i);
});

test('SockJS sessions beyond the limit are refused with 503; existing ones keep working', async () => {
  const open = async (id) => fetch(`${stompLimited.url}/ws-chat/000/${id}/xhr`, { method: 'POST' });
  const base = `lim${Date.now()}`;
  assert.equal(await (await open(`${base}a`)).text(), 'o\n');
  assert.equal(await (await open(`${base}b`)).text(), 'o\n');
  const third = await open(`${base}c`);
  assert.equal(third.status, 503);
  assert.equal(await third.text(), 'too many SockJS sessions');
  const send = await fetch(`${stompLimited.url}/ws-chat/000/${base}a/xhr_send`, {
    method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify([CONNECT]) });
  assert.equal(send.status, 204);
  const poll = await (await open(`${base}a`)).text();
  assert.match(poll, /CONNECTED/);
});

function rawHttp(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', reject);
    s.data = '';
    s.on('data', (d) => { s.data += d; });
  });
}

test('connections beyond CHAT_MAX_CONNECTIONS get 503 and are closed; below it they are served', async () => {
  const held = [];
  for (let i = 0; i < 5; i++) held.push(await rawHttp(fewConnections.port));
  await sleep(100);
  const extra = await rawHttp(fewConnections.port);
  await new Promise((res) => extra.on('close', res));
  assert.match(extra.data, /^HTTP\/1\.1 503 /);
  assert.match(extra.data, /"message":"too many connections"/);
  held.pop().destroy();
  await sleep(100);
  const res = await fetch(`${fewConnections.url}/actuator/health/liveness`, { headers: { connection: 'close' } });
  assert.equal(res.status, 200);
  for (const s of held) s.destroy();
  assert.ok(fewConnections.logs.some((l) => /CHAT_MAX_CONNECTIONS is 5: refusing/.test(l)));
});
