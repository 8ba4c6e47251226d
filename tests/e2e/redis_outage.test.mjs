// Gap-free across a Redis outage (docs/reliability.md): two instances share PostgreSQL and
// a private Redis, members of four rooms subscribe on both while both keep sending, and
// Redis is stopped for several seconds (its data gone, as after a restart without
// persistence), or one instance alone is cut off from it. When the links return, each
// instance catches its subscribers up from PostgreSQL and publishes what it could not:
// every subscriber has every stored message of its room exactly once, checked against the
// table. Presence entries of the instances' sessions are restored.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, sql, sleep, roomWithMembers } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';
import { startRedis, startTcpProxy } from '../helpers/private_services.mjs';

let redis;
let proxy; // instance a reaches Redis through it, so it alone can be cut off
let a;
let b;
before(async () => {
  redis = await startRedis();
  proxy = await startTcpProxy(redis.port);
  const env = (port) => ({ SPRING_DATA_REDIS_PORT: String(port), CHAT_REDIS_TIMEOUT_MS: '500' });
  [a, b] = await Promise.all([startChatd({ env: env(proxy.port) }), startChatd({ env: env(redis.port) })]);
});
after(async () => {
  await a?.stop();
  await b?.stop();
  await proxy?.stop();
  await redis?.stop();
});

const topic = (room) => `/topic/chatroom/${room.id}`;
const storedIds = (room) => sql(`SELECT id FROM chat_messages WHERE chat_room_id = ${room.id} AND message_type = 'CHAT'
  ORDER BY id`).map((r) => Number(r[0]));
const chatIds = (frames) => frames.map((m) => JSON.parse(m.body)).filter((m) => m.messageType === 'CHAT').map((m) => m.id);

async function waitUntil(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timeout: ${what}`);
    await sleep(50);
  }
}

// Members of four rooms subscribe on both instances and send from both while `fault` runs;
// then every subscriber must have every stored CHAT message of its room exactly once.
async function underLoad(fault, memberBase) {
  const rooms = [];
  for (let r = 0; r < 4; r++) rooms.push(await roomWithMembers(a.url, [memberBase + 2 * r, 'x'], [memberBase + 1 + 2 * r, 'y']));
  const subscribers = [];
  const senders = [];
  for (const [r, room] of rooms.entries()) {
    for (const inst of [a, b]) {
      const conn = await connectStomp(inst.wsUrl);
      conn.subscribe(topic(room));
      subscribers.push({ room, conn });
    }
    senders.push({ room, member: memberBase + 2 * r, conn: await connectStomp(a.wsUrl) });
    senders.push({ room, member: memberBase + 1 + 2 * r, conn: await connectStomp(b.wsUrl) });
  }
  await sleep(200);
  let sending = true;
  let sent = 0;
  let refused = 0;
  const loops = senders.map(async ({ room, member, conn }) => {
    while (sending) {
      try {
        await conn.sendWithReceipt('/app/chat.sendMessage',
          { chatRoomId: room.id, senderId: member, senderNickname: 'm', content: `n${sent}` });
        sent++;
      } catch { refused++; }
      await sleep(20);
    }
  });
  try {
    await sleep(1500);
    await fault();
    await sleep(1500);
  } finally {
    sending = false;
    await Promise.all(loops);
  }
  assert.ok(sent > 200, `messages were sent throughout (${sent})`);
  assert.equal(refused, 0, 'PostgreSQL was up: nothing refused');
  for (const { room, conn } of subscribers) {
    const expected = storedIds(room);
    const missing = () => {
      const have = new Set(chatIds(conn.received(topic(room))));
      return expected.filter((id) => !have.has(id));
    };
    await waitUntil(() => missing().length === 0, 10000, `room ${room.id}: never got ${missing()}`);
    await sleep(100);
    const got = chatIds(conn.received(topic(room)));
    assert.equal(new Set(got).size, got.length, `room ${room.id}: no message twice`);
    assert.deepEqual([...got].sort((x, y) => x - y), expected, `room ${room.id}: every stored message`);
  }
  for (const { conn } of [...subscribers, ...senders]) await conn.close();
}

const logCount = (inst, re) => inst.logs.filter((l) => re.test(l)).length;

test('Redis stopped for 4 s under load on two instances: every subscriber gets every stored message exactly once', async () => {
  const caughtUpBefore = [a, b].map((inst) => logCount(inst, /caught up after the Redis outage: [1-9]/));
  await underLoad(async () => {
    await redis.stop();
    await sleep(4000);
    redis = await startRedis({ port: redis.port });
    await Promise.all([a, b].map((inst) => inst.waitForLog(/caught up after the Redis outage/, 15000)));
  }, 7100);
  const caughtUp = [a, b].map((inst, i) => logCount(inst, /caught up after the Redis outage: [1-9]/) - caughtUpBefore[i]);
  assert.ok(caughtUp.some((n) => n > 0), 'an instance delivered missed messages from PostgreSQL');
});

test('one instance cut off from Redis for 3 s while the other is fine: nothing missed on either', async () => {
  const late = /published \d+ message\(s\) that could not be published/;
  const caught = /caught up after the Redis outage/;
  const [publishedBefore, caughtUpBefore, bCaughtUpBefore] = [logCount(a, late), logCount(a, caught), logCount(b, caught)];
  await underLoad(async () => {
    proxy.cut();
    await sleep(3000);
    proxy.restore();
    await waitUntil(() => logCount(a, caught) > caughtUpBefore, 15000, 'a caught up');
  }, 7300);
  assert.ok(logCount(a, late) > publishedBefore, 'the cut-off instance published its messages late');
  assert.equal(logCount(b, caught), bCaughtUpBefore, 'b was never cut off');
});

test('presence of each instance\'s sessions is written back after Redis lost it', async () => {
  const room = await roomWithMembers(a.url, [7201, 'pa'], [7202, 'pb']);
  const onA = await connectStomp(a.wsUrl);
  const onB = await connectStomp(b.wsUrl);
  try {
    onA.subscribe(`${topic(room)}/presence`);
    await sleep(100);
    await onA.sendWithReceipt('/app/chat.join', { chatRoomId: room.id, senderId: 7201, senderNickname: 'pa' });
    await onB.sendWithReceipt('/app/chat.join', { chatRoomId: room.id, senderId: 7202, senderNickname: 'pb' });
    const members = () => redis.cli('HKEYS', `chatroom:presence:${room.id}`).split('\n').filter(Boolean).sort();
    assert.deepEqual(members(), ['7201', '7202']);

    const pushesBefore = onA.received(`${topic(room)}/presence`).length;
    redis.cli('SET', 'outage:sentinel', '1');
    await redis.stop();
    redis = await startRedis({ port: redis.port });
    // The restart lost everything (the instances may already be writing their entries back,
    // so the room's hash itself is no witness).
    assert.equal(redis.cli('EXISTS', 'outage:sentinel'), '0', 'the restarted Redis started empty');
    await waitUntil(() => members().length === 2, 15000, `presence restored: ${members()}`);
    assert.deepEqual(members(), ['7201', '7202']);
    // The list is pushed again to the room's subscribers.
    const got = await onA.waitFor(`${topic(room)}/presence`, (m) => m.length > pushesBefore
      && JSON.parse(m.at(-1).body).length === 2, 10000);
    assert.deepEqual(JSON.parse(got.at(-1).body).map((p) => p.memberId).sort(), [7201, 7202]);
    assert.ok(Number(redis.cli('TTL', `chatroom:presence:${room.id}`)) > 0, 'restored with its expiry');
  } finally {
    await onA.close();
    await onB.close();
  }
});
