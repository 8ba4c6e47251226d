// A mixed fleet (issue 14): chatd and an original pod on one PostgreSQL and one Redis, as
// during a rolling replacement. The original pod is tests/fixtures/spring-compat, configured
// as the original is, so Spring's own Jackson and Hibernate judge every shared wire: the
// chat:messages format both ways, timestamps through Hibernate's Asia/Seoul JDBC zone, the
// unread cache and presence keys, and a rollback that leaves only the original running.
// Both processes run in TZ=America/Sao_Paulo (UTC-3), so no zone can pass by accident.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sleep } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';
import { startSpringCompat, springCompatAvailable } from '../helpers/spring_compat.mjs';
import { freshDatabase, startRedis } from '../helpers/private_services.mjs';

const TZ = 'America/Sao_Paulo';
const PAGE_KEYS = ['content', 'pageable', 'totalElements', 'totalPages', 'last', 'size', 'number', 'sort',
  'numberOfElements', 'first', 'empty'];
const skip = springCompatAvailable() ? false : 'the fixture jar is not built (tests/fixtures/spring-compat/spring-compat.sh build)';

let db, redis, chatd, original, room, stomp;
const A = 9101; // a member who uses a chatd pod
const B = 9102; // a member who uses an original pod

before(async () => {
  if (skip) return;
  db = freshDatabase('chat_mixed_fleet');
  redis = await startRedis();
  // chatd first: its migrations create the tables the original pod then maps.
  chatd = await startChatd({ env: {
    SPRING_DATASOURCE_URL: db.url, SPRING_DATA_REDIS_PORT: String(redis.port), TZ,
  } });
  original = await startSpringCompat({ databaseUrl: db.url, redisPort: redis.port, tz: TZ });
  // Spring subscribes to chat:messages in the background after it reports healthy: wait
  // until a probe published there arrives, so the first test's message is not early.
  const probe = '["com.grow.chat.dto.ChatMessagePublish",{"chatRoomId":0,"id":0,"senderId":0,'
    + '"senderNickname":"probe","content":"probe","messageType":"CHAT","createdAt":"2026-01-01T00:00:00"}]';
  for (let i = 0; i < 100; i++) {
    redis.cli('PUBLISH', 'chat:messages', probe);
    if ((await api(original.url, 'GET', '/fixture/received')).json.messages.length > 0) break;
    await sleep(100);
  }
  assert.ok((await api(original.url, 'GET', '/fixture/received')).json.messages.length > 0,
    'the original pod subscribed to chat:messages');
  await api(original.url, 'DELETE', '/fixture/received');
  const studyId = 4242;
  let res = await api(chatd.url, 'POST', `/api/chat/rooms?studyId=${studyId}&roomName=mixed`);
  assert.equal(res.status, 200, res.text);
  room = res.json;
  for (const [userId, nickname] of [[A, 'on-chatd'], [B, 'on-original']]) {
    res = await api(chatd.url, 'POST', '/api/chat/rooms/member', { studyId, roomId: room.id, userId, nickname });
    assert.equal(res.status, 200, res.text);
  }
  stomp = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
  stomp.subscribe(`/topic/chatroom/${room.id}`);
  stomp.subscribe(`/topic/chatroom/${room.id}/presence`);
});

after(async () => {
  if (skip) return;
  await stomp?.close();
  await chatd?.stop();
  await original?.stop();
  await redis?.stop();
  db?.drop();
});

const received = async () => (await api(original.url, 'GET', '/fixture/received')).json;

async function sendThroughChatd(content) {
  const before = stomp.received(`/topic/chatroom/${room.id}`).length;
  await stomp.sendWithReceipt('/app/chat.sendMessage',
    { chatRoomId: room.id, senderId: A, senderNickname: 'on-chatd', content, messageType: 'CHAT' });
  const msgs = await stomp.waitFor(`/topic/chatroom/${room.id}`, (m) => m.length > before);
  return msgs[before];
}

async function sendThroughOriginal(content, senderId = B) {
  const res = await api(original.url, 'POST', '/fixture/messages',
    { chatRoomId: room.id, senderId, senderNickname: 'on-original', content, messageType: 'CHAT' });
  assert.equal(res.status, 200, res.text);
  return res;
}

