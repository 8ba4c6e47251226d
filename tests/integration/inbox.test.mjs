// The inbox, GET /api/chat/rooms?memberId=&page=&size= (a chatd addition, issue 17;
// docs/protocol.md), against a real chatd, PostgreSQL and Redis: order by last activity,
// unread counts equal to the unread endpoint's and to a reference computed in SQL, last
// messages equal to the history's newest element, read marks, joins, leaves, paging, 400s.
// That a request is one statement is asserted in tests/lua/chat/routes/inbox_spec.lua.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sql, uniqueStudyId } from '../helpers/chatd.mjs';

const ENV = { TZ: 'UTC' };
let chatd;
let base;
after(async () => {
  const exit = await chatd.stop();
  assert.equal(exit.code, 0, 'chatd exits 0 on SIGTERM');
});

const ROOM_KEYS = ['id', 'studyId', 'name', 'isActive', 'memberCount', 'createdAt'];
const INBOX_KEYS = [...ROOM_KEYS, 'unreadCount', 'lastMessage'];
const MESSAGE_KEYS = ['id', 'chatRoomId', 'senderId', 'senderNickname', 'content', 'messageType', 'createdAt'];
const PAGE_KEYS = ['content', 'pageable', 'totalElements', 'totalPages', 'last', 'size', 'number', 'sort',
  'numberOfElements', 'first', 'empty'];
const PAGEABLE_KEYS = ['pageNumber', 'pageSize', 'sort', 'offset', 'paged', 'unpaged'];
const ERROR_KEYS = ['timestamp', 'status', 'error', 'message', 'path'];

// Member ids of their own, so rows of other suites never show in these inboxes.
const M = uniqueStudyId();
const O = M + 1;
const O2 = M + 2;
const LONELY = M + 3;

