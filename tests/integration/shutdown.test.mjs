// Graceful stop on SIGTERM (issue 7): readiness DOWN first while connections still work
// (CHAT_SHUTDOWN_DRAIN_MS), then no new connection, every STOMP client gets an ERROR and
// a clean close, every SEND that got a RECEIPT is in PostgreSQL, and the process exits 0
// within CHAT_SHUTDOWN_TIMEOUT_MS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@stomp/stompjs';
import WebSocket from 'ws';
import { startChatd, api, sql, uniqueStudyId, sleep, REPO } from '../helpers/chatd.mjs';

const CLIENTS = 6;
const IN_FLIGHT = 4; // SENDs each client keeps unanswered, so some are in flight at the stop
const DRAIN_MS = 1500;
const TIMEOUT_MS = 10000;
// The senders send as fast as receipts come back, above the default per-connection rate limit.
const UNLIMITED = { CHAT_STOMP_MAX_FRAMES_PER_SECOND: '1000000' };

// A client that sends continuously with receipts until its connection ends.
function sender(url, roomId, userId) {
  const receiptTimes = [];
  const state = { sent: [], receipted: [], errors: [], close: null, receiptTimes };
  state.receiptsAfter = (t) => receiptTimes.filter((x) => x >= t).length;
  let seq = 0;
  const client = new Client({
    brokerURL: url,
    webSocketFactory: () => new WebSocket(url, ['v12.stomp']),
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
  const sendOne = () => {
    if (!client.connected || state.close) return;
    const content = `u${userId}-${seq++}`;
    const receipt = `r-${content}`;
    client.watchForReceipt(receipt, () => {
      state.receipted.push(content);
      receiptTimes.push(Date.now());
      sendOne();
    });
    state.sent.push(content);
    client.publish({
      destination: '/app/chat.sendMessage',
      headers: { receipt },
      body: JSON.stringify({ chatRoomId: roomId, senderId: userId, senderNickname: `u${userId}`, content, messageType: 'CHAT' }),
    });
  };
  state.connected = new Promise((resolve, reject) => {
    client.onConnect = () => {
      for (let i = 0; i < IN_FLIGHT; i++) sendOne();
      resolve();
    };
    client.onWebSocketError = reject;
  });
  client.onStompError = (frame) => state.errors.push({ message: frame.headers.message, at: Date.now() });
  state.closed = new Promise((resolve) => {
    client.onWebSocketClose = (e) => {
      state.close = { code: e.code, at: Date.now() };
      resolve(state.close);
    };
  });
  client.activate();
  state.client = client;
  return state;
}

const refused = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.on('connect', () => { s.destroy(); resolve(false); });
  s.on('error', (e) => resolve(e.code === 'ECONNREFUSED'));
});

async function createRoom(chatd) {
  const studyId = uniqueStudyId();
  let room;
  for (let u = 1; u <= CLIENTS; u++) {
    const res = await api(chatd.url, 'POST', '/api/chat/internal/rooms/member', { studyId, roomName: 'shutdown', userId: u, nickname: `u${u}` });
    assert.equal(res.status, 200, res.text);
    room = res.json;
  }
  return room;
}

async function startSenders(chatd, room) {
  const url = `ws://127.0.0.1:${chatd.port}/ws-chat`;
  const clients = [];
  for (let u = 1; u <= CLIENTS; u++) clients.push(sender(url, room.id, u));
  await Promise.all(clients.map((c) => c.connected));
  await sleep(400);
  assert.ok(clients.every((c) => c.receipted.length > 0), 'every client is sending');
  return clients;
}

// What every stop must end with, drain or not; `goneAt` is when the sessions were told.
async function assertCleanEnd(chatd, room, clients, exited, termAt, goneAt) {
  const closes = await Promise.all(clients.map((c) => c.closed));
  assert.ok(await refused(chatd.port), 'no new connection once the sessions were told to go');
  const exit = await exited;
  assert.equal(exit.code, 0, `exit code ${exit.code} (signal ${exit.signal}):\n${chatd.logs.slice(-40).join('\n')}`);
  assert.ok(exit.at - termAt < TIMEOUT_MS, `exited ${exit.at - termAt} ms after SIGTERM`);
  assert.ok(exit.at >= goneAt, 'not before the drain window ended');
  for (const [i, c] of clients.entries()) {
    assert.deepEqual(c.errors.map((e) => e.message), ['server shutting down'], `client ${i + 1} got one ERROR`);
    assert.ok(c.receiptTimes.every((t) => t <= c.errors[0].at), 'no RECEIPT after the ERROR');
    assert.ok(c.errors[0].at >= goneAt - 50, 'the ERROR comes after the drain window');
    assert.ok([1000, 1001].includes(closes[i].code), `client ${i + 1} closed with ${closes[i].code}, not 1006`);
  }

  const stored = new Set(sql(`SELECT content FROM chat_messages WHERE chat_room_id = ${room.id}`).map((r) => r[0]));
  const receipted = clients.flatMap((c) => c.receipted);
  const sent = new Set(clients.flatMap((c) => c.sent));
  assert.ok(receipted.length > CLIENTS * 2, `messages receipted: ${receipted.length}`);
  for (const content of receipted) assert.ok(stored.has(content), `receipted ${content} is stored`);
  for (const content of stored) assert.ok(sent.has(content), `stored ${content} was sent`);
  await chatd.stop(); // sanitizer report check; the process is gone already
  for (const c of clients) await c.client.deactivate();
}

const exitOf = (chatd) => new Promise((resolve) => chatd.proc.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));

