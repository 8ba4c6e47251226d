// The chat page's room state in headless Chromium (Debian's, driven by playwright-core),
// against chatd's additions of docs/protocol.md: the room list with unread badges, read
// marks shown as each message's unread count, typing indicators, and the reconnect that
// resumes the room's topic after the last message shown.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { launchChromium } from '../helpers/browser.mjs';
import { startChatd, api, sql, roomWithMembers, REPO } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';

let chatd;
let browser;
let sender; // a STOMP client of the tests' own, speaking for the members without a page
before(async () => {
  chatd = await startChatd({ env: { CHAT_STATIC_DIR: path.join(REPO, 'web') } });
  browser = await launchChromium();
  sender = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
});
after(async () => {
  await sender?.close();
  await browser?.close();
  assert.equal((await chatd.stop()).code, 0);
});

// Member ids no earlier run used: the room list shows every room a member is active in.
let nextUser = 1_000_000 + Math.floor(Math.random() * 1e12);
const newUsers = (n) => Array.from({ length: n }, () => nextUser++);

// Stores each text as a CHAT message of `senderId` (the RECEIPT says it is stored).
async function say(room, senderId, texts) {
  for (const content of texts) {
    await sender.sendWithReceipt('/app/chat.sendMessage',
      { chatRoomId: room.id, senderId, senderNickname: `u${senderId}`, content, messageType: 'CHAT' });
  }
}

// Opens the page as a link into the room; resolves once it is connected and its own JOIN
// is shown, so its subscriptions are in place (the JOIN is sent after them, on the same
// connection).
async function openChat(context, room, userId, nick, server = chatd) {
  const page = await context.newPage();
  await page.goto(`${server.url}/?room=${room.id}&user=${userId}&nick=${encodeURIComponent(nick)}`);
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
  await page.locator('#messages .message.system', { hasText: `${nick}님이 입장하셨습니다.` }).last().waitFor();
  return page;
}

async function withContexts(n, body) {
  const contexts = await Promise.all(Array.from({ length: n }, () => browser.newContext()));
  try {
    await body(...contexts);
  } finally {
    for (const context of contexts) await context.close();
  }
}

// Endpoint 8's count, from the rows: CHAT messages by others after the member's mark.
const unreadInSql = (roomId, memberId) => Number(sql(`SELECT count(*) FROM chat_messages c
  JOIN chat_room_members m ON m.chat_room_id = c.chat_room_id AND m.member_id = ${memberId}
  WHERE c.chat_room_id = ${roomId} AND c.message_type = 'CHAT' AND c.sender_id <> ${memberId}
    AND c.id > coalesce(m.last_read_message_id, 0)`)[0][0]);

const markInSql = (roomId, memberId) => Number(sql(`SELECT coalesce(last_read_message_id, 0) FROM chat_room_members
  WHERE chat_room_id = ${roomId} AND member_id = ${memberId}`)[0][0]);

// Waits until the room list's badge of a room reads `text` ('' while hidden: nothing unread).
const waitForBadge = (page, roomId, text) => page.waitForFunction(([id, want]) => {
  const el = document.querySelector(`#rooms li[data-room-id="${id}"] .unread`);
  return el !== null && (el.hidden ? '' : el.textContent) === want;
}, [roomId, text], { timeout: 10000 });

// The unread count shown in the message with this id: its text, '' while hidden.
const waitForUnreadCount = (page, messageId, text) => page.waitForFunction(([id, want]) => {
  const el = document.querySelector(`#messages .message[data-id="${id}"] .unread-count`);
  return el !== null && (el.hidden ? '' : el.textContent) === want;
}, [messageId, text], { timeout: 10000 });

const typingText = (page) => page.textContent('#typing');

