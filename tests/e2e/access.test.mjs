// Identity and access control (README "Access control") against a real chatd,
// PostgreSQL and Redis. Covered, one describe block per chatd configuration:
//  - CHAT_AUTH itself: an unknown mode and jwt without any key stop start-up, naming the variable.
//  - none (default): the original behaviour (STOMP send stored and broadcast, history without
//    identity); chat.leave needs an active member or that member's presence in the session.
//  - /api/chat/internal/**: loopback by default; X-Forwarded-For / Forwarded close it;
//    CHAT_INTERNAL_NETWORKS narrows it; X-Internal-Token (CHAT_INTERNAL_TOKEN) opens it.
//  - gateway: X-User-Id from a trusted proxy (default 127.0.0.1/32, or CHAT_TRUSTED_PROXIES)
//    on REST and the WebSocket handshake; 401 / ERROR from elsewhere or without it; 403 when
//    memberId/userId is somebody else; history and SUBSCRIBE only for active members; the
//    errors queue of another user; SEND as somebody else goes to the error queue, unstored.
//  - jwt: HS256 (CHAT_JWT_SECRET, with CHAT_JWT_ISSUER/AUDIENCE), RS256 with a PEM file and
//    with a JWKS file (kid): good, expired, not yet valid, leeway, wrong signature, alg none,
//    alg confusion, wrong iss/aud, malformed, missing; STOMP CONNECT header, lowercase
//    header, handshake Authorization header, ?access_token=, CONNECT header wins; ERROR
//    "unauthorized: ..." then close; SEND as another user.
//  - SockJS session hijack: xhr_send / xhr into A's session with B's token or none is 403
//    and nothing is delivered or stored; with A's own credentials it works.
//  - CHAT_ALLOWED_ORIGINS: WebSocket handshake, SockJS, REST preflight; no Origin unaffected.
//  - No secret (JWT secret, internal token) and no token appears in chatd's log lines.
// Rooms and members are written straight into PostgreSQL (seedRoom), so every block works
// whatever its mode; ids are unique per run.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, freePort, api, sql, uniqueStudyId, REPO } from '../helpers/chatd.mjs';
import { connectStomp, WebSocket } from '../helpers/stomp.mjs';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.mjs';

const require = createRequire(import.meta.url);
const SockJS = require('sockjs-client');
const Stomp = require('stompjs');

const BIN = process.env.CHATD_BIN ?? path.join(REPO, 'build', 'chatd');
const ENV = { CHAT_KAFKA_ENABLED: '0' };
const SEND_FAILED = '메시지 전송에 실패했습니다: ';
const ERROR_KEYS = ['timestamp', 'status', 'error', 'message', 'path'];

// ---------------------------------------------------------------------------------------
// chatd instances

async function withChatd(env, fn) {
  const chatd = await startChatd({ env: { ...ENV, ...env } });
  try {
    return await fn(chatd);
  } finally {
    await chatd.stop();
  }
}

// A describe block's instance: started before its tests, stopped after them.
function chatdFor(envOrFn) {
  const box = {};
  before(async () => {
    const env = typeof envOrFn === 'function' ? envOrFn() : envOrFn;
    box.chatd = await startChatd({ env: { ...ENV, ...env } });
  });
  after(async () => { if (box.chatd) await box.chatd.stop(); });
  return box;
}

// ---------------------------------------------------------------------------------------
// data

let nextUser = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);
const uid = () => nextUser++;

// A room with active members [userId...] and members who left [userId...]; returns { id, studyId }.
function seedRoom(active = [], left = []) {
  const studyId = uniqueStudyId();
  const [[id]] = sql(`INSERT INTO chat_rooms (study_id, name, is_active, created_at)
    VALUES (${studyId}, 'access', true, localtimestamp) RETURNING id`);
  for (const m of active) {
    sql(`INSERT INTO chat_room_members (chat_room_id, member_id, sender_nickname, joined_at)
      VALUES (${id}, ${m}, 'u${m}', localtimestamp)`);
  }
  for (const m of left) {
    sql(`INSERT INTO chat_room_members (chat_room_id, member_id, sender_nickname, joined_at, left_at)
      VALUES (${id}, ${m}, 'u${m}', localtimestamp, localtimestamp)`);
  }
  return { id: Number(id), studyId };
}