async function unreadOn(base, memberId) {
  const res = await api(base, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${memberId}`);
  assert.equal(res.status, 200, `${base} unread for ${memberId}: ${res.status} ${res.text}`);
  assert.deepEqual(Object.keys(res.json), ['chatRoomId', 'unreadCount']);
  return res.json.unreadCount;
}

// The reference counts, in SQL: chatd counts CHAT messages of others after the mark (fix);
// the original counts every message after the mark.
function referenceUnread(memberId) {
  const [[chatdCount, originalCount]] = db.sql(`
    SELECT count(*) FILTER (WHERE c.message_type = 'CHAT' AND c.sender_id <> m.member_id), count(*)
    FROM chat_room_members m JOIN chat_messages c
      ON c.chat_room_id = m.chat_room_id AND c.id > coalesce(m.last_read_message_id, 0)
    WHERE m.chat_room_id = ${room.id} AND m.member_id = ${memberId}`);
  return { chatd: Number(chatdCount), original: Number(originalCount) };
}

test('chatd -> original: a message sent on chatd reaches the original pod as Jackson reads it', { skip }, async () => {
  await api(original.url, 'DELETE', '/fixture/received');
  const delivered = await sendThroughChatd('from chatd: 안녕하세요');
  let got;
  for (let i = 0; i < 100 && !got; i++) {
    got = (await received()).messages.find((m) => m.content === 'from chatd: 안녕하세요');
    if (!got) await sleep(50);
  }
  assert.ok(got, `the original pod received nothing: ${JSON.stringify(await received())}`);
  assert.deepEqual(got, JSON.parse(delivered.body), 'the same ChatMessagePublish on both kinds of pod');
  assert.equal((await received()).failures, 0, 'the original pod could deserialize everything on chat:messages');
  // The wire shape on Redis is Jackson's default typing: the wrapper array.
  const stored = db.sql(`SELECT to_char(created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') FROM chat_messages WHERE id = ${got.id}`)[0][0];
  const wire = new Date(`${got.createdAt}-03:00`);
  const seoul = new Date(`${stored}+09:00`);
  assert.equal(Math.abs(seoul - wire) < 1, true, `created_at ${stored} is Asia/Seoul wall-clock of ${got.createdAt} (${TZ})`);
});

test('original -> chatd: a message sent on the original pod reaches chatd subscribers as a plain object', { skip }, async () => {
  const res = await sendThroughOriginal('from the original');
  const msgs = await stomp.waitFor(`/topic/chatroom/${room.id}`,
    (m) => m.some((x) => JSON.parse(x.body).content === 'from the original'));
  const msg = msgs.find((x) => JSON.parse(x.body).content === 'from the original');
  assert.equal(msg.body, res.text, 'the body is the ChatMessagePublish the original pod would deliver, byte for byte');
  assert.equal(msg.headers['content-type'], 'application/json');
});

test('the same rows read identically through chatd and through the original (Hibernate, Asia/Seoul)', { skip }, async () => {
  await sendThroughChatd('row by chatd');
  await sendThroughOriginal('row by the original');
  const path = `/api/chat/rooms/${room.id}/messages?size=50`;
  const [c, o] = await Promise.all([api(chatd.url, 'GET', path), api(original.url, 'GET', path)]);
  assert.equal(c.status, 200, c.text);
  assert.equal(o.status, 200, o.text);
  assert.deepEqual(c.json, o.json, 'history pages agree on every field, timestamps included');
  assert.deepEqual(Object.keys(c.json), PAGE_KEYS, 'the key order the running original writes (CONTRACT §3)');
  assert.ok(c.json.content.length >= 4);
  // Paged and sorted the other way too.
  const asc = `/api/chat/rooms/${room.id}/messages?size=2&page=1&sort=createdAt,asc`;
  const [ca, oa] = await Promise.all([api(chatd.url, 'GET', asc), api(original.url, 'GET', asc)]);
  assert.deepEqual(ca.json.content, oa.json.content);
  // The room: no member has left, so even memberCount (a fix) agrees; byte for byte.
  const [cr, or] = await Promise.all([api(chatd.url, 'GET', `/api/chat/rooms/study/${room.studyId}`),
    api(original.url, 'GET', `/api/chat/rooms/study/${room.studyId}`)]);
  assert.equal(cr.text, or.text);
  // Error timestamps in spring.jackson.time-zone on both.
  const [ce, oe] = await Promise.all([api(chatd.url, 'GET', '/api/chat/rooms/study/1'),
    api(original.url, 'GET', '/api/chat/rooms/study/1')]);
  assert.equal(ce.status, 404);
  assert.equal(oe.status, 404);
  for (const e of [ce.json, oe.json]) assert.match(e.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00$/);
});

test('unread counts: neither pod fails on the other\'s cache, and each stays right after the other\'s writes', { skip }, async () => {
  const check = async (what) => {
    const ref = { [A]: referenceUnread(A), [B]: referenceUnread(B) };
    for (const m of [A, B]) {
      assert.equal(await unreadOn(chatd.url, m), ref[m].chatd, `chatd, member ${m}, ${what}`);
      assert.equal(await unreadOn(original.url, m), ref[m].original, `original, member ${m}, ${what}`);
    }
  };
  await check('at the start'); // the original pod has now cached its counts
  assert.match(redis.cli('GET', `chat:unread:${room.id}:${B}`), /^\d+$/, 'the original caches a JSON number');
  await sendThroughChatd('unread 1');
  assert.equal(redis.cli('EXISTS', `chat:unread:${room.id}:${B}`), '0', 'chatd dropped the original\'s outdated count');
  await check('after a message on chatd');
  await sendThroughOriginal('unread 2');
  await check('after a message on the original');
  const [[last]] = db.sql(`SELECT max(id) FROM chat_messages WHERE chat_room_id = ${room.id}`);
  let res = await api(original.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=${B}&lastMessageId=${last}`);
  assert.equal(res.status, 200, res.text);
  await check('after a read mark on the original');
  await check('again, from the caches');
  res = await api(chatd.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=${A}&lastMessageId=${last}`);
  assert.equal(res.status, 200, res.text);
  await check('after a read mark on chatd');
  assert.deepEqual(redis.cli('KEYS', 'chat:unread:count:*'), '', 'chatd caches nothing of its own in a mixed fleet');
});

test('presence: each pod reads the other\'s entries, and chatd subscribers see joins on the original', { skip }, async () => {
  const presence = `/topic/chatroom/${room.id}/presence`;
  await stomp.sendWithReceipt('/app/chat.join', { chatRoomId: room.id, senderId: A, senderNickname: 'on-chatd' });
  await stomp.waitFor(presence, (m) => m.some((x) => JSON.parse(x.body).some((p) => p.memberId === A)));
  const raw = redis.cli('HGET', `chatroom:presence:${room.id}`, A);
  assert.match(raw, /^"\{\\"memberId\\":9101,/, 'stored as a JSON string, the original serializer\'s form');
  let res = await api(original.url, 'GET', `/fixture/presence/${room.id}`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.map((p) => [p.memberId, p.nickname]), [[A, 'on-chatd']]);
  assert.equal(res.headers.get('x-presence-skipped'), '0');

  // A join on the original pod: its JOIN message (never stored, a random id) reaches chatd's
  // subscribers, and the presence list that follows it holds both members.
  const before = stomp.received(presence).length;
  res = await api(original.url, 'POST', '/fixture/presence/join',
    { chatRoomId: room.id, memberId: B, nickname: 'on-original', sessionId: 'orig-session-1' });
  assert.equal(res.status, 200, res.text);
  const lists = await stomp.waitFor(presence, (m) => m.length > before
    && JSON.parse(m[m.length - 1].body).length === 2);
  const list = JSON.parse(lists[lists.length - 1].body);
  assert.deepEqual(list.map((p) => p.memberId), [A, B], 'sorted by joinedAt');
  assert.deepEqual(Object.keys(list[1]), ['memberId', 'nickname', 'sessionId', 'joinedAt']);
  const join = stomp.received(`/topic/chatroom/${room.id}`).map((m) => JSON.parse(m.body))
    .find((m) => m.messageType === 'JOIN' && m.senderNickname === 'on-original');
  assert.ok(join && join.id >= 99100 && join.id < 100000, 'the original\'s JOIN was delivered as it sent it');

  // chatd's member leaves: the original's list loses it; the original's member leaves: chatd's
  // subscribers get a list without it.
  await stomp.sendWithReceipt('/app/chat.leave', { chatRoomId: room.id, senderId: A, senderNickname: 'on-chatd' });
  res = await api(original.url, 'GET', `/fixture/presence/${room.id}`);
  assert.deepEqual(res.json.map((p) => p.memberId), [B]);
  res = await api(original.url, 'POST', '/fixture/presence/leave',
    { chatRoomId: room.id, memberId: B, nickname: 'on-original', sessionId: 'orig-session-1' });
  assert.equal(res.status, 200, res.text);
  await stomp.waitFor(presence, (m) => JSON.parse(m[m.length - 1].body).length === 0);
});

test('rollback: with chatd stopped, the original reads everything chatd wrote, unchanged', { skip }, async () => {
  const path = `/api/chat/rooms/${room.id}/messages?size=100`;
  const lastByChatd = (await api(chatd.url, 'GET', path)).json;
  const roomByChatd = (await api(chatd.url, 'GET', `/api/chat/rooms/study/${room.studyId}`)).text;
  await stomp.close();
  stomp = null;
  const exit = await chatd.stop();
  chatd = null;
  assert.equal(exit.code, 0);
  const page = await api(original.url, 'GET', path);
  assert.equal(page.status, 200, page.text);
  assert.deepEqual(page.json, lastByChatd, 'every message, its id, text and timestamp, as chatd served it');
  assert.ok(page.json.content.some((m) => m.messageType === 'JOIN' && m.senderId === 0),
    'chatd\'s stored JOIN/LEAVE rows (a fix) read fine through Hibernate');
  assert.equal((await api(original.url, 'GET', `/api/chat/rooms/study/${room.studyId}`)).text, roomByChatd);
  for (const m of [A, B]) assert.equal(await unreadOn(original.url, m), referenceUnread(m).original);
  assert.equal((await received()).failures, 0, 'nothing chatd published failed on the original pod');
});
