// Access control, mode jwt with RS256 keys: a PEM file (CHAT_JWT_PUBLIC_KEY_FILE), a JWKS
// file (CHAT_JWT_JWKS_FILE, the kid picks the key) and a JWKS URL (CHAT_JWT_JWKS_URL:
// fetched, rotated, the provider down): good, wrong key, expired, alg none, alg confusion;
// STOMP CONNECT with such tokens.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run. Shared setup: tests/helpers/access.mjs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, freePort, api } from '../helpers/chatd.mjs';
import { BIN, ENV, withChatd, chatdFor, uid, seedRoom, assertError, assertTokenRefused, bearer, now,
  makeJwt, claimsFor, rsaKeys, jwk, wsUrl, stompSession, subscribed, assertConnectRefused,
  assertSendAsOtherRefused } from '../helpers/access.mjs';

describe('mode jwt, RS256 with CHAT_JWT_PUBLIC_KEY_FILE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-access-'));
  const keys = rsaKeys();
  const stranger = rsaKeys();
  const pem = keys.publicKey.export({ type: 'spki', format: 'pem' });
  fs.writeFileSync(path.join(dir, 'public.pem'), pem);
  const box = chatdFor({ CHAT_AUTH: 'jwt', CHAT_JWT_PUBLIC_KEY_FILE: path.join(dir, 'public.pem') });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const history = (roomId, t) => api(box.chatd.url, 'GET', `/api/chat/rooms/${roomId}/messages`, undefined, bearer(t));

  test('REST: good token 200; another key, expired, alg none 401', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const ok = await history(room.id, makeJwt(claimsFor(me), { alg: 'RS256', privateKey: keys.privateKey }));
    assert.equal(ok.status, 200, ok.text);
    assertTokenRefused(await history(room.id, makeJwt(claimsFor(me), { alg: 'RS256', privateKey: stranger.privateKey })),
      'token signature is invalid');
    assertTokenRefused(await history(room.id, makeJwt(claimsFor(me, { exp: now() - 120 }), { alg: 'RS256', privateKey: keys.privateKey })),
      'token expired');
    assertTokenRefused(await history(room.id, makeJwt(claimsFor(me), { alg: 'none' })), 'token algorithm is not accepted');
    assertError(await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`), 401, 'authentication required');
  });

  test('REST: HS256 signed with the public key PEM as the secret (alg confusion) is refused', async () => {
    const me = uid();
    const room = seedRoom([me]);
    for (const secret of [pem, pem.trim()]) {
      assertTokenRefused(await history(room.id, makeJwt(claimsFor(me), { alg: 'HS256', secret })), /algorithm|signature/);
    }
  });

  test('STOMP: CONNECT with a good RS256 token; with another key\'s: ERROR then close', async () => {
    const me = uid();
    const conn = await stompSession(wsUrl(box.chatd),
      { connectHeaders: { Authorization: `Bearer ${makeJwt(claimsFor(me), { alg: 'RS256', privateKey: keys.privateKey })}` } });
    conn.close();
    await assertConnectRefused(wsUrl(box.chatd),
      { connectHeaders: { Authorization: `Bearer ${makeJwt(claimsFor(me), { alg: 'RS256', privateKey: stranger.privateKey })}` } },
      'token signature is invalid');
  });
});

describe('mode jwt, RS256 with a two-key CHAT_JWT_JWKS_FILE', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-access-'));
  const k1 = rsaKeys();
  const k2 = rsaKeys();
  const stranger = rsaKeys();
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk(k1.publicKey, 'k1'), jwk(k2.publicKey, 'k2')] }));
  const box = chatdFor({ CHAT_AUTH: 'jwt', CHAT_JWT_JWKS_FILE: path.join(dir, 'jwks.json') });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const history = (roomId, t) => api(box.chatd.url, 'GET', `/api/chat/rooms/${roomId}/messages`, undefined, bearer(t));

  test('the kid picks the key', async () => {
    const me = uid();
    const room = seedRoom([me]);
    for (const [k, kid] of [[k1, 'k1'], [k2, 'k2']]) {
      const res = await history(room.id, makeJwt(claimsFor(me), { alg: 'RS256', privateKey: k.privateKey, kid }));
      assert.equal(res.status, 200, `${kid}: ${res.text}`);
    }
    // Key k1's signature under kid k2, an unknown kid, a stranger's key: refused.
    assertTokenRefused(await history(room.id, makeJwt(claimsFor(me), { alg: 'RS256', privateKey: k1.privateKey, kid: 'k2' })));
    assertTokenRefused(await history(room.id, makeJwt(claimsFor(me), { alg: 'RS256', privateKey: k1.privateKey, kid: 'k9' })));
    assertTokenRefused(await history(room.id, makeJwt(claimsFor(me), { alg: 'RS256', privateKey: stranger.privateKey, kid: 'k1' })),
      'token signature is invalid');
  });

  test('STOMP: CONNECT with a kid-selected token works; SEND as another user is refused', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me, other]);
    const t = makeJwt(claimsFor(me), { alg: 'RS256', privateKey: k2.privateKey, kid: 'k2' });
    const conn = await stompSession(`${wsUrl(box.chatd)}?access_token=${t}`);
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      await assertSendAsOtherRefused(conn, room, me, other);
    } finally { conn.close(); }
  });
});

test('mode jwt, a one-key CHAT_JWT_JWKS_FILE: a token without kid works', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-access-'));
  const k = rsaKeys();
  fs.writeFileSync(path.join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk(k.publicKey, 'only')] }));
  try {
    await withChatd({ CHAT_AUTH: 'jwt', CHAT_JWT_JWKS_FILE: path.join(dir, 'jwks.json') }, async (chatd) => {
      const me = uid();
      const room = seedRoom([me]);
      const res = await api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`, undefined,
        bearer(makeJwt(claimsFor(me), { alg: 'RS256', privateKey: k.privateKey })));
      assert.equal(res.status, 200, res.text);
      const wrong = await api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`, undefined,
        bearer(makeJwt(claimsFor(me), { alg: 'RS256', privateKey: rsaKeys().privateKey })));
      assertTokenRefused(wrong, 'token signature is invalid');
    });
  } finally { fs.rmSync(dir, { recursive: true, force: true }); }
});

describe('mode jwt, RS256 with CHAT_JWT_JWKS_URL (fetched, rotated, provider down)', () => {
  const k1 = rsaKeys();
  const k2 = rsaKeys();
  // The identity provider: serves `served` (a JSON text) and counts the fetches.
  const provider = { served: JSON.stringify({ keys: [jwk(k1.publicKey, 'k1')] }), fetches: 0 };
  const server = http.createServer((req, res) => {
    provider.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(provider.served);
  });
  const box = {};
  before(async () => {
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    box.chatd = await startChatd({ env: { ...ENV, CHAT_AUTH: 'jwt',
      CHAT_JWT_JWKS_URL: `http://127.0.0.1:${server.address().port}/.well-known/jwks.json` } });
  });
  after(async () => { await box.chatd?.stop(); server.close(); });
  const history = (roomId, t) => api(box.chatd.url, 'GET', `/api/chat/rooms/${roomId}/messages`, undefined, bearer(t));
  const signed = (k, kid, userId) => makeJwt(claimsFor(userId), { alg: 'RS256', privateKey: k.privateKey, kid });
  // Polls until the request answers 200 (the fetch is asynchronous), at most 5 s.
  async function eventually200(request) {
    let res;
    for (let i = 0; i < 50; i++) {
      res = await request();
      if (res.status === 200) return res;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`never 200: ${res.status} ${res.text}`);
  }

  test('keys from the provider verify tokens; a new kid is fetched at once, garbage keeps the keys', async () => {
    const me = uid();
    const room = seedRoom([me]);
    await eventually200(() => history(room.id, signed(k1, 'k1', me)));
    const health = (await api(box.chatd.url, 'GET', '/actuator/health')).json;
    assert.equal(health.status, 'UP');
    assert.equal(health.components.jwks.status, 'UP');
    assert.equal(health.components.jwks.details.keys, 1);
    // Rotation: the provider publishes k2; the first token with kid k2 triggers a fetch.
    provider.served = JSON.stringify({ keys: [jwk(k1.publicKey, 'k1'), jwk(k2.publicKey, 'k2')] });
    const before = provider.fetches;
    const first = await history(room.id, signed(k2, 'k2', me));
    assert.equal(first.status, 401, first.text);
    assert.equal(first.json.message, 'token key is unknown');
    await eventually200(() => history(room.id, signed(k2, 'k2', me)));
    assert.equal(provider.fetches, before + 1, 'one fetch for the new kid');
    // Unknown kids again right away: no second fetch within 30 s.
    for (let i = 0; i < 5; i++) assert.equal((await history(room.id, signed(k2, `nope${i}`, me))).status, 401);
    assert.equal(provider.fetches, before + 1, 'bad tokens cannot make chatd hammer the provider');
    // STOMP with a provider key.
    const conn = await stompSession(`${wsUrl(box.chatd)}?access_token=${signed(k2, 'k2', me)}`);
    conn.close();
  });

  test('a provider that is down at start: 503 on REST and ERROR on STOMP, not a client error', async () => {
    const port = await freePort(); // nothing listens there
    await withChatd({ CHAT_AUTH: 'jwt', CHAT_JWT_JWKS_URL: `http://127.0.0.1:${port}/jwks` }, async (chatd) => {
      const me = uid();
      const room = seedRoom([me]);
      const res = await api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`, undefined, bearer(signed(k1, 'k1', me)));
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json.message, 'token signing keys are not available yet');
      const health = await api(chatd.url, 'GET', '/actuator/health');
      assert.equal(health.status, 503, 'a component is DOWN');
      assert.equal(health.json.components.jwks.status, 'DOWN');
      assert.equal((await api(chatd.url, 'GET', '/actuator/health/readiness')).status, 200,
        'still ready: HS256 and the rest of the API do not need the provider');
      await assertConnectRefused(`${wsUrl(chatd)}?access_token=${signed(k1, 'k1', me)}`, {},
        'token signing keys are not available yet');
      await chatd.waitForLog(/cannot fetch http:\/\/127\.0\.0\.1:\d+\/jwks .*RS256 tokens are refused until it works/, 5000);
    });
  });

  test('CHAT_JWT_JWKS_URL must be an http(s) URL', async () => {
    const run = spawnSync(BIN, [], { env: { ...process.env, ...ENV, CHAT_AUTH: 'jwt', CHAT_JWT_JWKS_URL: 'file:///etc/passwd',
      SERVER_PORT: String(await freePort()) }, encoding: 'utf8', timeout: 15000 });
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /CHAT_JWT_JWKS_URL must be an http:\/\/ or https:\/\/ URL/);
  });
});
