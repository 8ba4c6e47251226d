// A script error at run time (a bug in a Lua handler) fails that one request cleanly: a 500
// with Spring's error JSON for REST, a report on the sender's error queue for STOMP; it is
// logged with a traceback, and the process and every other connection carry on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, api, sql, uniqueStudyId, REPO } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

const BROKEN_ROOM = 424242424242;

test('a handler that raises fails only its own request, logged with a traceback', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-lua-'));
  fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
  const messagesLua = path.join(dir, 'chat', 'domain', 'messages.lua');
  const src = fs.readFileSync(messagesLua, 'utf8');
  // The bug: history of one room, and storing one particular text, raise.
  const patched = src
    .replace('function M.history(room_id, page, size, orders)\n',
      `function M.history(room_id, page, size, orders)\n  if room_id == ${BROKEN_ROOM} then error("injected history failure") end\n`)
    .replace('function M.store(room_id, sender_id, nickname, content, kind, member_check)\n',
      'function M.store(room_id, sender_id, nickname, content, kind, member_check)\n  if content == "boom" then error("injected store failure") end\n');
  assert.equal(patched.match(/injected (history|store) failure/g)?.length, 2, 'both functions patched');
  fs.writeFileSync(messagesLua, patched);
  const chatd = await startChatd({ luaDir: dir, env: { CHAT_KAFKA_ENABLED: '0' } });
  try {
    const broken = await api(chatd.url, 'GET', `/api/chat/rooms/${BROKEN_ROOM}/messages`);
    assert.equal(broken.status, 500);
    assert.deepEqual(Object.keys(broken.json), ['timestamp', 'status', 'error', 'message', 'path']);
    assert.doesNotMatch(broken.text, /injected|traceback|\.lua/);
    await chatd.waitForLog(/injected history failure[\s\S]*stack traceback/);

    const studyId = uniqueStudyId();
    const room = (await api(chatd.url, 'POST', '/api/chat/internal/rooms/member',
      { studyId, roomName: 'bug', userId: 7001, nickname: 'a' })).json;
    const sender = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
    const other = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
    sender.subscribe('/user/queue/errors');
    other.subscribe(`/topic/chatroom/${room.id}`);
    const msg = (content) => ({ chatRoomId: room.id, senderId: 7001, senderNickname: 'a', content, messageType: 'CHAT' });
    sender.send('/app/chat.sendMessage', msg('boom'));
    const errors = await sender.waitFor('/user/queue/errors', (m) => m.length >= 1);
    assert.match(errors[0].body, /internal error/);
    assert.doesNotMatch(errors[0].body, /injected|traceback/);
    await chatd.waitForLog(/injected store failure[\s\S]*stack traceback/);

    // The same connection, another connection and REST all carry on.
    await sender.sendWithReceipt('/app/chat.sendMessage', msg('fine'));
    const got = await other.waitFor(`/topic/chatroom/${room.id}`, (m) => m.length >= 1);
    assert.equal(JSON.parse(got[0].body).content, 'fine');
    assert.deepEqual(sql(`SELECT content FROM chat_messages WHERE chat_room_id = ${room.id} AND message_type = 'CHAT'`), [['fine']]);
    assert.equal((await api(chatd.url, 'GET', '/actuator/health/liveness')).status, 200);
    assert.equal(sender.closed, null);
    await sender.close();
    await other.close();
  } finally {
    await chatd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
