// Access control, mode gateway: X-User-Id from a trusted proxy (default 127.0.0.1/32, or
// CHAT_TRUSTED_PROXIES) on REST and the WebSocket handshake; 401 / ERROR from elsewhere or
// without it; 403 when memberId/userId is somebody else; history and SUBSCRIBE only for
// active members; the errors queue of another user; SEND as somebody else goes to the
// error queue, unstored; refusals counted by reason; the rules are a script (lua/chat/auth/access.lua)
// changed by a reload while connected sessions keep their identity.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run. Shared setup: tests/helpers/access.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, api, sql, uniqueStudyId, REPO } from '../helpers/chatd.mjs';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.mjs';
import { ENV, SEND_FAILED, chatdFor, uid, seedRoom, storedMessages, httpRequest, assertError, user,
  assertPublic, wsUrl, isReceipt, onDest, stompSession, subscribed, send, assertConnectRefused,
  assertSubscribeRefused, assertSendAsOtherRefused } from '../helpers/access.mjs';

describe('mode gateway', () => {
  const box = chatdFor({ CHAT_AUTH: 'gateway' });

  test('each refusal is counted in chatd_access_denied_total by reason', async () => {
    const denials = async () => {
      const m = parsePrometheus((await api(box.chatd.url, 'GET', '/actuator/prometheus')).text);
      return Object.fromEntries(['unauthenticated', 'forbidden', 'internal'].map(
        (reason) => [reason, sampleValue(m, 'chatd_access_denied_total', { reason })]));
    };
    const before = await denials();
    const me = uid();
    const room = seedRoom([me]);
    assert.equal((await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`)).status, 401);
    assert.equal((await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${me + 1}`,
      undefined, { 'X-User-Id': String(me) })).status, 403);
    assert.equal((await api(box.chatd.url, 'POST', '/api/chat/internal/rooms/member',
      { studyId: uniqueStudyId(), roomName: 'x', userId: me }, { 'X-Forwarded-For': '203.0.113.5' })).status, 403);
    assert.deepEqual(await denials(), {
      unauthenticated: before.unauthenticated + 1, forbidden: before.forbidden + 1, internal: before.internal + 1,
    });
  });

  test('REST with X-User-Id from the trusted proxy (127.0.0.1): allowed for one\'s own memberId', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const base = box.chatd.url;
    const unread = await api(base, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${me}`, undefined, user(me));
    assert.equal(unread.status, 200, unread.text);
    assert.deepEqual(unread.json, { chatRoomId: room.id, unreadCount: 0 });
    const history = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages`, undefined, user(me));
    assert.equal(history.status, 200, history.text);
    const joined = await api(base, 'POST', `/api/chat/rooms/${room.id}/join?memberId=${me}`, undefined, user(me));
    assert.equal(joined.status, 200, joined.text);
  });

  test('REST without X-User-Id: 401 "authentication required"', async () => {
    const me = uid();
    const room = seedRoom([me]);
    for (const [method, p] of [['GET', `/api/chat/rooms/${room.id}/unread?memberId=${me}`],
      ['GET', `/api/chat/rooms/${room.id}/messages`], ['GET', `/api/chat/rooms/study/${room.studyId}`],
      ['POST', `/api/chat/rooms/${room.id}/join?memberId=${me}`]]) {
      const res = await api(box.chatd.url, method, p);
      assertError(res, 401, 'authentication required');
      assert.equal(res.json.path, p.split('?')[0]);
    }
  });

  test('memberId / userId other than X-User-Id: 403, and nothing changes', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me], [other]);
    const base = box.chatd.url;
    for (const [method, p] of [['POST', 'join'], ['POST', 'leave'], ['GET', 'unread']]) {
      const res = await api(base, method, `/api/chat/rooms/${room.id}/${p}?memberId=${other}`, undefined, user(me));
      assertError(res, 403, `memberId ${other} is not the authenticated user ${me}`);
    }
    const add = await api(base, 'POST', '/api/chat/rooms/member',
      { studyId: room.studyId, roomId: room.id, userId: other, nickname: 'x' }, user(me));
    assertError(add, 403, new RegExp(`${other} is not the authenticated user ${me}`));
    assert.deepEqual(sql(`SELECT member_id, left_at IS NULL FROM chat_room_members WHERE chat_room_id = ${room.id} ORDER BY id`),
      [[String(me), 't'], [String(other), 'f']], 'the former member was not reactivated');
  });

  test('history: 200 for one\'s room, 403 for another room, 404 for no room', async () => {
    const [me, other] = [uid(), uid()];
    const mine = seedRoom([me]);
    const theirs = seedRoom([other], [me]);
    const base = box.chatd.url;
    assert.equal((await api(base, 'GET', `/api/chat/rooms/${mine.id}/messages`, undefined, user(me))).status, 200);
    const denied = await api(base, 'GET', `/api/chat/rooms/${theirs.id}/messages`, undefined, user(me));
    assertError(denied, 403, `user ${me} is not an active member of chat room ${theirs.id}`);
    assertError(await api(base, 'GET', '/api/chat/rooms/999999999999/messages', undefined, user(me)), 404);
  });

  test('X-User-Id from an address outside CHAT_TRUSTED_PROXIES: 401 on REST, ERROR on CONNECT', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const p = `/api/chat/rooms/${room.id}/messages`;
    const trusted = await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.1' });
    assert.equal(trusted.status, 200, trusted.text);
    const untrusted = await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.3' });
    assertError(untrusted, 401);
    await assertConnectRefused(wsUrl(box.chatd), { headers: user(me), localAddress: '127.0.0.3' });
  });

  test('STOMP CONNECT without X-User-Id: ERROR "unauthorized: ..." and close', async () => {
    await assertConnectRefused(wsUrl(box.chatd), {}, 'authentication required');
  });

  test('public without identity: actuator, API docs, the demo page, SockJS info', () => assertPublic(box.chatd.url));

  test('the internal endpoint needs no identity in gateway mode (loopback)', async () => {
    const studyId = uniqueStudyId();
    const res = await api(box.chatd.url, 'POST', '/api/chat/internal/rooms/member',
      { studyId, roomName: 'gw', userId: uid(), nickname: 'n' });
    assert.equal(res.status, 200, res.text);
  });

  test('STOMP: SEND as another senderId goes to the error queue and is not stored', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me, other]);
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      await assertSendAsOtherRefused(conn, room, me, other);
    } finally { conn.close(); }
  });

  test('STOMP: join/leave as another senderId are refused too', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me, other]);
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    try {
      await subscribed(conn, '/user/queue/errors');
      const dests = ['/app/chat.join', '/app/chat.leave'];
      const receipts = dests.map((dest) => send(conn, dest, { chatRoomId: room.id, senderId: other, senderNickname: 'x' }));
      const errors = await conn.waitForFrames(onDest('/user/queue/errors'), 2);
      for (const err of errors) {
        assert.equal(err.body, `${SEND_FAILED}forbidden: senderId ${other} is not the authenticated user ${me}`);
      }
      assert.ok(!receipts.some((r) => conn.parsed.some(isReceipt(r))), 'no RECEIPT');
      assert.deepEqual(storedMessages(room.id), []);
    } finally { conn.close(); }
  });

  test('STOMP: SUBSCRIBE to a room one is not an active member of: ERROR and close', async () => {
    const [me, other] = [uid(), uid()];
    const theirs = seedRoom([other], [me]);
    for (const dest of [`/topic/chatroom/${theirs.id}`, `/topic/chatroom/${theirs.id}/presence`]) {
      const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
      await assertSubscribeRefused(conn, dest, `forbidden: user ${me} is not an active member of chat room ${theirs.id}`);
    }
    // One's own room, its presence and one's own error queues are fine.
    const mine = seedRoom([me]);
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    try {
      for (const dest of [`/topic/chatroom/${mine.id}`, `/topic/chatroom/${mine.id}/presence`,
        '/user/queue/errors', `/user/${me}/queue/errors`]) await subscribed(conn, dest);
    } finally { conn.close(); }
  });

  test('STOMP: SUBSCRIBE to another user\'s /user/{id}/queue/errors: ERROR and close', async () => {
    const [me, other] = [uid(), uid()];
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    await assertSubscribeRefused(conn, `/user/${other}/queue/errors`, `forbidden: user ${me} may not read the errors of user ${other}`);
  });
});