const storedMessages = (roomId) =>
  sql(`SELECT sender_id, content, message_type FROM chat_messages WHERE chat_room_id = ${roomId} ORDER BY id`);

const msg = (roomId, senderId, content, extra = {}) =>
  ({ chatRoomId: roomId, senderId, senderNickname: `u${senderId}`, content, messageType: 'CHAT', ...extra });

// ---------------------------------------------------------------------------------------
// HTTP

// One request with node:http, so the source address can be chosen (localAddress).
function httpRequest(base, method, pathAndQuery, { headers = {}, body, localAddress } = {}) {
  const url = new URL(pathAndQuery, base);
  const data = body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body));
  const h = { ...headers };
  if (data !== undefined) {
    h['content-type'] ??= 'application/json';
    h['content-length'] = Buffer.byteLength(data);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: url.pathname + url.search,
      headers: h, localAddress, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => {
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({ status: res.statusCode, text, json, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

// A Spring error JSON with this status and a message matching `message` (string: equal).
function assertError(res, status, message) {
  assert.equal(res.status, status, res.text);
  assert.ok(res.json, `an error JSON body: ${res.text}`);
  assert.deepEqual(Object.keys(res.json), ERROR_KEYS);
  assert.equal(res.json.status, status);
  assert.equal(res.json.error, { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status]);
  if (typeof message === 'string') assert.equal(res.json.message, message);
  else if (message) assert.match(res.json.message, message);
}

// A jwt-mode 401: the error JSON plus the WWW-Authenticate challenge.
function assertTokenRefused(res, message) {
  assertError(res, 401, message);
  const challenge = res.headers.get ? res.headers.get('www-authenticate') : res.headers['www-authenticate'];
  assert.match(challenge ?? '', /^Bearer error="invalid_token"/);
}

const bearer = (token) => ({ authorization: `Bearer ${token}` });
const user = (id) => ({ 'x-user-id': String(id) });

// ---------------------------------------------------------------------------------------
// JWT, built by hand

const b64url = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

// alg HS256 (secret), RS256 (privateKey) or none; header adds/overrides header fields.
function makeJwt(claims, { alg = 'HS256', secret, privateKey, kid, header = {} } = {}) {
  const head = { alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header };
  const input = `${b64url(head)}.${b64url(claims)}`;
  let sig = '';
  if (alg === 'HS256') sig = createHmac('sha256', secret).update(input).digest('base64url');
  else if (alg === 'RS256') sig = createSign('RSA-SHA256').update(input).sign(privateKey, 'base64url');
  return `${input}.${sig}`;
}

const claimsFor = (userId, extra = {}) => ({ sub: String(userId), iat: now(), exp: now() + 300, ...extra });

const rsaKeys = () => generateKeyPairSync('rsa', { modulusLength: 2048 });

// ---------------------------------------------------------------------------------------
// WebSocket and STOMP by hand

const wsUrl = (chatd, p = '/ws-chat') => `ws://127.0.0.1:${chatd.port}${p}`;

// Opens a WebSocket; resolves { status: 101, ws } or { status } when the upgrade is refused.
function openWs(url, { headers = {}, origin, localAddress, protocols = ['v12.stomp'] } = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { headers, origin, localAddress });
    ws.on('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      resolve({ status: res.statusCode });
    });
    ws.on('open', () => resolve({ status: 101, ws }));
    ws.on('error', reject);
  });
}

const unescapeHeader = (v) => v.replace(/\\([\\nrc])/g, (_, c) => ({ '\\': '\\', n: '\n', r: '\r', c: ':' }[c]));

function parseFrame(text) {
  const end = text.indexOf('\n\n');
  const head = end < 0 ? text : text.slice(0, end);
  const [command, ...lines] = head.split('\n');
  const headers = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i < 0) continue;
    const k = unescapeHeader(l.slice(0, i));
    if (!(k in headers)) headers[k] = unescapeHeader(l.slice(i + 1));
  }
  return { command, headers, body: end < 0 ? '' : text.slice(end + 2) };
}

