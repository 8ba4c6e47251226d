// Live read state (a chatd addition, docs/protocol.md): GET .../read-marks and the pushes to
// /topic/chatroom/{id}/read, across two chatd instances sharing one Redis and PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sql, sleep, roomWithMembers as createRoomWithMembers } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

let a;
let b;
before(async () => {
  [a, b] = await Promise.all([startChatd(), startChatd()]);
});
after(async () => {
  await a.stop();
  await b.stop();
});


const roomWithMembers = (...members) => createRoomWithMembers(a.url, ...members);

// Stores `n` messages by `sender` (over STOMP, with receipts) and answers their ids, oldest first.
async function messages(room, sender, n) {
  const c = await connectStomp(a.wsUrl);
  try {
    for (let i = 0; i < n; i++) {
      await c.sendWithReceipt('/app/chat.sendMessage',
        { chatRoomId: room.id, senderId: sender, senderNickname: `u${sender}`, content: `m${i}`, messageType: 'CHAT' });
    }
  } finally { await c.close(); }
  return sql(`SELECT id FROM chat_messages WHERE chat_room_id = ${room.id} ORDER BY id`).map((r) => Number(r[0]));
}

test('a moved mark reaches subscribers of the read topic on the other instance; one that does not move sends nothing', async () => {
  const room = await roomWithMembers([201, 'a'], [202, 'b']);
  const ids = await messages(room, 201, 3);
  const topic = `/topic/chatroom/${room.id}/read`;
  const sub = await connectStomp(b.wsUrl);
  try {
    sub.subscribe(topic);
    await sleep(150);
    let res = await api(a.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=202&lastMessageId=${ids[1]}`);
    assert.equal(res.status, 200, res.text);
    let got = await sub.waitFor(topic, (m) => m.length >= 1);
    assert.equal(got[0].body, JSON.stringify({ memberId: 202, lastReadMessageId: ids[1] }));
    assert.equal(got[0].headers['content-type'], 'application/json');

    // Backwards and the same value: the mark does not move, nothing is sent.
    for (const id of [ids[0], ids[1]]) {
      res = await api(a.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=202&lastMessageId=${id}`);
      assert.equal(res.status, 200, res.text);
    }
    await sleep(300);
    assert.equal(sub.received(topic).length, 1, 'a mark that did not move is not pushed');

    res = await api(b.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=201&lastMessageId=${ids[2]}`);
    assert.equal(res.status, 200, res.text);
    got = await sub.waitFor(topic, (m) => m.length >= 2);
    assert.deepEqual(JSON.parse(got[1].body), { memberId: 201, lastReadMessageId: ids[2] });
    await sleep(200);
    assert.equal(sub.received(topic).length, 2);
  } finally { await sub.close(); }
});

test('GET read-marks answers every active member\'s mark, as stored, and 404 for an unknown room', async () => {
  const room = await roomWithMembers([211, 'a'], [212, 'b'], [213, 'c']);
  const ids = await messages(room, 211, 2);
  assert.equal((await api(a.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=213&lastMessageId=${ids[1]}`)).status, 200);
  assert.equal((await api(b.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=211&lastMessageId=${ids[0]}`)).status, 200);
  assert.equal((await api(a.url, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=212`)).status, 200);

  const res = await api(b.url, 'GET', `/api/chat/rooms/${room.id}/read-marks`);
  assert.equal(res.status, 200, res.text);
  const expected = sql(`SELECT member_id, last_read_message_id FROM chat_room_members
                        WHERE chat_room_id = ${room.id} AND left_at IS NULL ORDER BY member_id`)
    .map(([m, r]) => ({ memberId: Number(m), lastReadMessageId: r === '' || r == null ? null : Number(r) }));
  assert.deepEqual(res.json, expected);
  assert.deepEqual(res.json, [{ memberId: 211, lastReadMessageId: ids[0] }, { memberId: 213, lastReadMessageId: ids[1] }]);

  const missing = await api(a.url, 'GET', '/api/chat/rooms/987654321987/read-marks');
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, 'chat room 987654321987 does not exist');
});

test('a member with no mark yet is listed with null', async () => {
  const room = await roomWithMembers([221, 'a']);
  const res = await api(a.url, 'GET', `/api/chat/rooms/${room.id}/read-marks`);
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, [{ memberId: 221, lastReadMessageId: null }]);
});
