// Faults under traffic, each with a check that nothing was lost: PostgreSQL restarted while
// members are sending, and one of two chatd instances killed with SIGKILL under load.
// The rule in both: every message that got a RECEIPT is in PostgreSQL exactly once, and
// nothing is delivered that was not stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startChatd, api, sql, uniqueStudyId, sleep, REPO } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

const services = path.join(REPO, 'deploy', 'dev', 'services.sh');

async function roomWith(inst, members) {
  const studyId = uniqueStudyId();
  let room;
  for (const userId of members) {
    const res = await api(inst.url, 'POST', '/api/chat/internal/rooms/member', { studyId, roomName: 'faults', userId, nickname: `u${userId}` });
    assert.equal(res.status, 200, res.text);
    room = res.json;
  }
  return room;
}

// Sends a message with a receipt every `everyMs` until stopped; records what was sent and
// what was receipted. `client()` gives the connection to use now (it may change).
function sendLoop(client, roomId, senderId, everyMs) {
  const state = { sent: [], receipted: [], running: true, seq: 0 };
  state.done = (async () => {
    while (state.running) {
      const c = client();
      if (c && c.client.connected) {
        const content = `s${senderId}-${state.seq++}`;
        const receipt = `r-${content}`;
        c.client.watchForReceipt(receipt, () => state.receipted.push(content));
        state.sent.push(content);
        c.send('/app/chat.sendMessage', { chatRoomId: roomId, senderId, senderNickname: `u${senderId}`, content, messageType: 'CHAT' },
          { receipt });
      }
      await sleep(everyMs);
    }
  })();
  return state;
}

function storedContents(roomId) {
  return sql(`SELECT content FROM chat_messages WHERE chat_room_id = ${roomId} AND message_type = 'CHAT'`).map((r) => r[0]);
}

function assertNothingLost(roomId, loops, delivered) {
  const stored = storedContents(roomId);
  const counts = new Map();
  for (const c of stored) counts.set(c, (counts.get(c) ?? 0) + 1);
  for (const [c, n] of counts) assert.equal(n, 1, `${c} stored ${n} times`);
  const sent = new Set(loops.flatMap((l) => l.sent));
  for (const c of stored) assert.ok(sent.has(c), `stored ${c} was sent`);
  for (const l of loops) for (const c of l.receipted) assert.ok(counts.has(c), `receipted ${c} is stored`);
  for (const c of delivered) assert.ok(counts.has(c), `delivered ${c} was stored`);
  return stored;
}

test('PostgreSQL restarted while members send: refused meanwhile, nothing half-stored, then sending again', async () => {
  const chatd = await startChatd({ env: { CHAT_KAFKA_ENABLED: '0' } });
  const room = await roomWith(chatd, [8101, 8102]);
  const topic = `/topic/chatroom/${room.id}`;
  const sender = await connectStomp(chatd.wsUrl);
  const reader = await connectStomp(chatd.wsUrl);
  sender.subscribe('/user/queue/errors');
  reader.subscribe(topic);
  await sleep(100);
  const loop = sendLoop(() => sender, room.id, 8101, 20);
  try {
    await sleep(400);
    execFileSync(services, ['stop-pg']);
    await sleep(2500); // past the pool's 2 s: queued sends are refused, not left hanging
  } finally {
    execFileSync(services, ['start-pg']);
  }
  const before = loop.receipted.length;
  for (let i = 0; i < 100 && loop.receipted.length < before + 10; i++) await sleep(100);
  loop.running = false;
  await loop.done;
  await sleep(500);

  assert.ok(loop.receipted.length >= before + 10,
    `sends succeed again once PostgreSQL is back: ${loop.receipted.length - before} more receipts, closed ${JSON.stringify(sender.closed)}\n${chatd.logs.filter((l) => !l.includes('"DEBUG"')).slice(-25).join('\n')}`);
  const errors = sender.received('/user/queue/errors').map((m) => m.body);
  assert.ok(errors.length > 0 && errors.every((b) => /database unavailable|could not be stored/.test(b)),
    `sends during the outage were refused with a reason: ${JSON.stringify(errors.slice(0, 3))}`);
  const delivered = reader.received(topic).map((m) => JSON.parse(m.body).content);
  const stored = assertNothingLost(room.id, [loop], delivered);
  assert.ok(stored.length < loop.sent.length, 'some sends were refused during the outage');
  assert.equal(sender.closed, null, 'the connection survived the outage');
  await sender.close();
  await reader.close();
  assert.equal((await chatd.stop()).code, 0);
});

