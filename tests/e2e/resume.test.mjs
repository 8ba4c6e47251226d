// Resuming a room (docs/protocol.md): SUBSCRIBE /topic/chatroom/{id} with last-message-id
// replays what was stored after that id from PostgreSQL, in id order, then live messages,
// each exactly once; a gap over CHAT_RESUME_MAX_MESSAGES gets a resume:gap signal instead.
// Two instances share PostgreSQL and Redis; the real @stomp/stompjs, sockjs-client and
// stompjs 2.3 clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, sql, sleep, roomWithMembers as createRoomWithMembers } from '../helpers/chatd.mjs';
import { connectStomp, connectSockJs, rawStomp } from '../helpers/stomp.mjs';

let a;
let b;
before(async () => {
  [a, b] = await Promise.all([startChatd(), startChatd()]);
});
after(async () => {
  assert.equal((await a.stop()).code, 0);
  assert.equal((await b.stop()).code, 0);
});

const roomWithMembers = (...members) => createRoomWithMembers(a.url, ...members);
const topicOf = (room) => `/topic/chatroom/${room.id}`;
const chat = (room, senderId, content) => ({ chatRoomId: room.id, senderId, senderNickname: `m${senderId}`, content });
const idsAfter = (room, lastId) => sql(`SELECT id FROM chat_messages WHERE chat_room_id = ${room.id} AND id > ${lastId}
  ORDER BY id`).map((r) => Number(r[0]));
const lastIdOf = (room) => Number(sql(`SELECT coalesce(max(id), 0) FROM chat_messages WHERE chat_room_id = ${room.id}`)[0][0]);
const idsOf = (frames) => frames.map((m) => JSON.parse(m.body).id);

// Sends n chat messages one after another, each stored before the next (RECEIPT).
async function sendMany(conn, room, senderId, n, prefix) {
  for (let i = 0; i < n; i++) await conn.sendWithReceipt('/app/chat.sendMessage', chat(room, senderId, `${prefix} ${i}`));
}

test('a member back after 50 messages sent on another instance gets exactly those 50, in order, then live ones', async () => {
  const room = await roomWithMembers([401, 'a'], [402, 'b']);
  const sender = await connectStomp(b.wsUrl);
  const first = await connectStomp(a.wsUrl);
  first.subscribe(topicOf(room));
  await sleep(100);
  await sender.sendWithReceipt('/app/chat.sendMessage', chat(room, 402, 'before the drop'));
  const [seen] = await first.waitFor(topicOf(room), (m) => m.length >= 1);
  const lastId = JSON.parse(seen.body).id;
  await first.close();

  await sendMany(sender, room, 402, 50, 'while away');
  const back = await connectStomp(a.wsUrl);
  try {
    back.subscribe(topicOf(room), { 'last-message-id': String(lastId) });
    const replayed = await back.waitFor(topicOf(room), (m) => m.length >= 50);
    assert.deepEqual(idsOf(replayed), idsAfter(room, lastId), 'the stored messages after the id, in id order');
    assert.deepEqual(replayed.map((m) => JSON.parse(m.body).content), [...Array(50).keys()].map((i) => `while away ${i}`));
    assert.ok(replayed.every((m) => m.headers.resume === 'replay'), 'replayed frames say so');
    const body = JSON.parse(replayed[0].body);
    assert.deepEqual(Object.keys(body), ['chatRoomId', 'id', 'senderId', 'senderNickname', 'content', 'messageType', 'createdAt']);

    await sender.sendWithReceipt('/app/chat.sendMessage', chat(room, 402, 'live again'));
    const all = await back.waitFor(topicOf(room), (m) => m.length >= 51);
    assert.equal(JSON.parse(all[50].body).content, 'live again');
    assert.equal(all[50].headers.resume, undefined, 'a live message is not marked');
    await sleep(300);
    assert.equal(back.received(topicOf(room)).length, 51, 'nothing twice');
  } finally {
    await back.close();
    await sender.close();
  }
});