async function createRoom(name) {
  const studyId = uniqueStudyId();
  const res = await api(base, 'POST', `/api/chat/rooms?studyId=${studyId}&roomName=${encodeURIComponent(name)}`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

async function addMember(room, userId, nickname) {
  const res = await api(base, 'POST', '/api/chat/rooms/member', { studyId: room.studyId, roomId: room.id, userId, nickname });
  assert.equal(res.status, 200, res.text);
}

// A message at a time relative to now, in the database's Asia/Seoul wall clock.
function insertMessage(roomId, senderId, ago, type = 'CHAT', content = `at -${ago}`) {
  return Number(sql(`INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
    VALUES (${roomId}, ${senderId}, 'n${senderId}', '${content}', '${type}',
            now() AT TIME ZONE 'Asia/Seoul' - interval '${ago}') RETURNING id`)[0][0]);
}

async function inbox(query) {
  const res = await api(base, 'GET', `/api/chat/rooms?${query}`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(Object.keys(res.json), PAGE_KEYS);
  assert.deepEqual(Object.keys(res.json.pageable), PAGEABLE_KEYS);
  return res.json;
}

// The reference, computed in SQL: the member's active rooms by last activity, with the
// unread count as CONTRACT §3 defines it.
function reference(memberId) {
  return sql(`SELECT r.id,
      (SELECT count(*) FROM chat_messages c WHERE c.chat_room_id = r.id
         AND c.id > coalesce(m.last_read_message_id, 0) AND c.message_type = 'CHAT'
         AND c.sender_id <> m.member_id) AS unread
    FROM chat_room_members m JOIN chat_rooms r ON r.id = m.chat_room_id
    WHERE m.member_id = ${memberId} AND m.left_at IS NULL
    ORDER BY coalesce((SELECT max(c.created_at) FROM chat_messages c WHERE c.chat_room_id = r.id), r.created_at) DESC,
             r.id DESC`).map((r) => ({ id: Number(r[0]), unread: Number(r[1]) }));
}

// Every element against the other endpoints and the SQL reference.
async function checkAgainstEndpoints(page, memberId) {
  const ref = reference(memberId);
  assert.equal(page.totalElements, ref.length);
  const offset = page.pageable.offset;
  assert.deepEqual(page.content.map((e) => e.id), ref.slice(offset, offset + page.size).map((r) => r.id),
    'order by last activity, as the SQL reference');
  for (const [i, e] of page.content.entries()) {
    assert.deepEqual(Object.keys(e), INBOX_KEYS);
    const unread = await api(base, 'GET', `/api/chat/rooms/${e.id}/unread?memberId=${memberId}`);
    assert.equal(unread.status, 200, unread.text);
    assert.equal(e.unreadCount, unread.json.unreadCount, `room ${e.id}: the unread endpoint's count`);
    assert.equal(e.unreadCount, ref[offset + i].unread, `room ${e.id}: the SQL reference's count`);
    const room = await api(base, 'GET', `/api/chat/rooms/study/${e.studyId}`);
    assert.equal(room.status, 200, room.text);
    assert.deepEqual(Object.fromEntries(ROOM_KEYS.map((k) => [k, e[k]])), room.json, 'the ChatRoomResponse fields');
    const history = await api(base, 'GET', `/api/chat/rooms/${e.id}/messages?size=1`);
    assert.equal(history.status, 200, history.text);
    if (history.json.content.length === 0) {
      assert.equal(e.lastMessage, null);
    } else {
      assert.deepEqual(Object.keys(e.lastMessage), MESSAGE_KEYS);
      assert.deepEqual(e.lastMessage, history.json.content[0], 'the history\'s newest element');
    }
  }
}

let A; let B; let C;
const ids = {};

before(async () => {
  chatd = await startChatd({ env: ENV });
  base = chatd.url;
  A = await createRoom('inbox A');
  B = await createRoom('inbox B');
  C = await createRoom('inbox C');
  for (const room of [A, B, C]) {
    await addMember(room, M, '나');
    await addMember(room, O, '너');
  }
  // Rooms older than their messages; C has none, so its own created_at is its activity.
  sql(`UPDATE chat_rooms SET created_at = now() AT TIME ZONE 'Asia/Seoul' - interval '10 hours' WHERE id IN (${A.id}, ${B.id})`);
  sql(`UPDATE chat_rooms SET created_at = now() AT TIME ZONE 'Asia/Seoul' - interval '150 minutes' WHERE id = ${C.id}`);
  ids.a1 = insertMessage(A.id, O, '3 hours');
  ids.a2 = insertMessage(A.id, O, '2 hours');
  ids.a3 = insertMessage(A.id, O, '110 minutes', 'JOIN', 'O joined');  // newest of A, not counted
  ids.b1 = insertMessage(B.id, O, '1 hour');
  ids.b2 = insertMessage(B.id, M, '30 minutes');  // M's own: not counted
  // An older row with a higher id: activity is created_at, not id.
  ids.b0 = insertMessage(B.id, O, '5 hours');
});

test('the inbox: rooms by last activity, unread counts, last messages, as a Page', async () => {
  const page = await inbox(`memberId=${M}`);
  assert.deepEqual(page.content.map((e) => e.id), [B.id, A.id, C.id]);
  assert.equal(page.totalElements, 3);
  assert.equal(page.totalPages, 1);
  assert.equal(page.size, 20, 'Spring\'s default page size');
  assert.equal(page.numberOfElements, 3);
  assert.equal(page.first, true);
  assert.equal(page.last, true);
  assert.equal(page.empty, false);
  const [b, a, c] = page.content;
  assert.equal(b.unreadCount, 2, 'B: two by O, M\'s own not counted');
  assert.equal(b.lastMessage.id, ids.b2);
  assert.equal(b.lastMessage.senderId, M);
  assert.equal(a.unreadCount, 2, 'A: the JOIN is not counted');
  assert.equal(a.lastMessage.id, ids.a3);
  assert.equal(a.lastMessage.messageType, 'JOIN');
  assert.equal(c.unreadCount, 0);
  assert.equal(c.lastMessage, null);
  assert.equal(a.memberCount, 2);
  await checkAgainstEndpoints(page, M);
  // O sees the same rooms, with its own counts.
  const theirs = await inbox(`memberId=${O}`);
  assert.deepEqual(theirs.content.map((e) => e.id), [B.id, A.id, C.id]);
  assert.equal(theirs.content[0].unreadCount, 1, 'O: M\'s message in B');
  await checkAgainstEndpoints(theirs, O);
});

test('after a read mark, a join, a new message and a leave', async () => {
  let res = await api(base, 'POST', `/api/chat/rooms/${A.id}/read?memberId=${M}&lastMessageId=${ids.a1}`);
  assert.equal(res.status, 200, res.text);
  let page = await inbox(`memberId=${M}`);
  assert.equal(page.content.find((e) => e.id === A.id).unreadCount, 1, 'a2 left to read');
  await checkAgainstEndpoints(page, M);

  // A new message in C (written behind chatd's back, then a join through chatd, which
  // makes every cached count of the room outdated): C moves to the top.
  ids.c1 = insertMessage(C.id, O, '1 minute');
  res = await api(base, 'POST', `/api/chat/rooms/${C.id}/join?memberId=${O2}`);
  assert.equal(res.status, 200, res.text);
  page = await inbox(`memberId=${M}`);
  assert.deepEqual(page.content.map((e) => e.id), [C.id, B.id, A.id]);
  assert.equal(page.content[0].memberCount, 3, 'the join counts');
  assert.equal(page.content[0].unreadCount, 1);
  assert.equal(page.content[0].lastMessage.id, ids.c1);
  await checkAgainstEndpoints(page, M);
  const newcomer = await inbox(`memberId=${O2}`);
  assert.deepEqual(newcomer.content.map((e) => e.id), [C.id]);
  await checkAgainstEndpoints(newcomer, O2);

  // Paging: size 2 over three rooms.
  const p0 = await inbox(`memberId=${M}&size=2`);
  const p1 = await inbox(`memberId=${M}&size=2&page=1`);
  assert.deepEqual([...p0.content, ...p1.content], page.content, 'the two pages are the whole inbox');
  assert.deepEqual([p0.totalElements, p0.totalPages, p0.numberOfElements, p0.first, p0.last], [3, 2, 2, true, false]);
  assert.deepEqual([p1.totalElements, p1.totalPages, p1.numberOfElements, p1.first, p1.last], [3, 2, 1, false, true]);
  assert.equal(p1.pageable.offset, 2);
  await checkAgainstEndpoints(p0, M);
  await checkAgainstEndpoints(p1, M);
  const beyond = await inbox(`memberId=${M}&size=2&page=5`);
  assert.deepEqual([beyond.content.length, beyond.totalElements, beyond.empty], [0, 3, true]);
  const clamped = await inbox(`memberId=${M}&size=5000`);
  assert.equal(clamped.size, 2000);

  // Leaving B: it is gone from M's inbox, not from O's.
  res = await api(base, 'POST', `/api/chat/rooms/${B.id}/leave?memberId=${M}`);
  assert.equal(res.status, 200, res.text);
  page = await inbox(`memberId=${M}`);
  assert.deepEqual(page.content.map((e) => e.id), [C.id, A.id]);
  assert.equal(page.totalElements, 2);
  await checkAgainstEndpoints(page, M);
  const theirs = await inbox(`memberId=${O}`);
  assert.deepEqual(theirs.content.map((e) => e.id), [C.id, B.id, A.id]);
  assert.equal(theirs.content[1].memberCount, 1, 'B: M left');
  await checkAgainstEndpoints(theirs, O);
});

test('a member with no rooms: an empty page', async () => {
  const page = await inbox(`memberId=${LONELY}`);
  assert.deepEqual(page.content, []);
  assert.deepEqual([page.totalElements, page.totalPages, page.numberOfElements, page.empty, page.first, page.last],
    [0, 0, 0, true, true, true]);
});

test('400 for a missing or mistyped memberId and a bad page or size', async () => {
  const cases = [
    ['', /required parameter 'memberId' is missing/],
    ['memberId=', /required parameter 'memberId' is missing/],
    ['memberId=abc', /parameter 'memberId' must be a 64-bit integer, got 'abc'/],
    ['memberId=99999999999999999999', /must be a 64-bit integer/],
    [`memberId=${M}&page=-1`, /parameter 'page' must be at least 0/],
    [`memberId=${M}&page=x`, /parameter 'page' must be a 32-bit integer/],
    [`memberId=${M}&size=0`, /parameter 'size' must be at least 1/],
    [`memberId=${M}&size=x`, /parameter 'size' must be a 32-bit integer/],
  ];
  for (const [query, message] of cases) {
    const res = await api(base, 'GET', `/api/chat/rooms${query ? `?${query}` : ''}`);
    assert.equal(res.status, 400, `${query}: ${res.text}`);
    assert.deepEqual(Object.keys(res.json), ERROR_KEYS);
    assert.equal(res.json.path, '/api/chat/rooms');
    assert.match(res.json.message, message);
  }
});

test('the OpenAPI document describes the inbox', async () => {
  const res = await api(base, 'GET', '/v3/api-docs');
  assert.equal(res.status, 200);
  assert.equal(res.json.paths['/api/chat/rooms'].get.operationId, 'getInbox');
  assert.equal(res.json.paths['/api/chat/rooms'].post.operationId, 'createChatRoom');
});