describe('the rules are a script: changed by a reload, sessions keep their identity', () => {
  test('a rule edited in lua/chat/auth/access.lua takes effect on SIGHUP; a connected user stays who they are', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-access-lua-'));
    fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
    const chatd = await startChatd({ luaDir: dir, env: { ...ENV, CHAT_AUTH: 'gateway', CHAT_LUA_WATCH: '0' } });
    try {
      const [me, other] = [uid(), uid()];
      const mine = seedRoom([me, other]);
      const theirs = seedRoom([other]);
      const history = () => api(chatd.url, 'GET', `/api/chat/rooms/${theirs.id}/messages`, undefined, user(me));
      assert.equal((await history()).status, 403);
      const conn = await stompSession(wsUrl(chatd), { headers: user(me) });
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${mine.id}`);

      // An operator opens history to every authenticated user: one line in access.lua.
      const file = path.join(dir, 'chat', 'auth', 'access.lua');
      const rules = fs.readFileSync(file, 'utf8');
      const edited = rules.replace('function M.may_read_room(req, room_id)\n',
        'function M.may_read_room(req, room_id)\n  if true then return nil end\n');
      assert.notEqual(edited, rules, 'the edit applies');
      fs.writeFileSync(file, edited);
      chatd.signal('SIGHUP');
      await chatd.waitForLog(/"logger":"reload".*replacing/);
      assert.equal((await history()).status, 200, 'the new rule serves');

      // The session connected before the reload is still user `me`, on the same socket.
      await assertSendAsOtherRefused(conn, mine, me, other);
      conn.close();
    } finally {
      await chatd.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mode gateway, CHAT_TRUSTED_PROXIES=127.0.0.2/32', () => {
  const box = chatdFor({ CHAT_AUTH: 'gateway', CHAT_TRUSTED_PROXIES: '127.0.0.2/32' });

  test('only the listed proxy is believed', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const p = `/api/chat/rooms/${room.id}/messages`;
    assertError(await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.1' }), 401);
    const ok = await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.2' });
    assert.equal(ok.status, 200, ok.text);
    await assertConnectRefused(wsUrl(box.chatd), { headers: user(me), localAddress: '127.0.0.1' });
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me), localAddress: '127.0.0.2' });
    conn.close();
  });
});
