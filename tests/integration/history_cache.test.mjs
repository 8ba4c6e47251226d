// The newest history page kept in memory (lua/chat/domain/history_cache.lua), against two
// real chatd instances sharing PostgreSQL and a private Redis: a page read on one instance
// is never stale after a message stored through the other (checked right after each
// RECEIPT), deeper pages keep matching the table while the count and where each page ended
// are reused (pages after the first read by keyset), the metrics
// count hits, and after Redis restarts empty no page kept before is served.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sql, sleep, roomWithMembers } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';
import { startRedis } from '../helpers/private_services.mjs';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.mjs';

let redis;
let a;
let b;
const env = (port) => ({ SPRING_DATA_REDIS_PORT: String(port), CHAT_MIXED_FLEET: 'false', CHAT_REDIS_TIMEOUT_MS: '500' });
before(async () => {
  redis = await startRedis();
  [a, b] = await Promise.all([startChatd({ env: env(redis.port) }), startChatd({ env: env(redis.port) })]);
});
after(async () => {
  await a?.stop();
  await b?.stop();
  await redis?.stop();
});

async function page(instance, room, query = 'size=50') {
  const res = await api(instance.url, 'GET', `/api/chat/rooms/${room.id}/messages?${query}`);
  assert.equal(res.status, 200, res.text);
  return res;
}

// The room's ids newest first, as the table holds them.
const tableIds = (room) => sql(`SELECT id FROM chat_messages WHERE chat_room_id = ${room.id}
  ORDER BY created_at DESC, id DESC`).map((r) => Number(r[0]));

async function outcomes(instance) {
  const res = await api(instance.url, 'GET', '/actuator/prometheus');
  const families = parsePrometheus(res.text);
  const of = (outcome) => sampleValue(families, 'chatd_history_cache_requests_total', { outcome });
  return { hit: of('hit'), miss: of('miss'), bypass: of('bypass'), keyset: of('keyset') };
}

test('a page kept on one instance is never stale after a message stored through the other', async () => {
  const room = await roomWithMembers(a.url, [71, 'sender']);
  const sender = await connectStomp(a.wsUrl);
  try {
    const before = await outcomes(b);
    const first = await page(b, room);
    const again = await page(b, room);
    assert.equal(again.text, first.text, 'the same text from memory');
    const after = await outcomes(b);
    assert.equal(after.hit - before.hit, 1, 'the second read was a hit');
    assert.equal(after.miss - before.miss, 1);
    for (let i = 0; i < 20; i++) {
      await sender.sendWithReceipt('/app/chat.sendMessage',
        { chatRoomId: room.id, senderId: 71, senderNickname: 'sender', content: `m${i}`, messageType: 'CHAT' });
      // Right after the RECEIPT, on the other instance, twice (the second from memory).
      for (let k = 0; k < 2; k++) {
        const res = await page(b, room);
        assert.equal(res.json.content[0].content, `m${i}`, `message ${i} is the newest on the other instance`);
        assert.deepEqual(res.json.content.map((m) => m.id), tableIds(room).slice(0, 50));
        assert.equal(res.json.totalElements, tableIds(room).length);
      }
    }
    const end = await outcomes(b);
    assert.ok(end.hit - after.hit >= 20, `pages between writes come from memory (${end.hit - after.hit} hits)`);
  } finally {
    await sender.close();
  }
});

test('deeper pages match the table while the count is reused, and move with new messages', async () => {
  const room = await roomWithMembers(a.url, [72, 'deep']);
  sql(`INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
    SELECT ${room.id}, 72, 'deep', 'old ' || g, 'CHAT', now() - g * interval '1 second' FROM generate_series(1, 30) g`);
  // Rows written behind chatd's back (as by a migration) are seen once the generation moves:
  // a write through chatd does that.
  const sender = await connectStomp(a.wsUrl);
  try {
    await sender.sendWithReceipt('/app/chat.sendMessage',
      { chatRoomId: room.id, senderId: 72, senderNickname: 'deep', content: 'newest', messageType: 'CHAT' });
    const ids = tableIds(room);
    assert.ok(ids.length >= 31);
    const pages = Math.ceil(ids.length / 7);
    const before = await outcomes(b);
    for (const instance of [b, b, a, b]) {
      for (let p = 1; p < pages; p++) {
        const res = await page(instance, room, `page=${p}&size=7`);
        assert.deepEqual(res.json.content.map((m) => m.id), ids.slice(p * 7, p * 7 + 7), `page ${p}`);
        assert.equal(res.json.totalElements, ids.length);
        assert.equal(res.json.totalPages, pages);
        assert.equal(res.json.last, p === pages - 1);
      }
    }
    // Page 1 follows page 0, never read here; every later page follows the one just read,
    // so it starts after that page's last message (in each of b's three passes).
    const walked = await outcomes(b);
    assert.equal(walked.keyset - before.keyset, 3 * (pages - 2), 'pages 2 and later read after their bound');
    await sender.sendWithReceipt('/app/chat.sendMessage',
      { chatRoomId: room.id, senderId: 72, senderNickname: 'deep', content: 'one more', messageType: 'CHAT' });
    const res = await page(b, room, 'page=1&size=7');
    assert.equal(res.json.totalElements, ids.length + 1);
    assert.deepEqual(res.json.content.map((m) => m.id), tableIds(room).slice(7, 14), 'the page moved by one');
  } finally {
    await sender.close();
  }
});

test('after Redis restarts empty, no page kept before it is served', async () => {
  const room = await roomWithMembers(a.url, [73, 'restart']);
  const sender = await connectStomp(a.wsUrl);
  try {
    for (let i = 0; i < 3; i++) {
      await sender.sendWithReceipt('/app/chat.sendMessage',
        { chatRoomId: room.id, senderId: 73, senderNickname: 'restart', content: `before ${i}`, messageType: 'CHAT' });
    }
    await page(b, room);
    const kept = await page(b, room); // from memory, under generation 4 (a join and three messages)
    assert.equal(kept.json.content[0].content, 'before 2');
    assert.equal(redis.cli('GET', `chat:unread:gen:${room.id}`), '4');
    // Redis restarts without its data: the generation is gone ("0" again) and will count
    // up from there, so a page kept under an old number must never be trusted again.
    const port = redis.port;
    await redis.stop();
    redis = await startRedis({ port });
    // Messages written behind chatd's back and generations counted up again to the kept one.
    sql(`INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
      VALUES (${room.id}, 73, 'restart', 'after', 'CHAT', now() AT TIME ZONE 'Asia/Seoul')`);
    redis.cli('SET', `chat:unread:gen:${room.id}`, '4');
    // Once b's link is back (its health says so), its answer is the table's.
    const deadline = Date.now() + 15000;
    for (;;) {
      const health = await api(b.url, 'GET', '/actuator/health');
      if (health.status === 200 && JSON.stringify(health.json).includes('"redis":{"status":"UP"')) break;
      if (Date.now() > deadline) throw new Error(`Redis link of b not back: ${health.text}`);
      await sleep(100);
    }
    const res = await page(b, room);
    assert.equal(res.json.content[0].content, 'after', 'the page kept before the restart was dropped');
    assert.deepEqual(res.json.content.map((m) => m.id), tableIds(room).slice(0, 50));
  } finally {
    await sender.close();
  }
});