test('the room list shows the member\'s rooms with unread badges as counted in SQL; opening a room zeroes its badge', async () => {
  const [a, b] = newUsers(2);
  const first = await roomWithMembers(chatd.url, [a, 'a'], [b, 'b']);
  const second = await roomWithMembers(chatd.url, [a, 'a'], [b, 'b']);
  await say(first, b, ['hello in first']);
  await say(second, b, ['one', 'two', 'three']);
  await withContexts(1, async (context) => {
    const page = await openChat(context, first, a, 'a');
    const rooms = sql(`SELECT chat_room_id FROM chat_room_members WHERE member_id = ${a} AND left_at IS NULL
                       ORDER BY chat_room_id`).map(([id]) => id);
    assert.deepEqual(rooms, [String(first.id), String(second.id)]);
    await page.waitForFunction((n) => document.querySelectorAll('#rooms li').length === n, rooms.length);
    assert.deepEqual((await page.$$eval('#rooms li', (lis) => lis.map((li) => li.dataset.roomId))).sort(), rooms);

    // The room not open: its badge is endpoint 8's count, and it shows the last message.
    const unread = unreadInSql(second.id, a);
    assert.equal(unread, 3);
    await waitForBadge(page, second.id, String(unread));
    const item = `#rooms li[data-room-id="${second.id}"]`;
    assert.equal(await page.textContent(`${item} .last-message`), `u${b}: three`);
    assert.match(await page.getAttribute(`${item} .last-time`, 'datetime'), /^\d{4}-\d\d-\d\dT\d\d:\d\d/);

    // The open room is marked read: its badge goes to 0 once the mark is stored.
    await waitForBadge(page, first.id, '');
    assert.equal(unreadInSql(first.id, a), 0);
    assert.ok(await page.$eval(`#rooms li[data-room-id="${first.id}"]`, (li) => li.classList.contains('open')));

    // Opening the other room: its history replaces the first's, and its badge goes to 0.
    await page.click(`${item} button`);
    await page.locator('#messages .message', { hasText: 'three' }).waitFor();
    const texts = await page.$$eval('#messages .message:not(.system)', (d) => d.map((x) => x.childNodes[1].textContent));
    assert.deepEqual(texts, ['one', 'two', 'three']);
    await waitForBadge(page, second.id, '');
    assert.equal(unreadInSql(second.id, a), 0);
    assert.ok(await page.$eval(item, (li) => li.classList.contains('open')));

    // A message in the room no longer open counts on its badge once the open room's next
    // message refreshes the list.
    await say(first, b, ['while away']);
    await say(second, b, ['in the open room']);
    await page.locator('#messages .message', { hasText: 'in the open room' }).waitFor();
    await waitForBadge(page, first.id, '1');
    assert.equal(unreadInSql(first.id, a), 1);
    await waitForBadge(page, second.id, '');
  });
});

test('typing on one page shows "<nickname> is typing…" on the other until the message comes, 5 s pass, or the typist goes', async () => {
  const [a, b] = newUsers(2);
  const room = await roomWithMembers(chatd.url, [a, '홍길동'], [b, '김철수']);
  await withContexts(2, async (ctxA, ctxB) => {
    const pageA = await openChat(ctxA, room, a, '홍길동');
    const pageB = await openChat(ctxB, room, b, '김철수');
    const typing = () => pageB.waitForFunction(() => document.getElementById('typing').textContent === '홍길동 is typing…',
      null, { timeout: 5000 });
    const notTyping = (timeout) => pageB.waitForFunction(() => document.getElementById('typing').textContent === '',
      null, { timeout });

    await pageA.fill('#content', '안녕하세요');
    await typing();
    assert.equal(await typingText(pageA), '', 'one\'s own typing is not shown');
    await pageA.click('#composer button');
    await pageB.locator('#messages .message', { hasText: '안녕하세요' }).waitFor();
    assert.equal(await typingText(pageB), '', 'the message ends the typing');

    // The server passes one typing notice per member and second.
    await new Promise((r) => setTimeout(r, 1100));
    await pageA.fill('#content', '그리고');
    await typing();
    const shown = Date.now();
    await notTyping(8000);
    const lasted = Date.now() - shown;
    assert.ok(lasted >= 4000 && lasted < 7000, `hidden after ${lasted} ms, not about 5 s`);

    await pageA.fill('#content', '그리고 또');
    await typing();
    const typed = Date.now();
    await pageA.close(); // the server pushes typing:false for the closed session
    await notTyping(4000);
    assert.ok(Date.now() - typed < 4000);
  });
});

