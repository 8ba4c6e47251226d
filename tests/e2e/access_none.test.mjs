// Access control without CHAT_AUTH (mode none, the default):
//  - the original behaviour (STOMP send stored and broadcast, history without identity);
//    chat.leave needs an active member or that member's presence in the session.
//  - /api/chat/internal/**: loopback by default; X-Forwarded-For / Forwarded close it;
//    CHAT_INTERNAL_NETWORKS narrows it; X-Internal-Token (CHAT_INTERNAL_TOKEN) opens it.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run. Shared setup: tests/helpers/access.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { api, sql, uniqueStudyId } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';
import { SEND_FAILED, chatdFor, uid, seedRoom, storedMessages, msg, assertError, wsUrl, isReceipt,
  onDest, stompSession, subscribed, send } from '../helpers/access.mjs';

describe('mode none (default)', () => {
  const box = chatdFor({});

  test('a member posts over STOMP: stored and broadcast; history is readable without identity', async () => {
    const [alice, bob] = [uid(), uid()];
    const room = seedRoom([alice, bob]);
    const topic = `/topic/chatroom/${room.id}`;
    const c1 = await connectStomp(wsUrl(box.chatd));
    const c2 = await connectStomp(wsUrl(box.chatd));
    try {
      c2.subscribe(topic, { receipt: 'sub' });
      await new Promise((r) => c2.client.watchForReceipt('sub', r));
      await c1.sendWithReceipt('/app/chat.sendMessage', msg(room.id, alice, 'hello, no identity'));
      const [got] = await c2.waitFor(topic, (m) => m.length >= 1);
      assert.equal(JSON.parse(got.body).content, 'hello, no identity');
      assert.equal(JSON.parse(got.body).senderId, alice);
      assert.deepEqual(storedMessages(room.id), [[String(alice), 'hello, no identity', 'CHAT']]);
      const history = await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`);
      assert.equal(history.status, 200, history.text);
      assert.deepEqual(history.json.content.map((m) => m.content), ['hello, no identity']);
      const unread = await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${bob}`);
      assert.equal(unread.status, 200, unread.text);
      assert.equal(unread.json.unreadCount, 1);
    } finally {
      await c1.close();
      await c2.close();
    }
  });

  test('chat.leave from a non-member is refused on the error queue and stores nothing', async () => {
    const [member, stranger, former] = [uid(), uid(), uid()];
    const room = seedRoom([member], [former]);
    const conn = await stompSession(wsUrl(box.chatd));
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      for (const who of [stranger, former]) {
        const r = send(conn, '/app/chat.leave', { chatRoomId: room.id, senderId: who, senderNickname: 'x' });
        const err = await conn.waitForFrame(onDest('/user/queue/errors', (f) => f.body.includes(String(who))));
        assert.match(err.body, new RegExp(`^${SEND_FAILED}.*${who}.*not an active member`));
        assert.ok(!conn.parsed.some(isReceipt(r)));
      }
      // An active member may leave: proves the refusals above were about membership.
      const ok = send(conn, '/app/chat.leave', { chatRoomId: room.id, senderId: member, senderNickname: '홍길동' });
      await conn.waitForFrame(isReceipt(ok));
      await conn.waitForFrame(onDest(`/topic/chatroom/${room.id}`));
      assert.ok(!conn.parsed.some(onDest(`/topic/chatroom/${room.id}`, (f) => !f.body.includes('홍길동'))),
        'only the member\'s LEAVE was broadcast');
      assert.deepEqual(storedMessages(room.id), [['0', '홍길동님이 퇴장하셨습니다.', 'LEAVE']]);
    } finally { conn.close(); }
  });

  test('chat.leave is allowed for a member present in this session who has left the room meanwhile', async () => {
    const member = uid();
    const room = seedRoom([member]);
    const conn = await stompSession(wsUrl(box.chatd));
    try {
      await subscribed(conn, '/user/queue/errors');
      await conn.waitForFrame(isReceipt(send(conn, '/app/chat.join', { chatRoomId: room.id, senderId: member, senderNickname: 'p' })));
      const left = await api(box.chatd.url, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=${member}`);
      assert.equal(left.status, 200, left.text);
      await conn.waitForFrame(isReceipt(send(conn, '/app/chat.leave', { chatRoomId: room.id, senderId: member, senderNickname: 'p' })));
      assert.deepEqual(storedMessages(room.id).map((r) => r[2]), ['JOIN', 'LEAVE']);
    } finally { conn.close(); }
  });

  test('internal endpoint: open from loopback, closed when the request came through a proxy', async () => {
    const base = box.chatd.url;
    const body = (studyId) => ({ studyId, roomName: 'internal', userId: uid(), nickname: 'n' });
    const ok = await api(base, 'POST', '/api/chat/internal/rooms/member', body(uniqueStudyId()));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.memberCount, 1);
    for (const hdr of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }]) {
      const studyId = uniqueStudyId();
      const res = await api(base, 'POST', '/api/chat/internal/rooms/member', body(studyId), hdr);
      assertError(res, 403, 'internal endpoint');
      assert.equal(res.json.path, '/api/chat/internal/rooms/member');
      assert.deepEqual(sql(`SELECT count(*) FROM chat_rooms WHERE study_id = ${studyId}`), [['0']]);
    }
  });
});

describe('internal endpoint, narrowed networks and a token', () => {
  const TOKEN = `it-${randomBytes(12).toString('hex')}`;
  const box = chatdFor({ CHAT_INTERNAL_NETWORKS: '10.0.0.0/8', CHAT_INTERNAL_TOKEN: TOKEN });
  const call = (studyId, headers = {}) => api(box.chatd.url, 'POST', '/api/chat/internal/rooms/member',
    { studyId, roomName: 'internal', userId: uid(), nickname: 'n' }, headers);
  const roomsOf = (studyId) => sql(`SELECT count(*) FROM chat_rooms WHERE study_id = ${studyId}`)[0][0];

  test('loopback outside CHAT_INTERNAL_NETWORKS: 403 "internal endpoint", nothing created', async () => {
    for (const headers of [{}, { 'x-internal-token': 'wrong' }, { 'x-internal-token': `${TOKEN}x` }]) {
      const studyId = uniqueStudyId();
      assertError(await call(studyId, headers), 403, 'internal endpoint');
      assert.equal(roomsOf(studyId), '0');
    }
  });

  test('the right X-Internal-Token opens it, also through a proxy', async () => {
    for (const extra of [{}, { 'x-forwarded-for': '203.0.113.9' }]) {
      const studyId = uniqueStudyId();
      const res = await call(studyId, { 'x-internal-token': TOKEN, ...extra });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.studyId, studyId);
      assert.equal(roomsOf(studyId), '1');
    }
  });
});
