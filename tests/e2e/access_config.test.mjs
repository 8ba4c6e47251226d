// Access control's configuration:
//  - CHAT_AUTH itself: an unknown mode and jwt without any key stop start-up, naming the
//    variable; so do an unusable key file, key set or address list.
//  - No secret (JWT secret, internal token) and no token appears in chatd's log lines.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run. Shared setup: tests/helpers/access.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, api, uniqueStudyId } from '../helpers/chatd.mjs';
import { withChatd, runChatdBriefly, uid, seedRoom, bearer, now, makeJwt, claimsFor, wsUrl,
  stompSession, assertConnectRefused } from '../helpers/access.mjs';

describe('CHAT_AUTH configuration', () => {
  test('an unknown mode stops start-up with a line naming CHAT_AUTH', async () => {
    const r = runChatdBriefly({ SERVER_PORT: String(await freePort()), CHAT_AUTH: 'kerberos' });
    assert.equal(r.status, 2, `exit status (signal ${r.signal})\n${r.stderr}`);
    assert.match(r.stderr, /CHAT_AUTH/);
  });

  test('an unusable key file or address list stops start-up with a line naming the variable', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-access-bad-'));
    try {
      const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' });
      fs.writeFileSync(path.join(dir, 'weak.pem'), weak);
      fs.writeFileSync(path.join(dir, 'not-a-set.json'), '{"kty":"RSA"}');
      const cases = [
        [{ CHAT_AUTH: 'jwt', CHAT_JWT_PUBLIC_KEY_FILE: path.join(dir, 'missing.pem') },
          /cannot load the scripts .*CHAT_JWT_PUBLIC_KEY_FILE: cannot read .*missing\.pem/],
        [{ CHAT_AUTH: 'jwt', CHAT_JWT_PUBLIC_KEY_FILE: path.join(dir, 'weak.pem') },
          /CHAT_JWT_PUBLIC_KEY_FILE: RSA key of 1024 bits/],
        [{ CHAT_AUTH: 'jwt', CHAT_JWT_JWKS_FILE: path.join(dir, 'not-a-set.json') },
          /CHAT_JWT_JWKS_FILE: not a JSON Web Key Set/],
        [{ CHAT_AUTH: 'gateway', CHAT_TRUSTED_PROXIES: '10.0.0.0/8,gateway.internal' },
          /CHAT_TRUSTED_PROXIES: 'gateway\.internal' is not an address/],
      ];
      for (const [env, line] of cases) {
        const r = runChatdBriefly({ SERVER_PORT: String(await freePort()), ...env });
        assert.notEqual(r.status, 0, `${JSON.stringify(env)} must not start`);
        assert.match(r.stderr, line, JSON.stringify(env));
        assert.doesNotMatch(r.stderr, /previous scripts keep serving/, 'at start nothing else serves');
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('jwt mode without a secret, a key file or a JWKS file stops start-up', async () => {
    const r = runChatdBriefly({ SERVER_PORT: String(await freePort()), CHAT_AUTH: 'jwt' });
    assert.equal(r.status, 2, `exit status (signal ${r.signal})\n${r.stderr}`);
    assert.match(r.stderr, /CHAT_JWT_SECRET|CHAT_JWT_PUBLIC_KEY_FILE|CHAT_JWT_JWKS_FILE/);
  });
});

test('no secret and no token in the log lines', async () => {
  const SECRET = `S3CR3T-${randomBytes(12).toString('hex')}`;
  const INTERNAL = `INT3RNAL-${randomBytes(12).toString('hex')}`;
  const tokens = [];
  let chatd;
  await withChatd({ CHAT_AUTH: 'jwt', CHAT_JWT_SECRET: SECRET, CHAT_INTERNAL_TOKEN: INTERNAL,
    CHAT_INTERNAL_NETWORKS: '10.0.0.0/8', CHAT_LOG_LEVEL: 'debug' }, async (c) => {
    chatd = c;
    const me = uid();
    const room = seedRoom([me]);
    const mint = (claims, opts = {}) => { const t = makeJwt(claims, { secret: SECRET, ...opts }); tokens.push(t); return t; };
    const good = mint(claimsFor(me));
    const expired = mint(claimsFor(me, { exp: now() - 120 }));
    const forged = mint(claimsFor(me), { secret: 'another secret' });
    const p = `/api/chat/rooms/${room.id}/messages`;
    assert.equal((await api(c.url, 'GET', p, undefined, bearer(good))).status, 200);
    assert.equal((await api(c.url, 'GET', p, undefined, bearer(expired))).status, 401);
    assert.equal((await api(c.url, 'GET', p, undefined, bearer(forged))).status, 401);
    assert.equal((await api(c.url, 'GET', `${p}?access_token=${forged}`)).status, 401);
    const internal = (headers) => api(c.url, 'POST', '/api/chat/internal/rooms/member',
      { studyId: uniqueStudyId(), roomName: 'logs', userId: uid(), nickname: 'n' }, headers);
    assert.equal((await internal({ 'x-internal-token': INTERNAL })).status, 200);
    assert.equal((await internal({ 'x-internal-token': `${INTERNAL}-wrong` })).status, 403);
    const conn = await stompSession(`${wsUrl(c)}?access_token=${good}`);
    conn.close();
    await conn.waitForClose();
    await assertConnectRefused(`${wsUrl(c)}?access_token=${expired}`, {}, 'token expired');
    await assertConnectRefused(wsUrl(c), { connectHeaders: { Authorization: `Bearer ${forged}` } }, 'token signature is invalid');
  });
  const logs = chatd.logs.join('\n');
  assert.ok(chatd.logs.length > 0, 'chatd logged something');
  assert.ok(!logs.includes(SECRET), 'the JWT secret is not logged');
  assert.ok(!logs.includes(INTERNAL), 'the internal token is not logged');
  for (const t of tokens) {
    assert.ok(!logs.includes(t), `a token is logged: ${t.slice(0, 12)}…`);
    assert.ok(!logs.includes(t.split('.')[2]), 'a token\'s signature is logged');
  }
});