test('messages stored while the replay runs appear once, after the replayed ones, in id order', async () => {
  const room = await roomWithMembers([411, 'a'], [412, 'b']);
  const sender = await connectStomp(b.wsUrl);
  sql(`INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
    SELECT ${room.id}, 412, 'm412', 'history ' || i, 'CHAT', localtimestamp FROM generate_series(0, 299) i`);
  const lastId = idsAfter(room, 0)[0];
  // A second sender keeps storing while the resume reads and delivers the 299.
  let sending = true;
  const during = (async () => {
    let i = 0;
    while (sending || i < 20) await sender.sendWithReceipt('/app/chat.sendMessage', chat(room, 412, `during ${i++}`));
    return i;
  })();
  await sleep(20);
  const back = await connectStomp(a.wsUrl);
  try {
    back.subscribe(topicOf(room), { 'last-message-id': String(lastId) });
    await back.waitFor(topicOf(room), (m) => m.length >= 299);
    sending = false;
    const sentDuring = await during;
    const expected = idsAfter(room, lastId);
    assert.equal(expected.length, 299 + sentDuring);
    const got = await back.waitFor(topicOf(room), (m) => m.length >= expected.length);
    await sleep(300);
    const ids = idsOf(back.received(topicOf(room)));
    assert.equal(new Set(ids).size, ids.length, 'no message twice');
    assert.deepEqual(ids, expected, 'every stored message once, in id order (one sender: live order is id order)');
    assert.ok(got.slice(0, 299).every((m) => m.headers.resume === 'replay'));
  } finally {
    sending = false;
    await back.close();
    await sender.close();
  }
});

test('an empty resume (nothing missed) is live at once; a RECEIPT follows the replay', async () => {
  const room = await roomWithMembers([421, 'a']);
  const conn = await connectStomp(a.wsUrl);
  try {
    await conn.sendWithReceipt('/app/chat.sendMessage', chat(room, 421, 'one'));
    const lastId = lastIdOf(room);
    const receipt = new Promise((res) => conn.client.watchForReceipt('sub-r', res));
    conn.subscribe(topicOf(room), { 'last-message-id': String(lastId), receipt: 'sub-r' });
    await receipt;
    assert.equal(conn.received(topicOf(room)).length, 0);
    await conn.sendWithReceipt('/app/chat.sendMessage', chat(room, 421, 'two'));
    const [m] = await conn.waitFor(topicOf(room), (x) => x.length >= 1);
    assert.equal(JSON.parse(m.body).content, 'two');
  } finally { await conn.close(); }
});

test('a gap over CHAT_RESUME_MAX_MESSAGES gets one resume:gap frame instead, then live messages', async () => {
  const small = await startChatd({ env: { CHAT_RESUME_MAX_MESSAGES: '10' } });
  const room = await roomWithMembers([431, 'a']);
  const conn = await connectStomp(small.wsUrl);
  try {
    await sendMany(conn, room, 431, 11, 'm');
    const lastId = idsAfter(room, 0)[0] - 1;
    conn.subscribe(topicOf(room), { 'last-message-id': String(lastId) });
    const [gap] = await conn.waitFor(topicOf(room), (m) => m.length >= 1);
    assert.equal(gap.headers.resume, 'gap');
    assert.deepEqual(JSON.parse(gap.body), { resume: 'GAP', chatRoomId: room.id, lastMessageId: lastId, limit: 10 });
    await conn.sendWithReceipt('/app/chat.sendMessage', chat(room, 431, 'live'));
    const got = await conn.waitFor(topicOf(room), (m) => m.length >= 2);
    assert.equal(JSON.parse(got[1].body).content, 'live');
    await sleep(200);
    assert.equal(conn.received(topicOf(room)).length, 2, 'none of the 11 is replayed');

    // Exactly at the limit is still a replay: 9 of the 11, and 'live'.
    const conn2 = await connectStomp(small.wsUrl);
    const secondId = idsAfter(room, 0)[1];
    conn2.subscribe(topicOf(room), { 'last-message-id': String(secondId) });
    const replayed = await conn2.waitFor(topicOf(room), (m) => m.length >= 10);
    assert.deepEqual(idsOf(replayed), idsAfter(room, secondId));
    assert.ok(replayed.every((m) => m.headers.resume === 'replay'));
    await conn2.close();
  } finally {
    await conn.close();
    await small.stop();
  }
});

