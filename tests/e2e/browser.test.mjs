// The chat page in headless Chromium (Debian's, driven by playwright-core): two members of
// one room, one of them without WebSocket so SockJS falls back to an HTTP transport; and the
// page with ?token= against a chatd in CHAT_AUTH=jwt.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { launchChromium } from '../helpers/browser.mjs';
import { startChatd, api, sql, sleep, uniqueStudyId, REPO } from '../helpers/chatd.mjs';

let chatd;
let browser;
before(async () => {
  chatd = await startChatd({ env: { CHAT_STATIC_DIR: path.join(REPO, 'web') } });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  assert.equal((await chatd.stop()).code, 0);
});

// A link naming the room and the user enters the room by itself; without one, the form does.
async function openChat(context, room, userId, nick, { viaForm = false } = {}) {
  const page = await context.newPage();
  if (viaForm) {
    await page.goto(chatd.url);
    await page.fill('#roomId', String(room));
    await page.fill('#userId', String(userId));
    await page.fill('#nickname', nick);
    await page.click('#login button');
  } else {
    await page.goto(`${chatd.url}/?room=${room}&user=${userId}&nick=${encodeURIComponent(nick)}`);
  }
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
  return page;
}

test('two members chat in the browser, one over WebSocket and one over an HTTP fallback', async () => {
  const studyId = uniqueStudyId();
  let room;
  for (const [userId, nickname] of [[401, '홍길동'], [402, '김철수']]) {
    room = (await api(chatd.url, 'POST', '/api/chat/internal/rooms/member', { studyId, roomName: 'browser', userId, nickname })).json;
  }
  const ctxA = await browser.newContext();
  const ctxB = await browser.newContext();
  // A browser behind a proxy that blocks WebSocket: SockJS must fall back.
  await ctxB.addInitScript(() => { delete window.WebSocket; window.WebSocket = undefined; });
  const a = await openChat(ctxA, room.id, 401, '홍길동');
  const b = await openChat(ctxB, room.id, 402, '김철수', { viaForm: true });

  assert.match(await a.textContent('#status'), /websocket/);
  const bTransport = await b.textContent('#status');
  assert.doesNotMatch(bTransport, /websocket/);
  assert.match(bTransport, /xhr-streaming|xhr-polling|eventsource|htmlfile|iframe/);

  await a.fill('#content', '안녕하세요, 김철수님!');
  await a.click('#composer button');
  await b.waitForSelector('text=안녕하세요, 김철수님!', { timeout: 10000 });
  await b.fill('#content', 'hello from the fallback');
  await b.click('#composer button');
  await a.waitForSelector('text=hello from the fallback', { timeout: 10000 });

  // Presence: each sees both members.
  for (const page of [a, b]) {
    await page.waitForFunction(() => document.querySelectorAll('#presence li').length === 2, null, { timeout: 10000 });
    const names = await page.$$eval('#presence li', (lis) => lis.map((li) => li.textContent));
    assert.deepEqual(names.sort(), ['김철수', '홍길동'].sort());
  }

  // Errors: a blank message is refused and shown on the sender's page only.
  await b.fill('#content', '   ');
  await b.click('#composer button');
  await b.waitForSelector('#errors li', { timeout: 10000 });
  assert.match(await b.textContent('#errors li'), /메시지 전송에 실패했습니다: content must not be blank/);

  fs.mkdirSync(path.join(REPO, 'tests', 'out'), { recursive: true });
  await a.screenshot({ path: path.join(REPO, 'tests', 'out', 'browser-websocket.png') });
  await b.screenshot({ path: path.join(REPO, 'tests', 'out', 'browser-fallback.png') });
  await ctxA.close();
  await ctxB.close();
});

// ---- CHAT_AUTH=jwt: the page's ?token= (access_token on the SockJS URL, bearer on REST) ----

const b64url = (x) => Buffer.from(JSON.stringify(x)).toString('base64url');

function hs256Token(secret, claims) {
  const input = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

// A context whose pages record every text #status is given (window.statusLog), so a test
// can tell that a page never reached "connected", and the message header of every STOMP
// ERROR frame their SockJS WebSocket receives (stompErrors, with a promise for the next).
async function watchedContext() {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    window.statusLog = [];
    document.addEventListener('DOMContentLoaded', () => {
      const status = document.getElementById('status');
      new MutationObserver(() => window.statusLog.push(status.textContent))
        .observe(status, { childList: true, characterData: true, subtree: true });
    });
  });
  const stompErrors = [];
  let wake = () => {};
  context.on('page', (page) => page.on('websocket', (ws) => ws.on('framereceived', ({ payload }) => {
    const text = String(payload);
    if (!text.startsWith('a[')) return; // SockJS: a["frame", ...]
    for (const frame of JSON.parse(text.slice(1))) {
      const m = /^ERROR\n(?:[^\n]*\n)*?message:([^\n]*)\n/.exec(frame);
      if (m) stompErrors.push(m[1].replace(/\\(.)/g, (_, c) => ({ c: ':', n: '\n', r: '\r' })[c] ?? c));
    }
    wake();
  })));
  const nextStompError = (timeout = 10000) => new Promise((resolve, reject) => {
    const seen = stompErrors.length;
    const timer = setTimeout(() => reject(new Error('no STOMP ERROR frame')), timeout);
    wake = () => {
      if (stompErrors.length > seen) { clearTimeout(timer); resolve(stompErrors[seen]); }
    };
  });
  return { context, stompErrors, nextStompError };
}