// STOMP frames over an open ws: frames (parsed, heart-beats dropped), closed, waitFor(pred).
function stompOver(ws) {
  const frames = [];
  const waiters = new Set();
  const conn = {
    ws, frames, closed: null,
    send: (command, headers = {}, body = '') => {
      const h = Object.entries(headers).map(([k, v]) => `${k}:${v}\n`).join('');
      ws.send(`${command}\n${h}\n${body}\0`);
    },
    // Resolves with the first frame for which pred(frame) holds (with the close once
    // closed if pred is 'closed'); rejects after timeoutMs.
    async waitFor(pred, timeoutMs = 5000) {
      if (pred === 'closed') return conn.until(() => conn.closed, timeoutMs);
      return conn.until(() => frames.find(pred), timeoutMs);
    },
    // Resolves with the frames matching pred once there are n of them.
    waitForCount(pred, n, timeoutMs = 5000) {
      return conn.until(() => { const m = frames.filter(pred); return m.length >= n && m; }, timeoutMs);
    },
    // Resolves with cond()'s value once it is truthy, checked on every frame and the close.
    until(cond, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const v = cond();
          if (v) { done(); resolve(v); }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timeout; frames: ${JSON.stringify(frames)} closed: ${JSON.stringify(conn.closed)}`));
        }, timeoutMs);
        const done = () => { clearTimeout(timer); waiters.delete(check); };
        waiters.add(check);
        check();
      });
    },
    close: () => { if (!conn.closed) ws.close(); },
  };
  ws.on('message', (d) => {
    for (const part of d.toString().split('\0')) {
      const t = part.replace(/^[\r\n]+/, '');
      if (t) frames.push(parseFrame(t));
    }
    for (const w of [...waiters]) w();
  });
  ws.on('close', (code, reason) => {
    conn.closed = { code, reason: reason.toString() };
    for (const w of [...waiters]) w();
  });
  return conn;
}

const isCommand = (cmd) => (f) => f.command === cmd;
const isReceipt = (id) => (f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === id;
const onDest = (dest, pred = () => true) => (f) => f.command === 'MESSAGE' && f.headers.destination === dest && pred(f);

// Opens a WebSocket (wsOpts: headers, origin, localAddress), sends CONNECT with
// connectHeaders, resolves { conn, reply } with reply the CONNECTED or ERROR frame.
async function stompConnect(url, { connectHeaders = {}, ...wsOpts } = {}) {
  const { status, ws } = await openWs(url, wsOpts);
  assert.equal(status, 101, `WebSocket upgrade of ${url}`);
  const conn = stompOver(ws);
  conn.send('CONNECT', { 'accept-version': '1.2', host: '/', ...connectHeaders });
  const reply = await conn.waitFor((f) => f.command === 'CONNECTED' || f.command === 'ERROR');
  return { conn, reply };
}

// As stompConnect, but the CONNECT must succeed.
async function stompSession(url, opts) {
  const { conn, reply } = await stompConnect(url, opts);
  assert.equal(reply.command, 'CONNECTED', JSON.stringify(reply));
  return conn;
}

// SUBSCRIBE with a receipt; resolves with the RECEIPT or ERROR frame.
let nextId = 0;
async function subscribe(conn, destination) {
  const id = `s${nextId++}`;
  conn.send('SUBSCRIBE', { id, destination, receipt: `sub-${id}` });
  return conn.waitFor((f) => isReceipt(`sub-${id}`)(f) || f.command === 'ERROR');
}

async function subscribed(conn, destination) {
  const f = await subscribe(conn, destination);
  assert.equal(f.command, 'RECEIPT', `SUBSCRIBE ${destination}: ${JSON.stringify(f)}`);
}

// SEND with a receipt id; returns the id.
function send(conn, destination, body) {
  const receipt = `r${nextId++}`;
  conn.send('SEND', { destination, receipt, 'content-type': 'application/json' },
    typeof body === 'string' ? body : JSON.stringify(body));
  return receipt;
}

// The connection is refused at CONNECT: ERROR "unauthorized: ..." and then the close.
async function assertConnectRefused(url, opts, reason) {
  const { conn, reply } = await stompConnect(url, opts);
  assert.equal(reply.command, 'ERROR', JSON.stringify(reply));
  assert.match(reply.headers.message, /^unauthorized: /);
  if (typeof reason === 'string') assert.equal(reply.headers.message, `unauthorized: ${reason}`);
  else if (reason) assert.match(reply.headers.message, reason);
  await conn.waitFor('closed');
  assert.ok(!conn.frames.some(isCommand('CONNECTED')));
}

// A SUBSCRIBE refused with ERROR `message`, then the close.
async function assertSubscribeRefused(conn, destination, message) {
  const f = await subscribe(conn, destination);
  assert.equal(f.command, 'ERROR', JSON.stringify(f));
  assert.equal(f.headers.message, message);
  await conn.waitFor('closed');
}

// A member of room `room` (identity `me`, connection `conn`, already subscribed to the room
// topic and /user/queue/errors) sends once as `other` and once as itself: the first goes to
// the error queue, unreceipted, unstored and unbroadcast; the second is stored and delivered.
async function assertSendAsOtherRefused(conn, room, me, other) {
  const topic = `/topic/chatroom/${room.id}`;
  const forged = send(conn, '/app/chat.sendMessage', msg(room.id, other, 'forged'));
  const err = await conn.waitFor(onDest('/user/queue/errors'));
  assert.equal(err.body, `${SEND_FAILED}forbidden: senderId ${other} is not the authenticated user ${me}`);
  assert.match(err.headers['content-type'], /^text\/plain/);
  const own = send(conn, '/app/chat.sendMessage', msg(room.id, me, 'genuine'));
  await conn.waitFor(isReceipt(own));
  await conn.waitFor(onDest(topic, (f) => JSON.parse(f.body).content === 'genuine'));
  assert.ok(!conn.frames.some(isReceipt(forged)), 'no RECEIPT for the refused SEND');
  assert.ok(!conn.frames.some(onDest(topic, (f) => JSON.parse(f.body).content === 'forged')), 'not broadcast');
  assert.deepEqual(storedMessages(room.id), [[String(me), 'genuine', 'CHAT']]);
  assert.equal(conn.closed, null, 'a refused SEND does not end the connection');
}

// Paths public in every mode answer 200 without any identity.
async function assertPublic(base) {
  for (const p of ['/actuator/health/liveness', '/actuator/prometheus', '/v3/api-docs', '/', '/ws-chat/info']) {
    const res = await fetch(`${base}${p}`);
    assert.equal(res.status, 200, p);
    await res.arrayBuffer();
  }
}

// ---------------------------------------------------------------------------------------
// start-up configuration

function runChatdBriefly(env) {
  return spawnSync(BIN, [], {
    env: { ...process.env, ...ENV, CHAT_BIND_ADDRESS: '127.0.0.1', CHAT_LUA_DIR: path.join(REPO, 'lua'),
      CHAT_MIGRATIONS_DIR: path.join(REPO, 'migrations'), ...env },
    encoding: 'utf8', timeout: 15000,
  });
}

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

// ---------------------------------------------------------------------------------------
// mode none

describe('mode none (default)', () => {
  const box = chatdFor({});

  test('a member posts over STOMP: stored and broadcast; history is readable without identity', async () => {
    const [alice, bob] = [uid(), uid()];
    const room = seedRoom([alice, bob]);
    const topic = `/topic/chatroom/${room.id}`;
    const c1 = await connectStomp(wsUrl(box.chatd));
    const c2 = await connectStomp(wsUrl(box.chatd));
    try {
      c2.subscribe(topic, { receipt: 'sub' });
      await new Promise((r) => c2.client.watchForReceipt('sub', r));
      await c1.sendWithReceipt('/app/chat.sendMessage', msg(room.id, alice, 'hello, no identity'));
      const [got] = await c2.waitFor(topic, (m) => m.length >= 1);
      assert.equal(JSON.parse(got.body).content, 'hello, no identity');
      assert.equal(JSON.parse(got.body).senderId, alice);
      assert.deepEqual(storedMessages(room.id), [[String(alice), 'hello, no identity', 'CHAT']]);
      const history = await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`);
      assert.equal(history.status, 200, history.text);
      assert.deepEqual(history.json.content.map((m) => m.content), ['hello, no identity']);
      const unread = await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${bob}`);
      assert.equal(unread.status, 200, unread.text);
      assert.equal(unread.json.unreadCount, 1);
    } finally {
      await c1.close();
      await c2.close();
    }
  });

  test('chat.leave from a non-member is refused on the error queue and stores nothing', async () => {
    const [member, stranger, former] = [uid(), uid(), uid()];
    const room = seedRoom([member], [former]);
    const conn = await stompSession(wsUrl(box.chatd));
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      for (const who of [stranger, former]) {
        const r = send(conn, '/app/chat.leave', { chatRoomId: room.id, senderId: who, senderNickname: 'x' });
        const err = await conn.waitFor(onDest('/user/queue/errors', (f) => f.body.includes(String(who))));
        assert.match(err.body, new RegExp(`^${SEND_FAILED}.*${who}.*not an active member`));
        assert.ok(!conn.frames.some(isReceipt(r)));
      }
      // An active member may leave: proves the refusals above were about membership.
      const ok = send(conn, '/app/chat.leave', { chatRoomId: room.id, senderId: member, senderNickname: '홍길동' });
      await conn.waitFor(isReceipt(ok));
      await conn.waitFor(onDest(`/topic/chatroom/${room.id}`));
      assert.ok(!conn.frames.some(onDest(`/topic/chatroom/${room.id}`, (f) => !f.body.includes('홍길동'))),
        'only the member\'s LEAVE was broadcast');
      assert.deepEqual(storedMessages(room.id), [['0', '홍길동님이 퇴장하셨습니다.', 'LEAVE']]);
    } finally { conn.close(); }
  });

  test('chat.leave is allowed for a member present in this session who has left the room meanwhile', async () => {
    const member = uid();
    const room = seedRoom([member]);
    const conn = await stompSession(wsUrl(box.chatd));
    try {
      await subscribed(conn, '/user/queue/errors');
      await conn.waitFor(isReceipt(send(conn, '/app/chat.join', { chatRoomId: room.id, senderId: member, senderNickname: 'p' })));
      const left = await api(box.chatd.url, 'POST', `/api/chat/rooms/${room.id}/leave?memberId=${member}`);
      assert.equal(left.status, 200, left.text);
      await conn.waitFor(isReceipt(send(conn, '/app/chat.leave', { chatRoomId: room.id, senderId: member, senderNickname: 'p' })));
      assert.deepEqual(storedMessages(room.id).map((r) => r[2]), ['JOIN', 'LEAVE']);
    } finally { conn.close(); }
  });

  test('internal endpoint: open from loopback, closed when the request came through a proxy', async () => {
    const base = box.chatd.url;
    const body = (studyId) => ({ studyId, roomName: 'internal', userId: uid(), nickname: 'n' });
    const ok = await api(base, 'POST', '/api/chat/internal/rooms/member', body(uniqueStudyId()));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.memberCount, 1);
    for (const hdr of [{ 'x-forwarded-for': '203.0.113.9' }, { forwarded: 'for=203.0.113.9' }]) {
      const studyId = uniqueStudyId();
      const res = await api(base, 'POST', '/api/chat/internal/rooms/member', body(studyId), hdr);
      assertError(res, 403, 'internal endpoint');
      assert.equal(res.json.path, '/api/chat/internal/rooms/member');
      assert.deepEqual(sql(`SELECT count(*) FROM chat_rooms WHERE study_id = ${studyId}`), [['0']]);
    }
  });
});

// ---------------------------------------------------------------------------------------
// internal endpoint with CHAT_INTERNAL_NETWORKS / CHAT_INTERNAL_TOKEN

describe('internal endpoint, narrowed networks and a token', () => {
  const TOKEN = `it-${randomBytes(12).toString('hex')}`;
  const box = chatdFor({ CHAT_INTERNAL_NETWORKS: '10.0.0.0/8', CHAT_INTERNAL_TOKEN: TOKEN });
  const call = (studyId, headers = {}) => api(box.chatd.url, 'POST', '/api/chat/internal/rooms/member',
    { studyId, roomName: 'internal', userId: uid(), nickname: 'n' }, headers);
  const roomsOf = (studyId) => sql(`SELECT count(*) FROM chat_rooms WHERE study_id = ${studyId}`)[0][0];

  test('loopback outside CHAT_INTERNAL_NETWORKS: 403 "internal endpoint", nothing created', async () => {
    for (const headers of [{}, { 'x-internal-token': 'wrong' }, { 'x-internal-token': `${TOKEN}x` }]) {
      const studyId = uniqueStudyId();
      assertError(await call(studyId, headers), 403, 'internal endpoint');
      assert.equal(roomsOf(studyId), '0');
    }
  });

  test('the right X-Internal-Token opens it, also through a proxy', async () => {
    for (const extra of [{}, { 'x-forwarded-for': '203.0.113.9' }]) {
      const studyId = uniqueStudyId();
      const res = await call(studyId, { 'x-internal-token': TOKEN, ...extra });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.studyId, studyId);
      assert.equal(roomsOf(studyId), '1');
    }
  });
});

// ---------------------------------------------------------------------------------------
// mode gateway

describe('mode gateway', () => {
  const box = chatdFor({ CHAT_AUTH: 'gateway' });

  test('each refusal is counted in chatd_access_denied_total by reason', async () => {
    const denials = async () => {
      const m = parsePrometheus((await api(box.chatd.url, 'GET', '/actuator/prometheus')).text);
      return Object.fromEntries(['unauthenticated', 'forbidden', 'internal'].map(
        (reason) => [reason, sampleValue(m, 'chatd_access_denied_total', { reason })]));
    };
    const before = await denials();
    const me = uid();
    const room = seedRoom([me]);
    assert.equal((await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`)).status, 401);
    assert.equal((await api(box.chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${me + 1}`,
      undefined, { 'X-User-Id': String(me) })).status, 403);
    assert.equal((await api(box.chatd.url, 'POST', '/api/chat/internal/rooms/member',
      { studyId: uniqueStudyId(), roomName: 'x', userId: me }, { 'X-Forwarded-For': '203.0.113.5' })).status, 403);
    assert.deepEqual(await denials(), {
      unauthenticated: before.unauthenticated + 1, forbidden: before.forbidden + 1, internal: before.internal + 1,
    });
  });

  test('REST with X-User-Id from the trusted proxy (127.0.0.1): allowed for one\'s own memberId', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const base = box.chatd.url;
    const unread = await api(base, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${me}`, undefined, user(me));
    assert.equal(unread.status, 200, unread.text);
    assert.deepEqual(unread.json, { chatRoomId: room.id, unreadCount: 0 });
    const history = await api(base, 'GET', `/api/chat/rooms/${room.id}/messages`, undefined, user(me));
    assert.equal(history.status, 200, history.text);
    const joined = await api(base, 'POST', `/api/chat/rooms/${room.id}/join?memberId=${me}`, undefined, user(me));
    assert.equal(joined.status, 200, joined.text);
  });

  test('REST without X-User-Id: 401 "authentication required"', async () => {
    const me = uid();
    const room = seedRoom([me]);
    for (const [method, p] of [['GET', `/api/chat/rooms/${room.id}/unread?memberId=${me}`],
      ['GET', `/api/chat/rooms/${room.id}/messages`], ['GET', `/api/chat/rooms/study/${room.studyId}`],
      ['POST', `/api/chat/rooms/${room.id}/join?memberId=${me}`]]) {
      const res = await api(box.chatd.url, method, p);
      assertError(res, 401, 'authentication required');
      assert.equal(res.json.path, p.split('?')[0]);
    }
  });

  test('memberId / userId other than X-User-Id: 403, and nothing changes', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me], [other]);
    const base = box.chatd.url;
    for (const [method, p] of [['POST', 'join'], ['POST', 'leave'], ['GET', 'unread']]) {
      const res = await api(base, method, `/api/chat/rooms/${room.id}/${p}?memberId=${other}`, undefined, user(me));
      assertError(res, 403, `memberId ${other} is not the authenticated user ${me}`);
    }
    const add = await api(base, 'POST', '/api/chat/rooms/member',
      { studyId: room.studyId, roomId: room.id, userId: other, nickname: 'x' }, user(me));
    assertError(add, 403, new RegExp(`${other} is not the authenticated user ${me}`));
    assert.deepEqual(sql(`SELECT member_id, left_at IS NULL FROM chat_room_members WHERE chat_room_id = ${room.id} ORDER BY id`),
      [[String(me), 't'], [String(other), 'f']], 'the former member was not reactivated');
  });

  test('history: 200 for one\'s room, 403 for another room, 404 for no room', async () => {
    const [me, other] = [uid(), uid()];
    const mine = seedRoom([me]);
    const theirs = seedRoom([other], [me]);
    const base = box.chatd.url;
    assert.equal((await api(base, 'GET', `/api/chat/rooms/${mine.id}/messages`, undefined, user(me))).status, 200);
    const denied = await api(base, 'GET', `/api/chat/rooms/${theirs.id}/messages`, undefined, user(me));
    assertError(denied, 403, `user ${me} is not an active member of chat room ${theirs.id}`);
    assertError(await api(base, 'GET', '/api/chat/rooms/999999999999/messages', undefined, user(me)), 404);
  });

  test('X-User-Id from an address outside CHAT_TRUSTED_PROXIES: 401 on REST, ERROR on CONNECT', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const p = `/api/chat/rooms/${room.id}/messages`;
    const trusted = await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.1' });
    assert.equal(trusted.status, 200, trusted.text);
    const untrusted = await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.3' });
    assertError(untrusted, 401);
    await assertConnectRefused(wsUrl(box.chatd), { headers: user(me), localAddress: '127.0.0.3' });
  });

  test('STOMP CONNECT without X-User-Id: ERROR "unauthorized: ..." and close', async () => {
    await assertConnectRefused(wsUrl(box.chatd), {}, 'authentication required');
  });

  test('public without identity: actuator, API docs, the demo page, SockJS info', () => assertPublic(box.chatd.url));

  test('the internal endpoint needs no identity in gateway mode (loopback)', async () => {
    const studyId = uniqueStudyId();
    const res = await api(box.chatd.url, 'POST', '/api/chat/internal/rooms/member',
      { studyId, roomName: 'gw', userId: uid(), nickname: 'n' });
    assert.equal(res.status, 200, res.text);
  });

  test('STOMP: SEND as another senderId goes to the error queue and is not stored', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me, other]);
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    try {
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${room.id}`);
      await assertSendAsOtherRefused(conn, room, me, other);
    } finally { conn.close(); }
  });

  test('STOMP: join/leave as another senderId are refused too', async () => {
    const [me, other] = [uid(), uid()];
    const room = seedRoom([me, other]);
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    try {
      await subscribed(conn, '/user/queue/errors');
      const dests = ['/app/chat.join', '/app/chat.leave'];
      const receipts = dests.map((dest) => send(conn, dest, { chatRoomId: room.id, senderId: other, senderNickname: 'x' }));
      const errors = await conn.waitForCount(onDest('/user/queue/errors'), 2);
      for (const err of errors) {
        assert.equal(err.body, `${SEND_FAILED}forbidden: senderId ${other} is not the authenticated user ${me}`);
      }
      assert.ok(!receipts.some((r) => conn.frames.some(isReceipt(r))), 'no RECEIPT');
      assert.deepEqual(storedMessages(room.id), []);
    } finally { conn.close(); }
  });

  test('STOMP: SUBSCRIBE to a room one is not an active member of: ERROR and close', async () => {
    const [me, other] = [uid(), uid()];
    const theirs = seedRoom([other], [me]);
    for (const dest of [`/topic/chatroom/${theirs.id}`, `/topic/chatroom/${theirs.id}/presence`]) {
      const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
      await assertSubscribeRefused(conn, dest, `forbidden: user ${me} is not an active member of chat room ${theirs.id}`);
    }
    // One's own room, its presence and one's own error queues are fine.
    const mine = seedRoom([me]);
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    try {
      for (const dest of [`/topic/chatroom/${mine.id}`, `/topic/chatroom/${mine.id}/presence`,
        '/user/queue/errors', `/user/${me}/queue/errors`]) await subscribed(conn, dest);
    } finally { conn.close(); }
  });

  test('STOMP: SUBSCRIBE to another user\'s /user/{id}/queue/errors: ERROR and close', async () => {
    const [me, other] = [uid(), uid()];
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me) });
    await assertSubscribeRefused(conn, `/user/${other}/queue/errors`, `forbidden: user ${me} may not read the errors of user ${other}`);
  });
});

describe('the rules are a script: changed by a reload, sessions keep their identity', () => {
  test('a rule edited in lua/chat/access.lua takes effect on SIGHUP; a connected user stays who they are', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-access-lua-'));
    fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
    const chatd = await startChatd({ luaDir: dir, env: { ...ENV, CHAT_AUTH: 'gateway', CHAT_LUA_WATCH: '0' } });
    try {
      const [me, other] = [uid(), uid()];
      const mine = seedRoom([me, other]);
      const theirs = seedRoom([other]);
      const history = () => api(chatd.url, 'GET', `/api/chat/rooms/${theirs.id}/messages`, undefined, user(me));
      assert.equal((await history()).status, 403);
      const conn = await stompSession(wsUrl(chatd), { headers: user(me) });
      await subscribed(conn, '/user/queue/errors');
      await subscribed(conn, `/topic/chatroom/${mine.id}`);

      // An operator opens history to every authenticated user: one line in access.lua.
      const file = path.join(dir, 'chat', 'access.lua');
      const rules = fs.readFileSync(file, 'utf8');
      const edited = rules.replace('function M.may_read_room(req, room_id)\n',
        'function M.may_read_room(req, room_id)\n  if true then return nil end\n');
      assert.notEqual(edited, rules, 'the edit applies');
      fs.writeFileSync(file, edited);
      chatd.signal('SIGHUP');
      await chatd.waitForLog(/"logger":"reload".*replacing/);
      assert.equal((await history()).status, 200, 'the new rule serves');

      // The session connected before the reload is still user `me`, on the same socket.
      await assertSendAsOtherRefused(conn, mine, me, other);
      conn.close();
    } finally {
      await chatd.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mode gateway, CHAT_TRUSTED_PROXIES=127.0.0.2/32', () => {
  const box = chatdFor({ CHAT_AUTH: 'gateway', CHAT_TRUSTED_PROXIES: '127.0.0.2/32' });

  test('only the listed proxy is believed', async () => {
    const me = uid();
    const room = seedRoom([me]);
    const p = `/api/chat/rooms/${room.id}/messages`;
    assertError(await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.1' }), 401);
    const ok = await httpRequest(box.chatd.url, 'GET', p, { headers: user(me), localAddress: '127.0.0.2' });
    assert.equal(ok.status, 200, ok.text);
    await assertConnectRefused(wsUrl(box.chatd), { headers: user(me), localAddress: '127.0.0.1' });
    const conn = await stompSession(wsUrl(box.chatd), { headers: user(me), localAddress: '127.0.0.2' });
    conn.close();
  });
});

// ---------------------------------------------------------------------------------------
// mode jwt, HS256

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

// ---------------------------------------------------------------------------------------
// mode jwt, RS256

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
    const error = await conn.waitFor(isCommand('ERROR'), 6000);
    assert.equal(error.headers.message, 'unauthorized: token expired');
    assert.ok(Date.now() / 1000 >= exp, 'not before the token expired');
    await conn.waitFor('closed');
  });
});

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

const jwk = (publicKey, kid) => ({ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });

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

// ---------------------------------------------------------------------------------------
// origins

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

describe('CHAT_ALLOWED_ORIGINS', () => {
  const box = chatdFor({ CHAT_ALLOWED_ORIGINS: 'https://app.example.com,https://*.example.org' });
  const GOOD = ['https://app.example.com', 'https://chat.example.org'];
  const BAD = ['https://evil.example.net', 'https://app.example.com.evil.net', 'http://app.example.com'];

  test('WebSocket handshake: refused (403) for an origin not listed, accepted for listed ones and without Origin', async () => {
    for (const origin of BAD) {
      const { status } = await openWs(wsUrl(box.chatd), { origin });
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

// ---------------------------------------------------------------------------------------
// no secret in the logs

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
    await conn.waitFor('closed');
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