test('bad last-message-id values and non-room destinations get an ERROR frame naming the problem', async () => {
  const room = await roomWithMembers([441, 'a']);
  const cases = [
    [topicOf(room), 'abc', "last-message-id must be a message id (decimal digits), got 'abc'"],
    [topicOf(room), '-1', "last-message-id must be a message id (decimal digits), got '-1'"],
    [topicOf(room), '99999999999999999999', 'last-message-id must be a message id (decimal digits)'],
    [`${topicOf(room)}/presence`, '1', `last-message-id applies to /topic/chatroom/{id} only, not ${topicOf(room)}/presence`],
  ];
  for (const [destination, value, message] of cases) {
    const conn = await rawStomp(a.wsUrl);
    conn.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'x' });
    await conn.waitForFrame((f) => f.command === 'CONNECTED');
    conn.sendFrame('SUBSCRIBE', { destination, id: 's1', 'last-message-id': value });
    const err = await conn.waitForFrame((f) => f.command === 'ERROR');
    assert.ok(err.headers.message.includes(message), `${value}: ${err.headers.message}`);
    await conn.waitForClose();
  }
  // The instance is fine afterwards.
  const ok = await connectStomp(a.wsUrl);
  await ok.close();
});

test('a non-member\'s resume is refused like the subscription itself (CHAT_AUTH=gateway)', async () => {
  const gw = await startChatd({ env: { CHAT_AUTH: 'gateway' } });
  const room = await roomWithMembers([451, 'a']);
  try {
    const asUser = (id) => rawStomp(gw.wsUrl, { headers: { 'X-User-Id': String(id) } });
    const member = await connectStomp(a.wsUrl);
    await member.sendWithReceipt('/app/chat.sendMessage', chat(room, 451, 'secret'));
    await member.close();

    const outsider = await asUser(459);
    outsider.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'x' });
    await outsider.waitForFrame((f) => f.command === 'CONNECTED');
    outsider.sendFrame('SUBSCRIBE', { destination: topicOf(room), id: 's1', 'last-message-id': '0' });
    const err = await outsider.waitForFrame((f) => f.command === 'ERROR');
    assert.match(err.headers.message, /^forbidden: user 459 is not an active member/);
    assert.ok(!outsider.parsed.some((f) => f.command === 'MESSAGE'), 'nothing replayed');

    const insider = await asUser(451);
    insider.sendFrame('CONNECT', { 'accept-version': '1.2', host: 'x' });
    await insider.waitForFrame((f) => f.command === 'CONNECTED');
    insider.sendFrame('SUBSCRIBE', { destination: topicOf(room), id: 's1', 'last-message-id': '0' });
    const msg = await insider.waitForFrame((f) => f.command === 'MESSAGE');
    assert.equal(JSON.parse(msg.body).content, 'secret');
    insider.close();
  } finally {
    await gw.stop();
  }
});

for (const transport of ['websocket', 'xhr-streaming', 'xhr-polling', 'eventsource']) {
  test(`resume over SockJS ${transport}`, async () => {
    const room = await roomWithMembers([461, 'a']);
    const sender = await connectStomp(b.wsUrl);
    try {
      await sender.sendWithReceipt('/app/chat.sendMessage', chat(room, 461, 'seen'));
      const lastId = lastIdOf(room);
      await sendMany(sender, room, 461, 5, transport);
      const { client, sock } = await connectSockJs(a.url, transport);
      assert.equal(sock.transport, transport);
      const got = [];
      client.subscribe(topicOf(room), (m) => got.push(m), { 'last-message-id': String(lastId) });
      const deadline = Date.now() + 5000;
      while (got.length < 5 && Date.now() < deadline) await sleep(20);
      assert.deepEqual(idsOf(got), idsAfter(room, lastId));
      assert.ok(got.every((m) => m.headers.resume === 'replay'));
      await new Promise((r) => client.disconnect(r));
    } finally {
      await sender.close();
    }
  });
}
