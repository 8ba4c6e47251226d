// Access control, mode jwt with an HS256 secret (CHAT_JWT_SECRET, with CHAT_JWT_ISSUER and
// CHAT_JWT_AUDIENCE): good, expired, not yet valid, leeway, wrong signature, alg none, alg
// confusion, wrong iss/aud, malformed, missing; STOMP CONNECT header, lowercase header,
// handshake Authorization header, ?access_token=, CONNECT header wins; ERROR
// "unauthorized: ..." then close; SEND as another user; a session ends when its token
// expires. SockJS session hijack: xhr_send / xhr into A's session with B's token or none
// is 403 and nothing is delivered or stored; with A's own credentials it works.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run. Shared setup: tests/helpers/access.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { api } from '../helpers/chatd.mjs';
import { chatdFor, uid, seedRoom, storedMessages, msg, assertError, assertTokenRefused, bearer,
  assertPublic, b64url, now, makeJwt, claimsFor, rsaKeys, wsUrl, isCommand, stompSession,
  subscribed, assertConnectRefused, assertSubscribeRefused, assertSendAsOtherRefused } from '../helpers/access.mjs';

const require = createRequire(import.meta.url);
const SockJS = require('sockjs-client');
const Stomp = require('stompjs');

describe('mode jwt, HS256 with issuer and audience', () => {
  const SECRET = `hs-${randomBytes(16).toString('hex')}`;
  const ISS = 'https://auth.example.com';
  const AUD = 'chat-service';
  const box = chatdFor({ CHAT_AUTH: 'jwt', CHAT_JWT_SECRET: SECRET, CHAT_JWT_ISSUER: ISS, CHAT_JWT_AUDIENCE: AUD });
  const token = (userId, extra = {}, opts = {}) =>
    makeJwt(claimsFor(userId, { iss: ISS, aud: AUD, ...extra }), { secret: SECRET, ...opts });
  const history = (roomId, headers) => api(box.chatd.url, 'GET', `/api/chat/rooms/${roomId}/messages`, undefined, headers);

  test('REST: a good token is accepted (sub as a string or a number, aud as a string or an array)', async () => {
    const me = uid();
    const room = seedRoom([me]);
    for (const t of [token(me), token(me, { sub: me }), token(me, { aud: ['other', AUD] })]) {
      const res = await history(room.id, bearer(t));
      assert.equal(res.status, 200, res.text);
    }
    const unread = await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${me}`, undefined, bearer(token(me)));
    assert.equal(unread.status, 200, unread.text);
  });

  test('REST: refused tokens get 401 with the reason and a Bearer challenge', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const cases = [
      ['expired', token(me, { exp: now() - 120 }), 'token expired'],
      ['not valid yet', token(me, { nbf: now() + 120 }), 'token not valid yet'],
      ['wrong secret', makeJwt(claimsFor(me, { iss: ISS, aud: AUD }), { secret: `${SECRET}-other` }), 'token signature is invalid'],
      ['tampered claims', (() => { const [h, , s] = token(me).split('.'); return `${h}.${b64url(claimsFor(me + 1, { iss: ISS, aud: AUD }))}.${s}`; })(),
        'token signature is invalid'],
      ['alg none', makeJwt(claimsFor(me, { iss: ISS, aud: AUD }), { alg: 'none' }), 'token algorithm is not accepted'],
      ['alg HS512', (() => {
        const input = `${b64url({ alg: 'HS512', typ: 'JWT' })}.${b64url(claimsFor(me, { iss: ISS, aud: AUD }))}`;
        return `${input}.${createHmac('sha512', SECRET).update(input).digest('base64url')}`;
      })(), 'token algorithm is not accepted'],
      ['wrong issuer', token(me, { iss: 'https://evil.example.com' }), 'token issuer is not accepted'],
      ['no issuer', token(me, { iss: undefined }), 'token issuer is not accepted'],
      ['wrong audience', token(me, { aud: 'other-service' }), 'token audience is not accepted'],
      ['audience array without ours', token(me, { aud: ['a', 'b'] }), 'token audience is not accepted'],
      ['malformed', 'not-a.jwt', 'malformed token'],
    ];
    for (const [name, t, message] of cases) {
      const res = await history(room.id, bearer(t));
      assert.equal(res.status, 401, `${name}: ${res.text}`);
      assertTokenRefused(res, message);
    }
  });

  test('REST: no token is 401 "authentication required" with a Bearer challenge', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const res = await history(room.id, {});
    assertError(res, 401, 'authentication required');
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
    assertError(await history(room.id, { authorization: `Basic ${b64url('a:b')}` }), 401);
  });

  test('public without identity: actuator, API docs, the demo page, SockJS info', () => assertPublic(box.chatd.url));

  test('REST: exp and nbf within the 30 s leeway are accepted', async () => {
    const me = uid();
    const room = seedRoom([me]);
    assert.equal((await history(room.id, bearer(token(me, { exp: now() - 5 })))).status, 200);
    assert.equal((await history(room.id, bearer(token(me, { nbf: now() + 5 })))).status, 200);
  });

  test('REST: an RS256 token is refused when only a secret is configured', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const { privateKey } = rsaKeys();
    const res = await history(room.id, bearer(makeJwt(claimsFor(me, { iss: ISS, aud: AUD }), { alg: 'RS256', privateKey })));
    assertTokenRefused(res, /algorithm|signature/);
  });

  test('REST: the token\'s user is the identity (memberId of another user: 403, non-member history: 403)', async () => {
    const [me, other] = [uid(), uid()];
    const mine = seedRoom([me]);
    const theirs = seedRoom([other]);
    const res = await api(box.chatd.url, 'GET', `/api/chat/rooms/${mine.id}/unread?memberId=${other}`, undefined, bearer(token(me)));
    assertError(res, 403, `memberId ${other} is not the authenticated user ${me}`);
    assertError(await history(theirs.id, bearer(token(me))), 403, `user ${me} is not an active member of chat room ${theirs.id}`);
  });

  test('STOMP CONNECT: Authorization header (either case), handshake header or ?access_token= connect', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const ways = [
      [wsUrl(box.chatd), { connectHeaders: { Authorization: `Bearer ${token(me)}` } }],
      [wsUrl(box.chatd), { connectHeaders: { authorization: `Bearer ${token(me)}` } }],
      [wsUrl(box.chatd, '/ws-chat/websocket'), { headers: bearer(token(me)) }],
      [`${wsUrl(box.chatd)}?access_token=${token(me)}`, {}],
    ];
    for (const [url, opts] of ways) {
      const conn = await stompSession(url, opts);
      try {
        // The identity is the token's user: one's own room may be subscribed.
        await subscribed(conn, `/topic/chatroom/${room.id}`);
      } finally { conn.close(); }
    }
  });

  test('STOMP CONNECT refused: expired, wrongly signed, missing token: ERROR "unauthorized: ..." then close', async () => {
    const me = uid();
    const url = wsUrl(box.chatd);
    await assertConnectRefused(url, { connectHeaders: { Authorization: `Bearer ${token(me, { exp: now() - 120 })}` } }, 'token expired');
    await assertConnectRefused(url, { connectHeaders: { Authorization: `Bearer ${makeJwt(claimsFor(me, { iss: ISS, aud: AUD }), { secret: 'nope' })}` } },
      'token signature is invalid');
    await assertConnectRefused(url, {}, 'authentication required');
    await assertConnectRefused(`${url}?access_token=${token(me, { exp: now() - 120 })}`, {}, 'token expired');
  });

  test('STOMP: the CONNECT header wins over the handshake\'s token', async () => {
    const [a, b] = [uid(), uid()];
    const room = seedRoom([a, b]);
    const conn = await stompSession(`${wsUrl(box.chatd)}?access_token=${token(a)}`,
      { connectHeaders: { Authorization: `Bearer ${token(b)}` } });
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      await assertSendAsOtherRefused(conn, room, b, a);
    } finally { conn.close(); }
    // And an expired CONNECT header is not rescued by a good handshake token.
    await assertConnectRefused(`${wsUrl(box.chatd)}?access_token=${token(a)}`,
      { connectHeaders: { Authorization: `Bearer ${token(b, { exp: now() - 120 })}` } }, 'token expired');
  });

  test('STOMP: SEND as another user goes to the error queue and is not stored', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me, other]);
    const conn = await stompSession(wsUrl(box.chatd), { connectHeaders: { Authorization: `Bearer ${token(me)}` } });
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      await assertSendAsOtherRefused(conn, room, me, other);
    } finally { conn.close(); }
  });

  test('STOMP: SUBSCRIBE outside one\'s rooms and to another user\'s errors is refused', async () => {
    const [me, other] = [uid(), uid()];
    const theirs = seedRoom([other]);
    const hdr = () => ({ connectHeaders: { Authorization: `Bearer ${token(me)}` } });
    await assertSubscribeRefused(await stompSession(wsUrl(box.chatd), hdr()), `/topic/chatroom/${theirs.id}`,
      `forbidden: user ${me} is not an active member of chat room ${theirs.id}`);
    await assertSubscribeRefused(await stompSession(wsUrl(box.chatd), hdr()), `/user/${other}/queue/errors`,
      `forbidden: user ${me} may not read the errors of user ${other}`);
  });

  // ---- SockJS session hijack ----

  const sockjsSend = (base, sid, frames, { query = '', headers = {} } = {}) =>
    fetch(`${base}/ws-chat/042/${sid}/xhr_send${query}`, { method: 'POST', headers, body: JSON.stringify(frames) });
  const sendFrame = (body) => `SEND\ndestination:/app/chat.sendMessage\ncontent-type:application/json\n\n${JSON.stringify(body)}\0`;

  test('SockJS: another client cannot send into or read from A\'s session; A itself can', async () => {
    const [a, b] = [uid(), uid()];
    const room = seedRoom([a, b]);
    const topic = `/topic/chatroom/${room.id}`;
    const base = box.chatd.url;
    const sid = `hijack${randomBytes(6).toString('hex')}`;
    const tokenA = token(a);
    const tokenB = token(b);
    const sock = new SockJS(`${base}/ws-chat?access_token=${tokenA}`, null,
      { transports: ['xhr-streaming'], server: '042', sessionId: () => sid });
    const client = Stomp.over(sock);
    client.debug = () => {};
    const received = [];
    let onDelivery = () => {};
    try {
      await new Promise((resolve, reject) => client.connect({}, resolve, (e) => reject(new Error(String(e)))));
      assert.equal(sock.transport, 'xhr-streaming');
      await new Promise((resolve) => {
        client.onreceipt = (f) => { if (f.headers['receipt-id'] === 'hijack-sub') resolve(); };
        client.subscribe(topic, (m) => { received.push(JSON.parse(m.body)); onDelivery(); }, { receipt: 'hijack-sub' });
      });

      const attempts = [
        ['B\'s token in the query', { query: `?access_token=${tokenB}` }],
        ['B\'s token in a header', { headers: bearer(tokenB) }],
        ['no token', {}],
      ];
      for (const [name, opts] of attempts) {
        const res = await sockjsSend(base, sid, [sendFrame(msg(room.id, a, `hijacked: ${name}`))], opts);
        assert.equal(res.status, 403, name);
        assert.match(await res.text(), /session belongs to another client/, name);
      }
      // Reading from the session is refused too.
      const poll = await fetch(`${base}/ws-chat/042/${sid}/xhr?access_token=${tokenB}`, { method: 'POST' });
      assert.equal(poll.status, 403);
      assert.match(await poll.text(), /session belongs to another client/);

      // The owner's own credentials work, and the message arrives in order: after it,
      // nothing of the hijack attempts can still be on its way.
      const delivered = new Promise((resolve) => { onDelivery = () => { if (received.some((m) => m.content === 'genuine')) resolve(); }; });
      const own = await sockjsSend(base, sid, [sendFrame(msg(room.id, a, 'genuine'))], { query: `?access_token=${tokenA}` });
      assert.equal(own.status, 204);
      await delivered;
      assert.deepEqual(received.map((m) => m.content), ['genuine']);
      assert.deepEqual(storedMessages(room.id), [[String(a), 'genuine', 'CHAT']]);
    } finally {
      await new Promise((r) => { if (client.connected) client.disconnect(r); else { sock.close(); r(); } });
    }
  });
});

describe('mode jwt, a STOMP session outlives its token by no more than the leeway', () => {
  const SECRET = `exp-${randomBytes(16).toString('hex')}`;
  const box = chatdFor({ CHAT_AUTH: 'jwt', CHAT_JWT_SECRET: SECRET, CHAT_JWT_LEEWAY_SECONDS: '0' });

  test('the session is closed with ERROR "unauthorized: token expired" once exp passes', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const exp = now() + 2;
    const conn = await stompSession(wsUrl(box.chatd), {
      connectHeaders: { Authorization: `Bearer ${makeJwt(claimsFor(me, { exp }), { secret: SECRET })}` },
    });
    await subscribed(conn, `/topic/chatroom/${room.id}`);
    const error = await conn.waitForFrame(isCommand('ERROR'), 6000);
    assert.equal(error.headers.message, 'unauthorized: token expired');
    assert.ok(Date.now() / 1000 >= exp, 'not before the token expired');
    await conn.waitForClose();
  });
});
