// The REST API of CONTRACT §3 against a real chatd, PostgreSQL and Redis.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sql, redis, uniqueStudyId } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

// The wire shows times in the process's zone (TZ); the database holds them in Asia/Seoul
// (SPRING_JPA_PROPERTIES_HIBERNATE_JDBC_TIME_ZONE's default). Fixed here so they compare exactly.
const ENV = { TZ: 'UTC' };
let chatd;
let base;
before(async () => {
  chatd = await startChatd({ env: ENV });
  base = chatd.url;
});
after(async () => {
  const exit = await chatd.stop();
  assert.equal(exit.code, 0, 'chatd exits 0 on SIGTERM');
});

const ROOM_KEYS = ['id', 'studyId', 'name', 'isActive', 'memberCount', 'createdAt'];
const MESSAGE_KEYS = ['id', 'chatRoomId', 'senderId', 'senderNickname', 'content', 'messageType', 'createdAt'];
const ERROR_KEYS = ['timestamp', 'status', 'error', 'message', 'path'];
const PAGE_KEYS = ['content', 'pageable', 'totalElements', 'totalPages', 'last', 'size', 'number', 'sort',
  'numberOfElements', 'first', 'empty'];
const PAGEABLE_KEYS = ['pageNumber', 'pageSize', 'sort', 'offset', 'paged', 'unpaged'];
const SORT_KEYS = ['sorted', 'empty', 'unsorted'];
const LOCAL_DATE_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?$/;

async function createRoom(name = 'Algo study', at = base) {
  const studyId = uniqueStudyId();
  const res = await api(at, 'POST', `/api/chat/rooms?studyId=${studyId}&roomName=${encodeURIComponent(name)}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function addMember(room, userId, nickname, at = base) {
  const res = await api(at, 'POST', '/api/chat/rooms/member',
    { studyId: room.studyId, roomId: room.id, userId, nickname });
  assert.equal(res.status, 200, res.text);
  return res.json;
}

function insertMessages(roomId, senderId, n, type = 'CHAT', start = '2025-01-09 14:30:00') {
  return sql(`INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
    SELECT ${roomId}, ${senderId}, 'n${senderId}', 'msg ' || g, '${type}', timestamp '${start}' + g * interval '1 second'
    FROM generate_series(1, ${n}) g RETURNING id`).map((r) => Number(r[0]));
}

function assertError(res, status, path, messagePart) {
  assert.equal(res.status, status, res.text);
  assert.deepEqual(Object.keys(res.json), ERROR_KEYS);
  assert.equal(res.json.status, status);
  assert.equal(res.json.path, path);
  // Spring Boot's error timestamp in SPRING_JACKSON_TIME_ZONE (default Asia/Seoul): the
  // current instant with milliseconds and the zone's offset.
  assert.match(res.json.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+09:00$/);
  const age = Date.now() - Date.parse(res.json.timestamp);
  assert.ok(age >= -1000 && age < 60000, `the timestamp ${res.json.timestamp} is now, in +09:00`);
  if (messagePart) assert.match(res.json.message, messagePart);
}

test('create a room: exact ChatRoomResponse, 409 for a second room of the study', async () => {
  const room = await createRoom('알고리즘 스터디');
  assert.deepEqual(Object.keys(room), ROOM_KEYS);
  assert.equal(room.name, '알고리즘 스터디');
  assert.equal(room.isActive, true);
  assert.equal(room.memberCount, 0);
  assert.match(room.createdAt, LOCAL_DATE_TIME);
  const age = Date.now() - Date.parse(`${room.createdAt}Z`);
  assert.ok(age >= -1000 && age < 60000, `createdAt ${room.createdAt} is now in TZ (UTC)`);
  // The row holds the same instant as Asia/Seoul wall-clock time.
  const [[stored]] = sql(`SELECT to_char((created_at AT TIME ZONE 'Asia/Seoul') AT TIME ZONE 'UTC',
    'YYYY-MM-DD"T"HH24:MI:SS.US') FROM chat_rooms WHERE study_id = ${room.studyId}`);
  assert.equal(room.createdAt, stored.replace(/0+$/, '').replace(/\.$/, ''));
  const again = await api(base, 'POST', `/api/chat/rooms?studyId=${room.studyId}&roomName=x`);
  assertError(again, 409, '/api/chat/rooms', /already has a chat room/);
  const rows = sql(`SELECT name, is_active FROM chat_rooms WHERE study_id = ${room.studyId}`);
  assert.deepEqual(rows, [['알고리즘 스터디', 't']]);
});

test('find by study, 404 for a study without a room', async () => {
  const room = await createRoom();
  const found = await api(base, 'GET', `/api/chat/rooms/study/${room.studyId}`);
  assert.equal(found.status, 200);
  assert.deepEqual(found.json, room);
  const missing = await api(base, 'GET', `/api/chat/rooms/study/${uniqueStudyId()}`);
  assertError(missing, 404, missing.json.path, /has no chat room/);
});

test('add member: 404 unless the room belongs to the study; a left member is reactivated (fix)', async () => {
  const room = await createRoom();
  const other = await createRoom();
  const wrong = await api(base, 'POST', '/api/chat/rooms/member',
    { studyId: other.studyId, roomId: room.id, userId: 1, nickname: 'a' });
  assertError(wrong, 404, '/api/chat/rooms/member', /does not belong to study/);
  assert.equal((await addMember(room, 1, '홍길동')).memberCount, 1);
  assert.equal((await addMember(room, 1, '홍길동')).memberCount, 1, 'adding twice is harmless');
  assert.equal((await api(base, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=1`)).status, 200);
  const back = await addMember(room, 1, '길동');
  assert.equal(back.memberCount, 1);
  assert.deepEqual(sql(`SELECT sender_nickname, left_at IS NULL FROM chat_room_members
    WHERE chat_room_id = ${room.id} AND member_id = 1`), [['길동', 't']]);
});