test('each message shows how many other members have not read it, live as they read', async () => {
  const [a, b, c] = newUsers(3);
  const room = await roomWithMembers(chatd.url, [a, 'a'], [b, 'b'], [c, 'c']);
  await withContexts(2, async (ctxA, ctxB) => {
    let pageA = await openChat(ctxA, room, a, 'a');
    await pageA.fill('#content', 'read me');
    await pageA.click('#composer button');
    const mine = pageA.locator('#messages .message:not(.system)', { hasText: 'read me' });
    await mine.waitFor();
    const id = Number(await mine.getAttribute('data-id'));
    assert.deepEqual(sql(`SELECT sender_id, content FROM chat_messages WHERE id = ${id}`), [[String(a), 'read me']]);
    await waitForUnreadCount(pageA, id, '2');

    // b opens the room: its page marks the message read, and a's page hears of it.
    const pageB = await openChat(ctxB, room, b, 'b');
    await waitForUnreadCount(pageA, id, '1');
    assert.ok(markInSql(room.id, b) >= id);
    assert.equal(markInSql(room.id, c), 0);
    // On b's page the count leaves out b, who is reading it.
    await waitForUnreadCount(pageB, id, '1');

    // A page opened now reads the same from GET .../read-marks.
    await pageA.close();
    pageA = await openChat(ctxA, room, a, 'a');
    await waitForUnreadCount(pageA, id, '1');

    // c reads over REST: the push reaches both pages.
    const res = await api(chatd.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=${c}&lastMessageId=${id}`);
    assert.equal(res.status, 200, res.text);
    await waitForUnreadCount(pageA, id, '');
    await waitForUnreadCount(pageB, id, '');

    // A sender without a page has no mark on its own message, and is not counted: once b's
    // page has read it, nobody is left.
    await say(room, c, ['from c']);
    const fromC = Number(sql(`SELECT max(id) FROM chat_messages WHERE chat_room_id = ${room.id}`)[0][0]);
    await waitForUnreadCount(pageA, fromC, '');
    assert.ok(markInSql(room.id, c) < fromC);
  });
});

// Drops the page's connection (chatdDebug: no STOMP DISCONNECT), stores `missed` from
// `senderId` while the page is away, lets it reconnect, then sends one message live: any
// message shown twice would be shown before that one. Answers the room's stored messages
// [id, content] and the ids the page shows, in its order, and those it marked replayed.
async function dropAndCatchUp(page, room, senderId, missed) {
  await say(room, senderId, ['before the drop']);
  await page.locator('#messages .message', { hasText: 'before the drop' }).waitFor();
  await page.evaluate(() => window.chatdDebug.dropConnection());
  await page.waitForFunction(() => document.getElementById('status').textContent === 'reconnecting');
  await say(room, senderId, missed);
  assert.equal(await page.textContent('#status'), 'reconnecting',
    'stored while the page was away (its first retry is after 1 s)');
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'),
    null, { timeout: 10000 });
  await say(room, senderId, ['after the reconnect']);
  await page.locator('#messages .message', { hasText: 'after the reconnect' }).waitFor({ timeout: 10000 });
  return {
    stored: sql(`SELECT id, content FROM chat_messages WHERE chat_room_id = ${room.id} ORDER BY id`),
    shown: await page.$$eval('#messages .message', (divs) => divs.map((d) => d.dataset.id)),
    replayed: await page.$$eval('#messages .message[data-replayed="true"]', (divs) => divs.map((d) => d.dataset.id)),
  };
}

const joinsInSql = (room) => Number(sql(`SELECT count(*) FROM chat_messages
  WHERE chat_room_id = ${room.id} AND message_type = 'JOIN'`)[0][0]);

test('after a dropped connection the page reconnects, resumes after the last message shown, and shows each message once', async () => {
  const [a, b] = newUsers(2);
  const room = await roomWithMembers(chatd.url, [a, 'a'], [b, 'b']);
  await withContexts(1, async (context) => {
    const page = await openChat(context, room, a, 'a');
    const missed = ['missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5'];
    const { stored, shown, replayed } = await dropAndCatchUp(page, room, b, missed);
    assert.deepEqual(shown, stored.map(([id]) => id), 'every stored message, once, in order');
    assert.deepEqual(replayed, stored.filter(([, content]) => missed.includes(content)).map(([id]) => id),
      'the messages sent while away came as the resumed subscription\'s replay');
    assert.equal(joinsInSql(room), 1, 'no second JOIN on the reconnect');
  });
});

test('when more was sent meanwhile than the server replays (resume:gap), the page loads the recent history instead', async () => {
  const server = await startChatd({ env: { CHAT_STATIC_DIR: path.join(REPO, 'web'), CHAT_RESUME_MAX_MESSAGES: '3' } });
  try {
    const [a, b] = newUsers(2);
    const room = await roomWithMembers(chatd.url, [a, 'a'], [b, 'b']);
    await withContexts(1, async (context) => {
      // The page on its own instance; the messages come from the other one through Redis.
      const page = await openChat(context, room, a, 'a', server);
      const { stored, shown, replayed } = await dropAndCatchUp(page, room, b, ['gap 1', 'gap 2', 'gap 3', 'gap 4']);
      assert.deepEqual(shown, stored.map(([id]) => id), 'every stored message, once, in order');
      assert.deepEqual(replayed, [], 'nothing replayed: the history was loaded again');
      assert.equal(joinsInSql(room), 1, 'no second JOIN on the reconnect');
    });
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});
