// Group commit against the real PostgreSQL: while the table is locked, sends from many
// sessions pile up; once it is released they are stored by shared statements, and every
// message is still stored exactly once, tied to its own sender, delivered with the id it
// was stored under, in each sender's order; a non-member's send in the same batch is
// refused and stored nowhere. Texts with quotes, backslashes, braces and the word NULL
// pass through the batch's array parameters (chat.pg.array) unchanged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startChatd, api, sql, pgEnv, uniqueStudyId, sleep } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

let chatd;
before(async () => { chatd = await startChatd({ env: { CHAT_LOG_LEVEL: 'debug', CHAT_KAFKA_ENABLED: '0' } }); });
after(async () => { await chatd.stop(); });

// Holds a lock that blocks inserts (reads go on) for `ms`, from a separate psql session.
function lockMessages(ms) {
  const psql = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c',
    `BEGIN; LOCK TABLE chat_messages IN EXCLUSIVE MODE; SELECT pg_sleep(${ms / 1000}); COMMIT;`], { env: pgEnv() });
  return new Promise((resolve, reject) => psql.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`psql ${code}`)))));
}

test('messages queued behind a busy table are stored together, each exactly once and in order', async () => {
  const studyId = uniqueStudyId();
  const members = Array.from({ length: 10 }, (_, i) => 5000 + i);
  let room;
  for (const userId of members) {
    const res = await api(chatd.url, 'POST', '/api/chat/internal/rooms/member', { studyId, roomName: 'gc', userId, nickname: `m${userId}` });
    assert.equal(res.status, 200, res.text);
    room = res.json;
  }
  const url = `ws://127.0.0.1:${chatd.port}/ws-chat`;
  const topic = `/topic/chatroom/${room.id}`;
  const clients = await Promise.all([...members, 9999].map(() => connectStomp(url)));
  const listener = clients[0];
  listener.subscribe(topic);
  const outsider = clients[members.length];
  outsider.subscribe('/user/queue/errors');
  await sleep(200);

  const text = (senderId, k) => `${senderId}:${k} "q" \\ {a,b} NULL 한`;
  const unlocked = lockMessages(1500);
  await sleep(300); // the lock is held
  const sends = [];
  members.forEach((senderId, i) => {
    for (let k = 0; k < 3; k++) {
      sends.push(clients[i].sendWithReceipt('/app/chat.sendMessage',
        { chatRoomId: room.id, senderId, senderNickname: `m"${senderId}\\`, content: text(senderId, k), messageType: 'CHAT' }, 10000));
    }
  });
  outsider.send('/app/chat.sendMessage', { chatRoomId: room.id, senderId: 9999, content: 'not a member', messageType: 'CHAT' });
  await Promise.all(sends);
  await unlocked;

  const delivered = (await listener.waitFor(topic, (m) => m.length >= 30, 10000)).map((m) => JSON.parse(m.body));
  const errors = await outsider.waitFor('/user/queue/errors', (m) => m.length >= 1);
  assert.match(errors[0].body, /9999/);

  const nicknames = sql(`SELECT DISTINCT sender_nickname FROM chat_messages WHERE chat_room_id = ${room.id} AND message_type = 'CHAT'`);
  assert.deepEqual(nicknames.map((r) => r[0]).sort(), members.map((m) => `m"${m}\\`).sort(), 'nicknames unchanged');
  const rows = sql(`SELECT id, sender_id, content FROM chat_messages WHERE chat_room_id = ${room.id} AND message_type = 'CHAT' ORDER BY id`);
  assert.equal(rows.length, 30, 'each message stored once, the outsider\'s not at all');
  const byContent = new Map(rows.map(([id, sender, content]) => [content, { id: Number(id), sender: Number(sender) }]));
  for (const senderId of members) {
    const ids = [0, 1, 2].map((k) => byContent.get(text(senderId, k)));
    assert.ok(ids.every((r) => r && r.sender === senderId), `stored with its own sender: ${senderId}`);
    assert.ok(ids[0].id < ids[1].id && ids[1].id < ids[2].id, `in the sender's order: ${senderId}`);
  }
  assert.equal(delivered.length, 30);
  for (const m of delivered) assert.equal(m.id, byContent.get(m.content).id, `delivered with its stored id: ${m.content}`);

  const batches = chatd.logs.map((l) => /storing (\d+) messages in one statement/.exec(l)).filter(Boolean).map((x) => Number(x[1]));
  assert.ok(batches.some((n) => n >= 3), `queued messages shared a statement: ${JSON.stringify(batches)}`);
  await Promise.all(clients.map((c) => c.close()));
});
