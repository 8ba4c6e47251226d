// STOMP over WebSocket across two chatd instances sharing one Redis and PostgreSQL
// (CONTRACT §4, §5), with the real clients: @stomp/stompjs and the legacy stompjs 2.x.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import net from 'node:net';
import { startChatd, api, sql, redis, sleep, REPO, roomWithMembers as createRoomWithMembers } from '../helpers/chatd.mjs';
import { connectStomp, rawStomp, WebSocket } from '../helpers/stomp.mjs';

const require = createRequire(import.meta.url);
// The slow-consumer test sends 300 frames at once on purpose: above the default rate limit.
const ENV = { CHAT_STOMP_HEARTBEAT_MS: '1000', CHAT_STOMP_MAX_FRAMES_PER_SECOND: '10000' };
let a;
let b;
before(async () => {
  [a, b] = await Promise.all([startChatd({ env: ENV }), startChatd({ env: ENV })]);
});
after(async () => {
  await a.stop();
  await b.stop();
});

const wsUrl = (inst, p = '/ws-chat') => `ws://127.0.0.1:${inst.port}${p}`;

const roomWithMembers = (...members) => createRoomWithMembers(a.url, ...members);

const msg = (roomId, senderId, content, extra = {}) =>
  ({ chatRoomId: roomId, senderId, senderNickname: `user${senderId}`, content, messageType: 'CHAT', ...extra });