test('join and leave: memberCount counts active members only (fix); join after leave reactivates (fix)', async () => {
  const room = await createRoom();
  await addMember(room, 10, 'a');
  const joined = await api(base, 'POST', `/api/chat/rooms/${room.id}/join?memberId=11`);
  assert.equal(joined.status, 200);
  assert.deepEqual(Object.keys(joined.json), ROOM_KEYS);
  assert.equal(joined.json.memberCount, 2);
  const same = await api(base, 'POST', `/api/chat/rooms/${room.id}/join?memberId=11`);
  assert.equal(same.json.memberCount, 2, 'already active: no change');
  const left = await api(base, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=11`);
  assert.equal(left.status, 200);
  assert.equal(left.text, '');
  assert.equal((await api(base, 'GET', `/api/chat/rooms/study/${room.studyId}`)).json.memberCount, 1);
  const again = await api(base, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=11`);
  assertError(again, 404, `/api/chat/rooms/${room.id}/leave`, /not an active member/);
  const rejoined = await api(base, 'POST', `/api/chat/rooms/${room.id}/join?memberId=11`);
  assert.equal(rejoined.status, 200);
  assert.equal(rejoined.json.memberCount, 2);
  assert.deepEqual(sql(`SELECT count(*) FROM chat_room_members WHERE chat_room_id = ${room.id} AND member_id = 11`), [['1']]);
  const unknown = await api(base, 'POST', '/api/chat/rooms/999999999999/join?memberId=1');
  assertError(unknown, 404, '/api/chat/rooms/999999999999/join', /does not exist/);
});