test('SIGTERM with a drain window: readiness DOWN while still serving, then ERROR, clean close, receipted messages stored, exit 0 in time', async () => {
  const chatd = await startChatd({ env: { ...UNLIMITED, CHAT_SHUTDOWN_DRAIN_MS: String(DRAIN_MS), CHAT_SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) } });
  const room = await createRoom(chatd);
  const clients = await startSenders(chatd, room);

  const exited = exitOf(chatd);
  const termAt = Date.now();
  chatd.signal('SIGTERM');

  // The drain window: readiness is DOWN, and yet REST and STOMP still work.
  let readiness;
  for (let i = 0; i < 20; i++) {
    readiness = await fetch(`${chatd.url}/actuator/health/readiness`);
    if (readiness.status === 503) break;
    await sleep(25);
  }
  assert.equal(readiness.status, 503, 'readiness DOWN during the drain');
  assert.equal((await readiness.json()).status, 'OUT_OF_SERVICE');
  const scrape = await (await fetch(`${chatd.url}/actuator/prometheus`)).text();
  assert.match(scrape, /^chatd_stopping 1$/m);
  await sleep(DRAIN_MS / 2);
  assert.ok(clients.every((c) => c.errors.length === 0 && c.close === null), 'no client closed during the drain');
  assert.ok(clients.every((c) => c.receiptsAfter(termAt + 100) > 0), 'STOMP still served during the drain');

  await assertCleanEnd(chatd, room, clients, exited, termAt, termAt + DRAIN_MS);
});

// A STOMP session over SockJS's websocket transport, spoken frame by frame.
async function sockjsStomp(chatd) {
  const ws = new WebSocket(`ws://127.0.0.1:${chatd.port}/ws-chat/000/shut${Date.now()}/websocket`);
  const frames = [];
  let wake = () => {};
  ws.on('message', (d) => { frames.push(d.toString()); wake(); });
  const closed = new Promise((resolve) => ws.on('close', (code) => { wake(); resolve(code); }));
  const until = async (pred) => {
    const end = Date.now() + 5000;
    while (!pred(frames.join('\n'))) {
      if (Date.now() > end) throw new Error(`SockJS frames: ${JSON.stringify(frames)}`);
      await new Promise((r) => { wake = r; setTimeout(r, 50); });
    }
  };
  await until((t) => t.startsWith('o'));
  ws.send(JSON.stringify(['CONNECT\naccept-version:1.2\nheart-beat:0,0\n\n\u0000']));
  await until((t) => t.includes('CONNECTED'));
  return { frames, until, closed };
}

test('SIGTERM without a drain window, clients sending: ERROR, clean close, receipted messages stored, exit 0', async () => {
  const chatd = await startChatd({ env: { ...UNLIMITED, CHAT_SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) } });
  const room = await createRoom(chatd);
  const clients = await startSenders(chatd, room);
  const sockjs = await sockjsStomp(chatd);
  const exited = exitOf(chatd);
  const termAt = Date.now();
  chatd.signal('SIGTERM');
  // SockJS clients hear it too: the ERROR in an "a" frame, then SockJS's own close frame.
  await sockjs.until((t) => t.includes('message:server shutting down') && t.includes('c[3000,\"Go away!\"]'));
  await sockjs.closed;
  await assertCleanEnd(chatd, room, clients, exited, termAt, termAt);
});

test('a SEND being stored when SIGTERM arrives is stored and receipted, then the ERROR', async () => {
  // Scripts whose message store takes 600 ms, so the SEND is surely in flight at the stop.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-lua-'));
  fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
  const file = path.join(dir, 'chat', 'domain', 'messages.lua');
  const original = fs.readFileSync(file, 'utf8');
  const slowed = original.replace('function M.store(room_id, sender_id, nickname, content, kind, member_check)\n',
    'function M.store(room_id, sender_id, nickname, content, kind, member_check)\n  chat.sleep(0.6)\n');
  assert.notEqual(slowed, original);
  fs.writeFileSync(file, slowed);
  const chatd = await startChatd({ luaDir: dir, env: { ...UNLIMITED, CHAT_SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS) } });
  try {
    const room = await createRoom(chatd);
    const url = `ws://127.0.0.1:${chatd.port}/ws-chat`;
    const frames = [];
    const client = new Client({ brokerURL: url, webSocketFactory: () => new WebSocket(url, ['v12.stomp']), reconnectDelay: 0 });
    client.onStompError = (f) => frames.push(`ERROR ${f.headers.message}`);
    const closed = new Promise((resolve) => { client.onWebSocketClose = (e) => resolve(e.code); });
    await new Promise((resolve) => { client.onConnect = resolve; client.activate(); });
    client.watchForReceipt('slow-1', () => frames.push('RECEIPT slow-1'));
    client.publish({ destination: '/app/chat.sendMessage', headers: { receipt: 'slow-1' },
      body: JSON.stringify({ chatRoomId: room.id, senderId: 1, senderNickname: 'u1', content: 'in flight', messageType: 'CHAT' }) });
    await sleep(200);
    const exited = exitOf(chatd);
    chatd.signal('SIGTERM');
    const code = await closed;
    assert.deepEqual(frames, ['RECEIPT slow-1', 'ERROR server shutting down']);
    assert.ok([1000, 1001].includes(code), `closed with ${code}`);
    assert.deepEqual(sql(`SELECT content FROM chat_messages WHERE chat_room_id = ${room.id}`), [['in flight']]);
    assert.equal((await exited).code, 0);
    await client.deactivate();
  } finally {
    await chatd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