test('messages from each instance reach subscribers on both, stored and visible over REST', async () => {
  const room = await roomWithMembers([101, '홍길동'], [102, '김철수']);
  const topic = `/topic/chatroom/${room.id}`;
  const c1 = await connectStomp(wsUrl(a));
  const c2 = await connectStomp(wsUrl(b, '/ws-chat/websocket'));
  try {
    c1.subscribe(topic);
    c2.subscribe(topic);
    await sleep(100);
    await c1.sendWithReceipt('/app/chat.sendMessage', msg(room.id, 101, '안녕하세요!'));
    await c2.sendWithReceipt('/app/chat.sendMessage', msg(room.id, 102, 'hello from B'));
    for (const c of [c1, c2]) {
      const got = await c.waitFor(topic, (m) => m.length >= 2);
      const bodies = got.map((m) => JSON.parse(m.body));
      assert.deepEqual(bodies.map((x) => x.content).sort(), ['hello from B', '안녕하세요!'].sort());
      const first = bodies.find((x) => x.senderId === 101);
      assert.deepEqual(Object.keys(first), ['chatRoomId', 'id', 'senderId', 'senderNickname', 'content', 'messageType', 'createdAt']);
      assert.equal(first.senderNickname, 'user101');
      assert.equal(got[0].headers['content-type'], 'application/json');
      assert.equal(got[0].headers.destination, topic);
      assert.ok(got[0].headers['message-id']);
    }
    const rows = sql(`SELECT sender_id, content, message_type FROM chat_messages WHERE chat_room_id = ${room.id} ORDER BY id`);
    assert.deepEqual(rows, [['101', '안녕하세요!', 'CHAT'], ['102', 'hello from B', 'CHAT']]);
    // History is always newest first, as the original's (a `sort` parameter only breaks ties).
    const history = await api(b.url, 'GET', `/api/chat/rooms/${room.id}/messages?sort=id,asc`);
    assert.deepEqual(history.json.content.map((m) => m.content), ['hello from B', '안녕하세요!']);
    const unread = await api(a.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=101`);
    assert.equal(unread.json.unreadCount, 1, 'the other member\'s message is unread, the own one is not');
  } finally {
    await c1.close();
    await c2.close();
  }
});

test('a RECEIPT for a SEND means the message is stored', async () => {
  const room = await roomWithMembers([111, 'r']);
  const c = await connectStomp(wsUrl(a));
  try {
    await c.sendWithReceipt('/app/chat.sendMessage', msg(room.id, 111, 'persisted?'));
    assert.deepEqual(sql(`SELECT content FROM chat_messages WHERE chat_room_id = ${room.id}`), [['persisted?']]);
  } finally { await c.close(); }
});

test('the original README client (stompjs 2.x Stomp.over) chats with @stomp/stompjs across instances', async () => {
  const room = await roomWithMembers([121, 'legacy'], [122, 'modern']);
  const Stomp = require('stompjs'); // the 2.x package exports Stomp itself
  const socket = new WebSocket(wsUrl(b), ['v11.stomp', 'v10.stomp']);
  const legacy = Stomp.over(socket);
  legacy.debug = () => {};
  const received = [];
  await new Promise((resolve, reject) => legacy.connect({}, resolve, reject));
  legacy.subscribe(`/topic/chatroom/${room.id}`, (m) => received.push(JSON.parse(m.body)));
  const modern = await connectStomp(wsUrl(a));
  try {
    modern.subscribe(`/topic/chatroom/${room.id}`);
    await sleep(100);
    legacy.send('/app/chat.sendMessage', {}, JSON.stringify(msg(room.id, 121, 'from the legacy client')));
    modern.send('/app/chat.sendMessage', msg(room.id, 122, 'from the modern client'));
    await modern.waitFor(`/topic/chatroom/${room.id}`, (m) => m.length >= 2);
    for (let i = 0; i < 50 && received.length < 2; i++) await sleep(50);
    assert.deepEqual(received.map((m) => m.content).sort(), ['from the legacy client', 'from the modern client']);
  } finally {
    await modern.close();
    await new Promise((r) => legacy.disconnect(r));
  }
});

test('join and leave: stored system messages and presence lists on both instances, cleaned up on disconnect', async () => {
  const room = await roomWithMembers([131, '홍길동'], [132, '김철수']);
  const topic = `/topic/chatroom/${room.id}`;
  const presence = `${topic}/presence`;
  const c1 = await connectStomp(wsUrl(a));
  const c2 = await connectStomp(wsUrl(b));
  try {
    for (const c of [c1, c2]) { c.subscribe(topic); c.subscribe(presence); }
    await sleep(100);
    await c1.sendWithReceipt('/app/chat.join', { chatRoomId: room.id, senderId: 131, senderNickname: '홍길동' });
    const joinMsgs = await c2.waitFor(topic, (m) => m.length >= 1);
    const join = JSON.parse(joinMsgs[0].body);
    assert.equal(join.messageType, 'JOIN');
    assert.equal(join.senderId, 0);
    assert.equal(join.content, '홍길동님이 입장하셨습니다.');
    assert.ok(join.id > 0, 'stored, with a real id (fix)');

    await c2.sendWithReceipt('/app/chat.join', { chatRoomId: room.id, senderId: 132, senderNickname: '김철수' });
    let list;
    for (const c of [c1, c2]) {
      const lists = await c.waitFor(presence, (m) => m.some((x) => JSON.parse(x.body).length === 2));
      list = JSON.parse(lists.find((x) => JSON.parse(x.body).length === 2).body);
      assert.deepEqual(list.map((p) => p.memberId), [131, 132], 'sorted by joinedAt');
      assert.deepEqual(Object.keys(list[0]), ['memberId', 'nickname', 'sessionId', 'joinedAt']);
      assert.match(list[0].sessionId, /^[0-9a-f]{16}$/);
    }
    assert.equal(redis('HLEN', `chatroom:presence:${room.id}`), '2');
    // Each hash value is a JSON string holding the entry's JSON, as the original's
    // serializer writes it; the list carries the entries themselves.
    for (const entry of list) {
      const stored = JSON.parse(redis('HGET', `chatroom:presence:${room.id}`, entry.memberId));
      assert.equal(typeof stored, 'string');
      assert.equal(stored, JSON.stringify(entry));
    }

    await c2.sendWithReceipt('/app/chat.leave', { chatRoomId: room.id, senderId: 132, senderNickname: '김철수' });
    const leaves = await c1.waitFor(topic, (m) => m.some((x) => JSON.parse(x.body).messageType === 'LEAVE'));
    assert.equal(JSON.parse(leaves.find((x) => JSON.parse(x.body).messageType === 'LEAVE').body).content, '김철수님이 퇴장하셨습니다.');
    await c1.waitFor(presence, (m) => JSON.parse(m[m.length - 1].body).length === 1);

    // A dropped connection is removed from presence.
    c2.subscribe(presence);
    await c1.close();
    await c2.waitFor(presence, (m) => m.length > 0 && JSON.parse(m[m.length - 1].body).length === 0);
    assert.equal(redis('HLEN', `chatroom:presence:${room.id}`), '0');
    assert.deepEqual(sql(`SELECT message_type FROM chat_messages WHERE chat_room_id = ${room.id} ORDER BY id`),
      [['JOIN'], ['JOIN'], ['LEAVE']]);
  } finally {
    await c2.close();
  }
});

// A subscriber on a Redis channel (redis-cli prints each message's three parts a line each).
function redisSubscriber(channel) {
  const proc = spawn('redis-cli', ['-h', process.env.SPRING_DATA_REDIS_HOST, '-p', process.env.SPRING_DATA_REDIS_PORT,
    'SUBSCRIBE', channel]);
  const lines = [];
  let buf = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) { lines.push(buf.slice(0, nl)); buf = buf.slice(nl + 1); }
  });
  return {
    // The payloads published so far.
    payloads: () => lines.filter((l, i) => i >= 2 && lines[i - 2] === 'message' && lines[i - 1] === channel),
    ready: async () => { for (let i = 0; i < 100 && lines.length < 3; i++) await sleep(20); },
    stop: () => proc.kill('SIGTERM'),
  };
}

test('chat:messages between pods: chatd publishes the original\'s wrapper array, delivers the array, "@class" and plain forms as the plain object, and a JOIN from any pod brings the room\'s presence list', async () => {
  const room = await roomWithMembers([171, 'sender']);
  const topic = `/topic/chatroom/${room.id}`;
  const presence = `${topic}/presence`;
  const CLASS = 'com.grow.chat.dto.ChatMessagePublish';
  const sub = redisSubscriber('chat:messages');
  const ca = await connectStomp(wsUrl(a));
  const cb = await connectStomp(wsUrl(b));
  try {
    for (const c of [ca, cb]) { c.subscribe(topic); c.subscribe(presence); }
    await sub.ready();
    await sleep(100);
    await ca.sendWithReceipt('/app/chat.sendMessage', msg(room.id, 171, 'wrapped'));
    const [delivered] = await cb.waitFor(topic, (m) => m.length >= 1);
    const plain = JSON.parse(delivered.body);
    assert.deepEqual(Object.keys(plain), ['chatRoomId', 'id', 'senderId', 'senderNickname', 'content', 'messageType', 'createdAt']);
    assert.equal(plain.content, 'wrapped');
    for (let i = 0; i < 50 && !sub.payloads().some((p) => p.includes('"wrapped"')); i++) await sleep(20);
    assert.deepEqual(sub.payloads().filter((p) => p.includes(`"chatRoomId":${room.id},`)),
      [`["${CLASS}",${delivered.body}]`], 'published as Jackson\'s wrapper array around the plain object');

    // What other pods publish, in each form chatd reads: subscribers get the plain object.
    const other = (id, content, messageType = 'CHAT') => ({ chatRoomId: room.id, id, senderId: messageType === 'CHAT' ? 171 : 0,
      senderNickname: 'sender', content, messageType, createdAt: '2026-01-09T14:30:00.5' });
    const forms = [
      [other(900000001, 'as an array'), (m) => `["${CLASS}",${JSON.stringify(m)}]`],
      [other(900000002, 'with @class'), (m) => JSON.stringify({ '@class': CLASS, ...m })],
      [other(900000003, 'plain'), (m) => JSON.stringify(m)],
    ];
    for (const [m, form] of forms) redis('PUBLISH', 'chat:messages', form(m));
    for (const c of [ca, cb]) {
      const got = await c.waitFor(topic, (x) => x.length >= 4);
      assert.deepEqual(got.slice(1).map((x) => x.body), forms.map(([m]) => JSON.stringify(m)));
    }
    assert.deepEqual(ca.received(presence), [], 'CHAT messages push no presence list');

    // A JOIN stored by an original pod: each instance reads the hash and pushes the list.
    const entry = { memberId: 172, nickname: 'elsewhere', sessionId: 'original-session-1', joinedAt: '2026-01-09T14:30:00.25' };
    redis('HSET', `chatroom:presence:${room.id}`, 172, JSON.stringify(JSON.stringify(entry)));
    const join = other(900000004, 'elsewhere님이 입장하셨습니다.', 'JOIN');
    redis('PUBLISH', 'chat:messages', `["${CLASS}",${JSON.stringify(join)}]`);
    for (const c of [ca, cb]) {
      const lists = await c.waitFor(presence, (x) => x.length >= 1);
      assert.deepEqual(lists.map((x) => x.body), [JSON.stringify([entry])]);
      assert.equal(c.received(topic).at(-1).body, JSON.stringify(join));
    }
    redis('DEL', `chatroom:presence:${room.id}`);
  } finally {
    sub.stop();
    await ca.close();
    await cb.close();
  }
});

test('send failures reach the sender\'s error subscriptions and nothing is stored', async () => {
  const room = await roomWithMembers([141, 'member']);
  const c = await connectStomp(wsUrl(a));
  try {
    c.subscribe('/user/queue/errors');
    c.subscribe('/user/142/queue/errors');
    await sleep(100);
    c.send('/app/chat.sendMessage', msg(room.id, 142, 'not a member'));
    c.send('/app/chat.sendMessage', msg(room.id, 141, '   '));
    c.send('/app/chat.sendMessage', '{"chatRoomId": 1,');
    const errors = await c.waitFor('/user/queue/errors', (m) => m.length >= 3);
    assert.match(errors[0].body, /^메시지 전송에 실패했습니다: .*not an active member/);
    assert.match(errors[1].body, /^메시지 전송에 실패했습니다: content must not be blank/);
    assert.match(errors[2].body, /^메시지 전송에 실패했습니다: .*JSON/);
    assert.equal(errors[0].headers['content-type'], 'text/plain;charset=UTF-8');
    await c.waitFor('/user/142/queue/errors', (m) => m.length >= 1);
    assert.deepEqual(sql(`SELECT count(*) FROM chat_messages WHERE chat_room_id = ${room.id}`), [['0']]);
  } finally { await c.close(); }
});

test('protocol errors: unknown destinations, SEND before CONNECT, oversized frames get ERROR then close', async () => {
  const r1 = await rawStomp(wsUrl(a));
  r1.send('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  r1.send('SUBSCRIBE\nid:0\ndestination:/topic/secret\nreceipt:s\n\n\0');
  await r1.waitFor((f, closed) => closed);
  assert.match(r1.frames.at(-1), /^ERROR\n/);
  assert.match(r1.frames.at(-1), /unknown destination/);

  const r2 = await rawStomp(wsUrl(a));
  r2.send('SEND\ndestination:/app/chat.sendMessage\n\n{}\0');
  await r2.waitFor((f, closed) => closed);
  assert.match(r2.frames[0], /^ERROR\n(.*\n)*message:expected a CONNECT frame first/);

  const r3 = await rawStomp(wsUrl(a));
  r3.send('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  r3.send(`SEND\ndestination:/app/chat.sendMessage\n\n${'x'.repeat(70 * 1024)}\0`);
  await r3.waitFor((f, closed) => closed);
  assert.match(r3.frames.at(-1), /^ERROR\n(.*\n)*message:frame too large/);

  const r4 = await rawStomp(wsUrl(a));
  r4.send('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  r4.send('SEND\ndestination:/topic/chatroom/1\n\nspoofed\0');
  await r4.waitFor((f, closed) => closed);
  assert.match(r4.frames.at(-1), /only \/app\/\.\.\. accepts SEND/);

  const r5 = await rawStomp(wsUrl(a));
  r5.send('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  r5.send('SEND\ndestination:/app/x\nbad\\q:1\n\n\0');
  await r5.waitFor((f, closed) => closed);
  assert.match(r5.frames.at(-1), /escape/);
  // The server is fine afterwards.
  assert.equal((await api(a.url, 'GET', '/actuator/health/liveness')).status, 200);
});

test('the WebSocket handshake selects the STOMP subprotocol and refuses bad upgrades', async () => {
  const ws = new WebSocket(wsUrl(a), ['v10.stomp', 'v11.stomp', 'v12.stomp']);
  await new Promise((r, j) => { ws.on('open', r); ws.on('error', j); });
  assert.equal(ws.protocol, 'v12.stomp');
  ws.close();
  const raw = (req) => new Promise((resolve, reject) => {
    const sock = net.connect(a.port, '127.0.0.1', () => sock.write(req));
    let data = '';
    sock.on('data', (d) => { data += d; if (data.includes('\r\n\r\n')) { sock.destroy(); resolve(data); } });
    sock.on('error', reject);
  });
  const base = 'GET /ws-chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n';
  const key = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
  assert.match(await raw(`${base}Sec-WebSocket-Version: 8\r\n${key}\r\n`), /^HTTP\/1\.1 426/);
  assert.match(await raw(`${base}Sec-WebSocket-Version: 13\r\n\r\n`), /^HTTP\/1\.1 400/);
  const ok = await raw(`${base}Sec-WebSocket-Version: 13\r\n${key}Sec-WebSocket-Protocol: v11.stomp\r\n\r\n`);
  assert.match(ok, /^HTTP\/1\.1 101/);
  assert.match(ok, /Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK\+xOo=/, 'RFC 6455 example key');
  assert.match(ok, /Sec-WebSocket-Protocol: v11\.stomp/);
});

test('heart-beats keep an idle connection alive; a silent client is dropped', async () => {
  const live = await connectStomp(wsUrl(a), { heartbeatIncoming: 1000, heartbeatOutgoing: 1000 });
  const silent = await rawStomp(wsUrl(a));
  silent.send('CONNECT\naccept-version:1.2\nhost:x\nheart-beat:1000,1000\n\n\0');
  await silent.waitFor((f) => f.length >= 1);
  assert.match(silent.frames[0], /heart-beat:1000,1000/);
  await silent.waitFor((f, closed) => closed, 5000);
  assert.ok(silent.frames.slice(1).some((f) => f === '\n'), 'the server sent heart-beats');
  assert.equal(live.closed, null, 'the client that beats stays connected');
  assert.ok(live.client.connected);
  await live.close();
});

test('a slow consumer is disconnected while the others keep receiving', async () => {
  const room = await roomWithMembers([151, 'sender']);
  const topic = `/topic/chatroom/${room.id}`;
  const slow = await rawStomp(wsUrl(b));
  slow.send('CONNECT\naccept-version:1.2\nhost:x\n\n\0');
  slow.send(`SUBSCRIBE\nid:0\ndestination:${topic}\nreceipt:sub\n\n\0`);
  await slow.waitFor((f) => f.some((x) => x.startsWith('RECEIPT')));
  slow.ws._socket.pause(); // stop reading: the server's queue for it grows
  const fast = await connectStomp(wsUrl(b));
  fast.subscribe(topic);
  const sender = await connectStomp(wsUrl(a));
  try {
    await sleep(100);
    const big = 'x'.repeat(60 * 1024);
    const N = 300; // ~18 MB: far beyond the kernel's socket buffers and the 512 KiB limit
    for (let i = 0; i < N; i++) sender.send('/app/chat.sendMessage', msg(room.id, 151, `${i} ${big}`));
    await fast.waitFor(topic, (m) => m.length >= N, 60000);
    await b.waitForLog(/dropping the slow consumer|no write progress/, 15000);
    slow.ws._socket.resume();
    await slow.waitFor((f, closed) => closed, 15000);
    assert.ok(slow.frames.length < N, `the slow consumer got ${slow.frames.length} of ${N}`);
  } finally {
    await fast.close();
    await sender.close();
  }
});

test('Redis restarted: the Pub/Sub link comes back and cross-instance delivery resumes', async () => {
  const room = await roomWithMembers([161, 'x'], [162, 'y']);
  const topic = `/topic/chatroom/${room.id}`;
  const port = process.env.SPRING_DATA_REDIS_PORT;
  // redis-cli may report the closed connection as an error after a successful SHUTDOWN:
  // the outcome checked is that Redis is gone.
  try { execFileSync('redis-cli', ['-p', port, 'shutdown', 'nosave'], { stdio: 'ignore' }); } catch { /* see above */ }
  for (let i = 0; i < 50; i++) {
    try { redis('PING'); } catch { break; }
    await sleep(100);
  }
  await b.waitForLog(/Pub\/Sub link|connection to .* lost/, 5000);
  execFileSync('redis-server', [path.join(REPO, '.dev', 'redis', 'redis.conf')]);
  for (let i = 0; i < 50; i++) {
    try { if (redis('PING') === 'PONG') break; } catch { /* starting */ }
    await sleep(100);
  }
  // Both instances reconnect by themselves (backoff up to a few seconds).
  const reconnected = (inst) => inst.logs.filter((l) => /Pub\/Sub link connected/.test(l)).length >= 2;
  for (let i = 0; i < 100 && !(reconnected(a) && reconnected(b)); i++) await sleep(100);
  assert.ok(reconnected(a) && reconnected(b), 'both Pub/Sub links reconnected and said so');
  const c1 = await connectStomp(wsUrl(a));
  const c2 = await connectStomp(wsUrl(b));
  try {
    c2.subscribe(topic);
    await sleep(200);
    await c1.sendWithReceipt('/app/chat.sendMessage', msg(room.id, 161, 'after the restart'));
    const got = await c2.waitFor(topic, (m) => m.length >= 1);
    assert.equal(JSON.parse(got[0].body).content, 'after the restart');
  } finally {
    await c1.close();
    await c2.close();
  }
});