test('internal add member is idempotent (fix)', async () => {
  const studyId = uniqueStudyId();
  const body = { studyId, roomName: 'Study', userId: 5, nickname: 'n' };
  const first = await api(base, 'POST', '/api/chat/internal/rooms/member', body);
  const second = await api(base, 'POST', '/api/chat/internal/rooms/member', body);
  assert.equal(first.status, 200, first.text);
  assert.equal(second.status, 200);
  assert.equal(first.json.id, second.json.id);
  assert.equal(second.json.memberCount, 1);
  assert.deepEqual(sql(`SELECT count(*) FROM chat_rooms WHERE study_id = ${studyId}`), [['1']]);
});

test('history: Spring Page JSON, paging and sorting', async () => {
  const room = await createRoom();
  const ids = insertMessages(room.id, 3, 7);
  const res = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages?page=1&size=3&sort=id,asc`);
  assert.equal(res.status, 200, res.text);
  const page = res.json;
  assert.deepEqual(Object.keys(page), PAGE_KEYS);
  // Always newest first, as the original (its query orders by createdAt DESC before any
  // `sort` parameter, which only breaks ties).
  assert.deepEqual(page.content.map((m) => m.id), [ids[3], ids[2], ids[1]]);
  assert.deepEqual(Object.keys(page.content[0]), MESSAGE_KEYS);
  assert.equal(page.content[0].chatRoomId, room.id);
  // Rows hold Asia/Seoul wall-clock time; the wire shows the same instant in TZ (UTC).
  assert.deepEqual(page.content.map((m) => m.createdAt),
    ['2025-01-09T05:30:04', '2025-01-09T05:30:03', '2025-01-09T05:30:02']);
  assert.deepEqual(page.pageable, { pageNumber: 1, pageSize: 3,
    sort: { sorted: true, empty: false, unsorted: false }, offset: 3, paged: true, unpaged: false });
  assert.deepEqual(Object.keys(page.pageable), PAGEABLE_KEYS);
  assert.deepEqual(Object.keys(page.pageable.sort), SORT_KEYS);
  assert.deepEqual(page.sort, { sorted: true, empty: false, unsorted: false });
  assert.deepEqual(Object.keys(page.sort), SORT_KEYS);
  assert.equal(page.size, 3);
  assert.equal(page.number, 1);
  assert.equal(page.totalElements, 7);
  assert.equal(page.totalPages, 3);
  assert.equal(page.first, false);
  assert.equal(page.last, false);
  assert.equal(page.numberOfElements, 3);
  assert.equal(page.empty, false);

  const newest = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages?size=2`);
  assert.deepEqual(newest.json.content.map((m) => m.id), [ids[6], ids[5]], 'default sort createdAt,desc');
  assert.equal(newest.json.size, 2);

  const last = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages?page=2&size=3&sort=createdAt,asc`);
  assert.deepEqual(last.json.content.map((m) => m.id), [ids[0]], 'createdAt,asc is still newest first');
  assert.equal(last.json.last, true);

  // Messages of the same instant: the `sort` parameter orders them (id in the last
  // direction breaks any remaining tie; the default is createdAt,desc).
  const tied = await createRoom();
  const same = sql(`INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
    SELECT ${tied.id}, 3, 'n3', 'tie ' || g, 'CHAT', timestamp '2025-01-09 15:00:00.5' FROM generate_series(1, 3) g
    RETURNING id`).map((r) => Number(r[0]));
  const order = async (q) => (await api(base, 'GET', `/api/chat/rooms/${tied.id}/messages${q}`)).json.content;
  assert.deepEqual((await order('?sort=id,asc')).map((m) => m.id), same);
  assert.deepEqual((await order('?sort=id,desc')).map((m) => m.id), [...same].reverse());
  assert.deepEqual((await order('?sort=createdAt,asc')).map((m) => m.id), same);
  assert.deepEqual((await order('')).map((m) => m.id), [...same].reverse());
  assert.deepEqual((await order('?sort=id,asc')).map((m) => m.createdAt), Array(3).fill('2025-01-09T06:00:00.5'));

  const beyond = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages?page=9&size=3`);
  assert.equal(beyond.json.empty, true);
  assert.equal(beyond.json.totalElements, 7);

  const clamped = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages?size=5000`);
  assert.equal(clamped.json.size, 2000);
  assert.equal(clamped.json.pageable.pageSize, 2000);
});

test('history: bad paging parameters and unknown rooms', async () => {
  const room = await createRoom();
  const p = `/api/chat/rooms/${room.id}/messages`;
  assertError(await api(base, 'GET', `${p}?page=-1`), 400, p, /page/);
  assertError(await api(base, 'GET', `${p}?size=0`), 400, p, /size/);
  assertError(await api(base, 'GET', `${p}?page=abc`), 400, p, /page/);
  assertError(await api(base, 'GET', `${p}?sort=name,asc`), 400, p, /sort/);
  assertError(await api(base, 'GET', `${p}?sort=id,sideways`), 400, p, /direction/);
  assertError(await api(base, 'GET', '/api/chat/rooms/987654321987/messages'), 404, '/api/chat/rooms/987654321987/messages');
});

test('unread counts: cached, never stale after messages and read marks, own and system messages not counted (fix)', async () => {
  // chatd caches its own counts only when no original pod shares Redis.
  const own = await startChatd({ env: { ...ENV, CHAT_MIXED_FLEET: 'false' } });
  try {
    await cachedUnreadCounts(own.url);
  } finally {
    assert.equal((await own.stop()).code, 0);
  }
});

async function cachedUnreadCounts(base) {
  const room = await createRoom('Algo study', base);
  await addMember(room, 21, 'reader', base);
  await addMember(room, 22, 'writer', base);
  const unread = async () => (await api(base, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=21`)).json;

  assert.deepEqual(await unread(), { chatRoomId: room.id, unreadCount: 0 });
  assert.match(redis('GET', `chat:unread:count:${room.id}:21`), /^\d+:0$/, 'the count is cached in Redis');
  assert.equal(redis('EXISTS', `chat:unread:${room.id}:21`), '0', 'the original pods\' key is not chatd\'s');

  const ids = insertMessages(room.id, 22, 3);
  insertMessages(room.id, 21, 2);          // the reader's own messages
  insertMessages(room.id, 0, 1, 'JOIN');   // system messages
  // Rows inserted behind chatd's back do not bump the cache generation; chatd's own
  // writers do (checked below with the read mark). Bump it as chatd would after commit.
  redis('INCR', `chat:unread:gen:${room.id}`);
  assert.equal((await unread()).unreadCount, 3);

  const mark = await api(base, 'POST', `/api/chat/rooms/${room.id}/read?memberId=21&lastMessageId=${ids[1]}`);
  assert.equal(mark.status, 200);
  assert.equal(mark.text, '');
  assert.equal((await unread()).unreadCount, 1, 'a read mark through chatd is never served stale');

  const back = await api(base, 'POST', `/api/chat/rooms/${room.id}/read?memberId=21&lastMessageId=${ids[0]}`);
  assert.equal(back.status, 200);
  assert.deepEqual(sql(`SELECT last_read_message_id FROM chat_room_members WHERE chat_room_id = ${room.id} AND member_id = 21`),
    [[String(ids[1])]], 'the mark never moves backwards');

  assert.match(redis('GET', `chat:unread:count:${room.id}:21`), /^\d+:1$/, 'the new count is cached');

  const other = await createRoom('Algo study', base);
  const foreign = insertMessages(other.id, 1, 1);
  const bad = await api(base, 'POST', `/api/chat/rooms/${room.id}/read?memberId=21&lastMessageId=${foreign[0]}`);
  assertError(bad, 404, `/api/chat/rooms/${room.id}/read`, /does not exist in chat room/);
  const stranger = await api(base, 'POST', `/api/chat/rooms/${room.id}/read?memberId=99&lastMessageId=${ids[0]}`);
  assertError(stranger, 404, `/api/chat/rooms/${room.id}/read`, /not an active member/);
  const notMember = await api(base, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=99`);
  assertError(notMember, 404, `/api/chat/rooms/${room.id}/unread`);
}

test('unread counts in a mixed fleet (the default): counted in PostgreSQL, never cached, the original pods\' cached counts deleted after each commit', async () => {
  const room = await createRoom();
  await addMember(room, 31, 'reader');
  await addMember(room, 32, 'writer');
  const unread = async (member = 31) => (await api(base, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${member}`)).json;
  const originalKey = (member, roomId = room.id) => `chat:unread:${roomId}:${member}`;
  const ownKeys = () => redis('KEYS', `chat:unread:count:${room.id}:*`);

  assert.deepEqual(await unread(), { chatRoomId: room.id, unreadCount: 0 });
  assert.equal(ownKeys(), '', 'chatd caches no count of its own');
  assert.equal(redis('EXISTS', originalKey(31)), '0', 'nor does it write the original pods\' key');
  // Rows written behind chatd's back (as an original pod would, without moving chatd's
  // generation) are counted at once: every read counts in PostgreSQL.
  const ids = insertMessages(room.id, 32, 2);
  assert.equal((await unread()).unreadCount, 2);
  assert.equal(ownKeys(), '');

  // A message stored through STOMP: every original count of the room goes, no other room's.
  const other = await createRoom();
  redis('SET', originalKey(31), '2');
  redis('SET', originalKey(32), '0');
  redis('SET', originalKey(31, other.id), '4');
  const c = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
  try {
    await c.sendWithReceipt('/app/chat.sendMessage',
      { chatRoomId: room.id, senderId: 32, senderNickname: 'writer', content: 'mixed', messageType: 'CHAT' });
  } finally {
    await c.close();
  }
  assert.equal(redis('EXISTS', originalKey(31)), '0', 'the reader\'s original count is deleted');
  assert.equal(redis('EXISTS', originalKey(32)), '0', 'the writer\'s original count is deleted');
  assert.equal(redis('GET', originalKey(31, other.id)), '4', 'another room\'s count is kept');
  assert.equal((await unread()).unreadCount, 3);
  assert.equal((await unread(32)).unreadCount, 0, 'own messages are not counted (fix)');
  const [[stomped]] = sql(`SELECT id FROM chat_messages WHERE chat_room_id = ${room.id} AND content = 'mixed'`);

  // A read mark: that member's original count goes, the others' stay.
  redis('SET', originalKey(31), '3');
  redis('SET', originalKey(32), '0');
  const mark = await api(base, 'POST', `/api/chat/rooms/${room.id}/read?memberId=31&lastMessageId=${ids[1]}`);
  assert.equal(mark.status, 200, mark.text);
  assert.equal(redis('EXISTS', originalKey(31)), '0', 'the marking member\'s original count is deleted');
  assert.equal(redis('GET', originalKey(32)), '0', 'another member\'s original count is kept');
  assert.equal((await unread()).unreadCount, 1);
  assert.equal((await api(base, 'POST', `/api/chat/rooms/${room.id}/read?memberId=31&lastMessageId=${stomped}`)).status, 200);
  assert.equal((await unread()).unreadCount, 0);

  // A member joining and one leaving: their own original counts go.
  redis('SET', originalKey(33), '4');
  assert.equal((await api(base, 'POST', `/api/chat/rooms/${room.id}/join?memberId=33`)).status, 200);
  assert.equal(redis('EXISTS', originalKey(33)), '0', 'the joining member\'s original count is deleted');
  assert.equal(redis('GET', originalKey(32)), '0');
  assert.equal((await unread(33)).unreadCount, 3, 'a new member counts the room\'s CHAT messages');
  redis('SET', originalKey(33), '3');
  assert.equal((await api(base, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=33`)).status, 200);
  assert.equal(redis('EXISTS', originalKey(33)), '0', 'the leaving member\'s original count is deleted');
  assert.equal(redis('GET', originalKey(32)), '0');
  assert.equal(ownKeys(), '', 'still no count of chatd\'s own');
  redis('DEL', originalKey(32), originalKey(31, other.id));
});

test('bad input: missing and mistyped parameters, malformed JSON, wrong methods, unknown paths', async () => {
  assertError(await api(base, 'POST', '/api/chat/rooms?roomName=x'), 400, '/api/chat/rooms', /'studyId' is missing/);
  assertError(await api(base, 'POST', '/api/chat/rooms?studyId=1x&roomName=x'), 400, '/api/chat/rooms', /'studyId' must be/);
  assertError(await api(base, 'POST', '/api/chat/rooms?studyId=99999999999999999999&roomName=x'), 400, '/api/chat/rooms');
  assertError(await api(base, 'POST', `/api/chat/rooms?studyId=${uniqueStudyId()}&roomName=%20%20`), 400, '/api/chat/rooms', /blank/);
  assertError(await api(base, 'POST', `/api/chat/rooms?studyId=${uniqueStudyId()}&roomName=${'a'.repeat(101)}`), 400, '/api/chat/rooms', /100/);
  const m = '/api/chat/rooms/member';
  assertError(await api(base, 'POST', m, '{"studyId": 1,'), 400, m, /malformed JSON/);
  assertError(await api(base, 'POST', m, '[1,2]'), 400, m, /object/);
  assertError(await api(base, 'POST', m, { studyId: 'one', roomId: 1, userId: 1 }), 400, m, /studyId/);
  assertError(await api(base, 'POST', m, { studyId: 1, roomId: 1 }), 400, m, /userId/);
  assertError(await api(base, 'POST', m, { studyId: 1, roomId: 1.5, userId: 1 }), 400, m, /roomId/);
  assertError(await api(base, 'POST', m, ''), 400, m, /body/);
  const wrong = await api(base, 'GET', '/api/chat/rooms/1/join?memberId=1');
  assertError(wrong, 405, '/api/chat/rooms/1/join');
  assert.equal(wrong.headers.get('allow'), 'POST');
  assertError(await api(base, 'GET', '/api/nothing/here'), 404, '/api/nothing/here');
  assertError(await api(base, 'GET', '/api/chat/rooms/study/abc'), 400, '/api/chat/rooms/study/abc');
});

test('an oversized body is refused with 413 and the server keeps serving', async () => {
  const big = JSON.stringify({ studyId: 1, roomId: 1, userId: 1, nickname: 'x'.repeat(2 * 1024 * 1024) });
  const res = await api(base, 'POST', '/api/chat/rooms/member', big);
  assert.equal(res.status, 413);
  assert.equal(res.json.status, 413);
  assert.equal((await api(base, 'GET', '/actuator/health/liveness')).status, 200);
});

test('actuator: health with db and redis components, liveness, readiness, api-docs', async () => {
  const health = await api(base, 'GET', '/actuator/health');
  assert.equal(health.status, 200);
  assert.equal(health.json.status, 'UP');
  assert.equal(health.json.components.db.status, 'UP');
  assert.equal(health.json.components.redis.status, 'UP');
  assert.deepEqual((await api(base, 'GET', '/actuator/health/liveness')).json, { status: 'UP' });
  assert.deepEqual((await api(base, 'GET', '/actuator/health/readiness')).json, { status: 'UP' });
  const docs = await api(base, 'GET', '/v3/api-docs');
  assert.equal(docs.json.openapi, '3.0.1');
  assert.ok(docs.json.paths['/api/chat/rooms/{chatRoomId}/messages'].get);
  assert.ok(docs.json.paths['/api/chat/rooms'].get, 'the inbox');
  assert.ok(docs.json.paths['/api/chat/rooms/{chatRoomId}/read-marks'].get);
  // The contract's nine paths (the inbox shares /api/chat/rooms) and the room's read marks.
  assert.equal(Object.keys(docs.json.paths).length, 10);
});