test('one of two instances killed with SIGKILL under load: clients move on, every receipted message is stored', async () => {
  const [a, b] = await Promise.all([startChatd({ env: { CHAT_KAFKA_ENABLED: '0' } }), startChatd({ env: { CHAT_KAFKA_ENABLED: '0' } })]);
  const members = [8201, 8202, 8203];
  const room = await roomWith(b, members);
  const topic = `/topic/chatroom/${room.id}`;
  const reader = await connectStomp(b.wsUrl);
  reader.subscribe(topic);
  // Each member starts on A; when A dies it reconnects to B, as a client behind a Service would.
  const current = new Map();
  for (const m of members) current.set(m, await connectStomp(a.wsUrl));
  const loops = members.map((m) => sendLoop(() => current.get(m), room.id, m, 15));
  await sleep(600);
  a.signal('SIGKILL');
  await sleep(200);
  for (const m of members) current.set(m, await connectStomp(b.wsUrl));
  const atKill = loops.map((l) => l.receipted.length);
  await sleep(800);
  for (const l of loops) l.running = false;
  await Promise.all(loops.map((l) => l.done));
  await sleep(500);

  loops.forEach((l, i) => assert.ok(l.receipted.length > atKill[i], 'the member carried on through B'));
  assert.ok(atKill.every((n) => n > 0), 'the members were sending through A before the kill');
  const delivered = reader.received(topic).map((m) => JSON.parse(m.body).content);
  assertNothingLost(room.id, loops, delivered);
  for (const c of current.values()) await c.close();
  await reader.close();
  assert.equal((await b.stop()).code, 0);
});

// The private Redis stopped keeping its data (SHUTDOWN SAVE), checked gone.
async function stopRedisSaving(port) {
  try { execFileSync('redis-cli', ['-p', port, 'shutdown', 'save'], { stdio: 'ignore' }); } catch { /* closes on us */ }
  for (let i = 0; i < 50; i++) {
    try { execFileSync('redis-cli', ['-p', port, 'ping'], { stdio: 'ignore' }); } catch { return; }
    await sleep(100);
  }
  throw new Error('Redis did not shut down');
}

// Until chatd's health shows Redis UP again (10 s at most).
async function waitForRedisUp(chatd) {
  let health;
  for (let i = 0; i < 100; i++) {
    health = (await api(chatd.url, 'GET', '/actuator/health')).json;
    if (health?.components?.redis?.status === 'UP') return;
    await sleep(100);
  }
  assert.equal(health?.components?.redis?.status, 'UP');
}

// The private Redis started again with the saved data. The server daemonizes before it
// loads the dump, so the dump is removed only once it answers (loaded); later restarts
// start empty again.
async function startRedisWithData(port, dump) {
  execFileSync('redis-server', [path.join(REPO, '.dev', 'redis', 'redis.conf')]);
  for (let i = 0; i < 100; i++) {
    let reply = '';
    try { reply = execFileSync('redis-cli', ['-p', port, 'ping'], { encoding: 'utf8' }).trim(); } catch { /* starting */ }
    if (reply === 'PONG') break;
    await sleep(50);
  }
  fs.rmSync(dump, { force: true });
}