// Opens the page with these query parameters (which name the room and the user, so the
// page enters by itself); resolves with the status of the history request the page made.
async function enter(context, server, params) {
  const page = await context.newPage();
  const history = page.waitForResponse((r) => r.url().includes(`/api/chat/rooms/${params.room}/messages`));
  await page.goto(`${server.url}/?${new URLSearchParams(params)}`);
  return { page, historyStatus: (await history).status() };
}

const statusLog = (page) => page.evaluate(() => window.statusLog.slice());

test('CHAT_AUTH=jwt: the page speaks with ?token= as its own user only, and not at all without one', async () => {
  const secret = randomBytes(32).toString('hex');
  const server = await startChatd({
    env: { CHAT_STATIC_DIR: path.join(REPO, 'web'), CHAT_AUTH: 'jwt', CHAT_JWT_SECRET: secret },
  });
  const contexts = [];
  try {
    const userA = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);
    const userB = userA + 1;
    const studyId = uniqueStudyId();
    let room;
    for (const [userId, nickname] of [[userA, 'a'], [userB, 'b']]) {
      const res = await api(server.url, 'POST', '/api/chat/internal/rooms/member',
        { studyId, roomName: 'browser-jwt', userId, nickname });
      assert.equal(res.status, 200, res.text);
      room = res.json;
    }
    const tokenA = hs256Token(secret, { sub: String(userA), exp: Math.floor(Date.now() / 1000) + 600 });
    const stored = () => sql(`SELECT sender_id, message_type, content FROM chat_messages
      WHERE chat_room_id = ${room.id} ORDER BY id`);

    // A with A's token: history over REST with the bearer header, STOMP over SockJS with
    // access_token; the message sent from the composer is shown and stored as A's.
    const a = await watchedContext();
    contexts.push(a.context);
    const { page: pageA, historyStatus: historyA } = await enter(a.context, server,
      { room: room.id, user: userA, nick: 'a', token: tokenA });
    assert.equal(historyA, 200);
    await pageA.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
    await pageA.locator('#messages .message.system', { hasText: 'a님이 입장하셨습니다.' }).waitFor();
    await pageA.fill('#content', 'signed by a token');
    await pageA.click('#composer button');
    await pageA.locator('#messages .message:not(.system)', { hasText: 'signed by a token' }).waitFor();
    assert.equal(await pageA.locator('#errors li').count(), 0);
    const afterA = [['0', 'JOIN', 'a님이 입장하셨습니다.'], [String(userA), 'CHAT', 'signed by a token']];
    assert.deepEqual(stored(), afterA);

    // The user field says B, the token is A's: CONNECT succeeds (the token is good), but
    // every send as senderId B (the page's chat.join, then the typing notice and the
    // message of the composer) is refused on the session's error queue, shown in the page,
    // and nothing is stored for B.
    const b = await watchedContext();
    contexts.push(b.context);
    const { page: pageB } = await enter(b.context, server, { room: room.id, user: userB, nick: 'b', token: tokenA });
    await pageB.waitForFunction(() => document.getElementById('status').textContent.startsWith('connected'));
    const refused = `메시지 전송에 실패했습니다: forbidden: senderId ${userB} is not the authenticated user ${userA}`;
    await pageB.locator('#errors li', { hasText: refused }).first().waitFor(); // the chat.join
    await pageB.fill('#content', 'b pretending');
    await pageB.click('#composer button');
    await pageB.waitForFunction(() => document.querySelectorAll('#errors li').length === 3);
    assert.ok((await pageB.$$eval('#errors li', (l) => l.map((x) => x.textContent))).every((t) => t === refused));
    assert.deepEqual(stored(), afterA);

    // No token: the history is refused (401), and so is the STOMP CONNECT: the page never
    // shows "connected", shows the refusal, and does not retry (its first retry after a
    // dropped connection would be 1 s later).
    const none = await watchedContext();
    contexts.push(none.context);
    const refusedNone = none.nextStompError();
    const { page: pageNone, historyStatus: historyNone } = await enter(none.context, server,
      { room: room.id, user: userA, nick: 'a' });
    assert.equal(historyNone, 401);
    assert.equal(await refusedNone, 'unauthorized: authentication required');
    await pageNone.waitForFunction(() => window.statusLog.includes('disconnected'));
    assert.deepEqual((await statusLog(pageNone)).filter((s) => s.startsWith('connected')), []);
    await pageNone.locator('#errors li', { hasText: 'unauthorized: authentication required' }).waitFor();
    await sleep(1500);
    assert.deepEqual((await statusLog(pageNone)).filter((s) => s !== 'disconnected'), []);
    assert.ok(await pageNone.isDisabled('#composer button'));
    assert.deepEqual(stored(), afterA);
  } finally {
    for (const context of contexts) await context.close();
    assert.equal((await server.stop()).code, 0);
  }
});
