// SockJS at /ws-chat as Spring's withSockJS() serves it (CONTRACT §4), with the real
// sockjs-client and the original README's Stomp.over(socket), one transport at a time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, redis, uniqueStudyId, sleep } from '../helpers/chatd.mjs';
import { connectSockJs } from '../helpers/stomp.mjs';

let chatd;
before(async () => { chatd = await startChatd(); });
after(async () => { assert.equal((await chatd.stop()).code, 0); });

async function roomWith(userId) {
  const res = await api(chatd.url, 'POST', '/api/chat/internal/rooms/member',
    { studyId: uniqueStudyId(), roomName: 'sockjs', userId, nickname: `u${userId}` });
  assert.equal(res.status, 200);
  return res.json;
}

for (const transport of ['websocket', 'xhr-streaming', 'xhr-polling', 'eventsource']) {
  test(`${transport}: connect, subscribe, send, receive`, async () => {
    const room = await roomWith(300);
    const { client, sock } = await connectSockJs(chatd.url, transport);
    try {
      assert.equal(sock.transport, transport);
      const got = new Promise((resolve) => client.subscribe(`/topic/chatroom/${room.id}`, (m) => resolve(JSON.parse(m.body))));
      await sleep(100);
      client.send('/app/chat.sendMessage', {}, JSON.stringify({
        chatRoomId: room.id, senderId: 300, senderNickname: '홍길동', content: `over ${transport} 😀\u2028`, messageType: 'CHAT' }));
      const msg = await Promise.race([got, sleep(5000).then(() => { throw new Error('no message'); })]);
      assert.equal(msg.content, `over ${transport} 😀\u2028`);
      assert.equal(msg.senderNickname, '홍길동');
    } finally {
      await new Promise((r) => client.disconnect(r));
    }
  });
}

test('greeting, info with CORS, iframe with ETag', async () => {
  const greeting = await fetch(`${chatd.url}/ws-chat`);
  assert.equal(await greeting.text(), 'Welcome to SockJS!\n');
  const info = await fetch(`${chatd.url}/ws-chat/info`, { headers: { origin: 'http://example.test' } });
  const body = await info.json();
  assert.deepEqual(Object.keys(body), ['entropy', 'origins', 'cookie_needed', 'websocket']);
  assert.equal(body.websocket, true);
  assert.equal(info.headers.get('access-control-allow-origin'), 'http://example.test');
  assert.equal(info.headers.get('access-control-allow-credentials'), 'true');
  assert.match(info.headers.get('cache-control'), /no-store/);
  const options = await fetch(`${chatd.url}/ws-chat/info`, { method: 'OPTIONS' });
  assert.equal(options.status, 204);
  const iframe = await fetch(`${chatd.url}/ws-chat/iframe.html`);
  assert.equal(iframe.status, 200);
  assert.match(await iframe.text(), /SockJS\.bootstrap_iframe/);
  const etag = iframe.headers.get('etag');
  const cached = await fetch(`${chatd.url}/ws-chat/iframe.html`, { headers: { 'if-none-match': etag } });
  assert.equal(cached.status, 304);
});

// Reads a streaming response until `done(text)` or the timeout; then aborts it.
async function readStream(url, init, done, timeoutMs = 3000) {
  const ctrl = new AbortController();
  const res = await fetch(url, { ...init, signal: ctrl.signal });
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!done(text) && Date.now() < deadline) {
      const { value, done: end } = await Promise.race([reader.read(), sleep(deadline - Date.now()).then(() => ({ done: true }))]);
      if (end) break;
      text += dec.decode(value, { stream: true });
    }
  } finally { ctrl.abort(); }
  return { res, text };
}

test('htmlfile: callback page and script frames; a missing callback is refused', async () => {
  const { res, text } = await readStream(`${chatd.url}/ws-chat/000/htmlfile1/htmlfile?c=cb_1.x`, {},
    (t) => t.includes('p("o")'));
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(text, /var c = parent\.cb_1\.x;/);
  assert.match(text, /<script>\np\("o"\);\n<\/script>\r\n/);
  const missing = await fetch(`${chatd.url}/ws-chat/000/htmlfile2/htmlfile`);
  assert.equal(missing.status, 500);
  assert.match(await missing.text(), /"callback" parameter required/);
});

test('a second receiving request gets c[2010,"Another connection still open"]', async () => {
  const first = readStream(`${chatd.url}/ws-chat/000/twice/xhr_streaming`, { method: 'POST' }, () => false, 1500);
  await sleep(300);
  const second = await readStream(`${chatd.url}/ws-chat/000/twice/xhr_streaming`, { method: 'POST' },
    (t) => t.includes('c['));
  assert.match(second.text, /c\[2010,"Another connection still open"\]/);
  const { text } = await first;
  assert.match(text, /^h{2048}\no\n/);
});

test('xhr_send errors: empty payload, broken JSON, unknown session', async () => {
  const open = await fetch(`${chatd.url}/ws-chat/000/sendcheck/xhr`, { method: 'POST' });
  assert.equal(await open.text(), 'o\n');
  const empty = await fetch(`${chatd.url}/ws-chat/000/sendcheck/xhr_send`, { method: 'POST', body: '' });
  assert.equal(empty.status, 500);
  assert.equal(await empty.text(), 'Payload expected.');
  const broken = await fetch(`${chatd.url}/ws-chat/000/sendcheck/xhr_send`, { method: 'POST', body: '["CONNECT' });
  assert.equal(broken.status, 500);
  assert.equal(await broken.text(), 'Broken JSON encoding.');
  const good = await fetch(`${chatd.url}/ws-chat/000/sendcheck/xhr_send`, { method: 'POST',
    body: JSON.stringify(['CONNECT\naccept-version:1.2\nhost:x\n\n\0']) });
  assert.equal(good.status, 204);
  const poll = await fetch(`${chatd.url}/ws-chat/000/sendcheck/xhr`, { method: 'POST' });
  assert.match(await poll.text(), /^a\["CONNECTED\\nversion:1\.2/);
  const unknown = await fetch(`${chatd.url}/ws-chat/000/nosuchsession/xhr_send`, { method: 'POST', body: '["x"]' });
  assert.equal(unknown.status, 404);
});

test('an abandoned session is cleaned up after the disconnect delay, presence included', async () => {
  const room = await roomWith(310);
  const base = `${chatd.url}/ws-chat/000/abandoned`;
  assert.equal(await (await fetch(`${base}/xhr`, { method: 'POST' })).text(), 'o\n');
  const send = (frames) => fetch(`${base}/xhr_send`, { method: 'POST', body: JSON.stringify(frames) });
  assert.equal((await send(['CONNECT\naccept-version:1.2\nhost:x\n\n\0'])).status, 204);
  assert.equal((await send([`SEND\ndestination:/app/chat.join\nreceipt:j\n\n${JSON.stringify({ chatRoomId: room.id, senderId: 310, senderNickname: 'gone' })}\0`])).status, 204);
  const poll = await (await fetch(`${base}/xhr`, { method: 'POST' })).text();
  assert.match(poll, /CONNECTED/);
  for (let i = 0; i < 20 && redis('HLEN', `chatroom:presence:${room.id}`) !== '1'; i++) await sleep(50);
  assert.equal(redis('HLEN', `chatroom:presence:${room.id}`), '1');
  // No receiving request from now on: after 5 s the session and its presence are gone.
  await sleep(6500);
  assert.equal((await send(['x'])).status, 404);
  assert.equal(redis('HLEN', `chatroom:presence:${room.id}`), '0');
});
