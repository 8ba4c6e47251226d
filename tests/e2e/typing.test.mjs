// Typing indicators (a chatd addition, docs/protocol.md): SEND /app/chat.typing pushes to
// /topic/chatroom/{id}/typing on every instance through Redis chat:typing; nothing is stored.
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

const counts = (roomId) => sql(`SELECT (SELECT count(*) FROM chat_messages WHERE chat_room_id = ${roomId}),
  (SELECT count(*) FROM chat_room_members WHERE chat_room_id = ${roomId}),
  (SELECT coalesce(sum(coalesce(last_read_message_id, 0)), 0) FROM chat_room_members WHERE chat_room_id = ${roomId})`)[0].map(String);

test('typing on A reaches subscribers on B once per second, is cleared when A\'s session drops, and stores nothing', async () => {
  const room = await roomWithMembers([301, 'a'], [302, 'b']);
  const before = counts(room.id);
  const topic = `/topic/chatroom/${room.id}/typing`;
  const sub = await connectStomp(b.wsUrl);
  const typer = await connectStomp(a.wsUrl);
  try {
    sub.subscribe(topic);
    await sleep(150);
    const body = { chatRoomId: room.id, senderId: 301, senderNickname: 'a', content: '' };
    await typer.sendWithReceipt('/app/chat.typing', body);
    let got = await sub.waitFor(topic, (m) => m.length >= 1);
    assert.deepEqual(JSON.parse(got[0].body), { memberId: 301, nickname: 'a', typing: true });

    // A second one within the second is dropped silently.
    await typer.sendWithReceipt('/app/chat.typing', body);
    await sleep(300);
    assert.equal(sub.received(topic).length, 1, 'a second typing within a second is not pushed');

    await typer.close();
    got = await sub.waitFor(topic, (m) => m.length >= 2);
    assert.deepEqual(JSON.parse(got[1].body), { memberId: 301, nickname: 'a', typing: false });
    await sleep(200);
    assert.equal(sub.received(topic).length, 2);
    assert.deepEqual(counts(room.id), before, 'nothing is stored');
  } finally {
    await sub.close();
    await typer.close().catch(() => {});
  }
});