test('Redis restarted with its data while a message is stored: the unread count is never served stale', async () => {
  // chatd's own count cache, which it keeps only without original pods in the fleet.
  const chatd = await startChatd({ env: { CHAT_KAFKA_ENABLED: '0', CHAT_MIXED_FLEET: 'false' } });
  const port = process.env.SPRING_DATA_REDIS_PORT;
  const dump = path.join(REPO, '.dev', 'redis', 'dump.rdb');
  try {
    const room = await roomWith(chatd, [9101, 9102]);
    const unread = async () => (await api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=9102`)).json.unreadCount;
    const sender = await connectStomp(chatd.wsUrl);
    const msg = (content) => ({ chatRoomId: room.id, senderId: 9101, senderNickname: 'u', content, messageType: 'CHAT' });
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('one'));
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('two'));
    assert.equal(await unread(), 2);
    assert.match(execFileSync('redis-cli', ['-p', port, 'GET', `chat:unread:count:${room.id}:9102`], { encoding: 'utf8' }), /^\d+:2$/m,
      'the count is cached');

    // Redis goes away keeping its data (the cached count included)...
    await stopRedisSaving(port);
    await chatd.waitForLog(/connection to .* lost|Pub\/Sub link|link .* lost/i, 5000).catch(() => {});
    // ...a message is stored meanwhile (its invalidation cannot reach Redis)...
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('three'));
    // ...and Redis comes back with the old cached count.
    await startRedisWithData(port, dump);
    await waitForRedisUp(chatd);
    assert.match(execFileSync('redis-cli', ['-p', port, 'GET', `chat:unread:count:${room.id}:9102`], { encoding: 'utf8' }), /^\d+:2$/m,
      'Redis came back with the old cached count');
    assert.equal(await unread(), 3, 'the count includes the message stored during the outage');
    await sender.close();
  } finally {
    try { execFileSync('redis-cli', ['-p', port, 'ping'], { stdio: 'ignore' }); } catch {
      execFileSync('redis-server', [path.join(REPO, '.dev', 'redis', 'redis.conf')]);
    }
    fs.rmSync(dump, { force: true });
    assert.equal((await chatd.stop()).code, 0);
  }
});

test('Redis restarted with its data while a message is stored, in a mixed fleet (the default): the count stays right and the original pods\' counts of the room go once chatd\'s link returns', async () => {
  const chatd = await startChatd({ env: { CHAT_KAFKA_ENABLED: '0' } });
  const port = process.env.SPRING_DATA_REDIS_PORT;
  const dump = path.join(REPO, '.dev', 'redis', 'dump.rdb');
  const cli = (...args) => execFileSync('redis-cli', ['-p', port, ...args], { encoding: 'utf8' }).trim();
  try {
    const room = await roomWith(chatd, [9201, 9202]);
    const unread = async () => (await api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=9202`)).json.unreadCount;
    const sender = await connectStomp(chatd.wsUrl);
    const msg = (content) => ({ chatRoomId: room.id, senderId: 9201, senderNickname: 'u', content, messageType: 'CHAT' });
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('one'));
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('two'));
    assert.equal(await unread(), 2);
    assert.equal(cli('KEYS', `chat:unread:count:${room.id}:*`), '', 'chatd caches no count of its own');
    // Counts an original pod cached (JSON numbers), kept in the data Redis restarts with.
    cli('SET', `chat:unread:${room.id}:9201`, '0');
    cli('SET', `chat:unread:${room.id}:9202`, '2');
    // A count of another room, which nothing of this test outdates: it shows Redis came back
    // with its data.
    cli('SET', `chat:unread:${room.id + 1000000}:1`, '5');

    await stopRedisSaving(port);
    await chatd.waitForLog(/connection to .* lost|Pub\/Sub link|link .* lost/i, 5000).catch(() => {});
    // Stored while the original's counts cannot be deleted...
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('three'));
    // ...and Redis comes back with them.
    await startRedisWithData(port, dump);
    await waitForRedisUp(chatd);
    assert.equal(cli('GET', `chat:unread:${room.id + 1000000}:1`), '5', 'Redis came back with its data');
    // The deletion the outage prevented is made once chatd's command link answers again
    // (app.redis_restored retries every failed invalidation), not left to the room's next
    // write: every original count of the room goes, the other member's too.
    for (let i = 0; i < 50 && cli('EXISTS', `chat:unread:${room.id}:9202`, `chat:unread:${room.id}:9201`) !== '0'; i++) {
      await sleep(100);
    }
    assert.equal(cli('EXISTS', `chat:unread:${room.id}:9202`), '0', 'the original\'s outdated count went');
    assert.equal(cli('EXISTS', `chat:unread:${room.id}:9201`), '0', 'the other member\'s outdated count went too');
    assert.equal(await unread(), 3, 'chatd counts in PostgreSQL: the message stored during the outage is counted');

    const [[two]] = sql(`SELECT id FROM chat_messages WHERE chat_room_id = ${room.id} AND content = 'two'`);
    const mark = await api(chatd.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=9202&lastMessageId=${two}`);
    assert.equal(mark.status, 200, mark.text);
    assert.equal(await unread(), 1);
    assert.equal(cli('KEYS', `chat:unread:count:${room.id}:*`), '');
    cli('DEL', `chat:unread:${room.id + 1000000}:1`);
    await sender.close();
  } finally {
    try { execFileSync('redis-cli', ['-p', port, 'ping'], { stdio: 'ignore' }); } catch {
      execFileSync('redis-server', [path.join(REPO, '.dev', 'redis', 'redis.conf')]);
    }
    fs.rmSync(dump, { force: true });
    assert.equal((await chatd.stop()).code, 0);
  }
});
