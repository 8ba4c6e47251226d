// Access control, CHAT_ALLOWED_ORIGINS: the WebSocket handshake, SockJS and REST preflight
// refuse origins not listed; listed ones are served; requests without Origin are unaffected.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run. Shared setup: tests/helpers/access.mjs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { api } from '../helpers/chatd.mjs';
import { chatdFor, uid, seedRoom, wsUrl, upgradeStatus, stompSession } from '../helpers/access.mjs';

describe('CHAT_ALLOWED_ORIGINS', () => {
  const box = chatdFor({ CHAT_ALLOWED_ORIGINS: 'https://app.example.com,https://*.example.org' });
  const GOOD = ['https://app.example.com', 'https://chat.example.org'];
  const BAD = ['https://evil.example.net', 'https://app.example.com.evil.net', 'http://app.example.com'];

  test('WebSocket handshake: refused (403) for an origin not listed, accepted for listed ones and without Origin', async () => {
    for (const origin of BAD) {
      const status = await upgradeStatus(wsUrl(box.chatd), { origin });
      assert.equal(status, 403, origin);
    }
    for (const origin of [...GOOD, undefined]) {
      const conn = await stompSession(wsUrl(box.chatd), { origin });
      conn.close();
    }
  });

  test('SockJS: info and transports are 403 for an origin not listed; fine for listed ones and without Origin', async () => {
    const base = box.chatd.url;
    for (const origin of BAD) {
      const info = await fetch(`${base}/ws-chat/info`, { headers: { origin } });
      assert.equal(info.status, 403, origin);
      const open = await fetch(`${base}/ws-chat/000/orig${randomBytes(4).toString('hex')}/xhr`, { method: 'POST', headers: { origin } });
      assert.equal(open.status, 403, origin);
    }
    for (const origin of GOOD) {
      const info = await fetch(`${base}/ws-chat/info`, { headers: { origin } });
      assert.equal(info.status, 200, origin);
      assert.equal(info.headers.get('access-control-allow-origin'), origin);
    }
    assert.equal((await fetch(`${base}/ws-chat/info`)).status, 200);
    const open = await fetch(`${base}/ws-chat/000/orig${randomBytes(4).toString('hex')}/xhr`, { method: 'POST', headers: { origin: GOOD[0] } });
    assert.equal(await open.text(), 'o\n');
  });

  test('REST preflight: 403 for an origin not listed; listed ones get Access-Control-Allow-Origin; no Origin unaffected', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const p = `/api/chat/rooms/${room.id}/messages`;
    const preflight = (origin) => fetch(`${box.chatd.url}${p}`, { method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'GET' } });
    for (const origin of BAD) assert.equal((await preflight(origin)).status, 403, origin);
    for (const origin of GOOD) {
      const res = await preflight(origin);
      assert.ok(res.status >= 200 && res.status < 300, `${origin}: ${res.status}`);
      assert.equal(res.headers.get('access-control-allow-origin'), origin);
    }
    const plain = await api(box.chatd.url, 'GET', p);
    assert.equal(plain.status, 200, plain.text);
  });
});
