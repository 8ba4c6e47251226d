// The chat page in headless Chromium (Debian's, driven by playwright-core): two members of
// one room, one of them without WebSocket so SockJS falls back to an HTTP transport.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { startChatd, api, uniqueStudyId, REPO } from '../helpers/chatd.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let chatd;
let browser;
before(async () => {
  chatd = await startChatd({ env: { CHAT_STATIC_DIR: path.join(REPO, 'web') } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in a sandboxed CI; and no background traffic to the closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  await browser?.close();
  assert.equal((await chatd.stop()).code, 0);
});

async function openChat(context, room, userId, nick) {
  const page = await context.newPage();
  await page.goto(`${chatd.url}/?room=${room}&user=${userId}&nick=${encodeURIComponent(nick)}`);
  await page.click('#login button');
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
  const b = await openChat(ctxB, room.id, 402, '김철수');

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
