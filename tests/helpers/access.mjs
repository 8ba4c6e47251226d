// Shared setup of the access-control suites (tests/e2e/access_*.test.mjs): chatd instances
// with a given CHAT_AUTH, rooms seeded straight into PostgreSQL (so every mode can have
// members whatever its own rules), hand-built JWTs and keys, and the STOMP steps and checks
// the suites repeat (CONNECT refused, SUBSCRIBE refused, SEND as somebody else refused).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createSign, generateKeyPairSync } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { startChatd, sql, uniqueStudyId, REPO } from './chatd.mjs';
import { rawStomp } from './stomp.mjs';

export const BIN = process.env.CHATD_BIN ?? path.join(REPO, 'build', 'chatd');
export const ENV = { CHAT_KAFKA_ENABLED: '0' };
export const SEND_FAILED = '메시지 전송에 실패했습니다: ';
const ERROR_KEYS = ['timestamp', 'status', 'error', 'message', 'path'];

// ---------------------------------------------------------------------------------------
// chatd instances

export async function withChatd(env, fn) {
  const chatd = await startChatd({ env: { ...ENV, ...env } });
  try {
    return await fn(chatd);
  } finally {
    await chatd.stop();
  }
}

// A describe block's instance: started before its tests, stopped after them.
export function chatdFor(envOrFn) {
  const box = {};
  before(async () => {
    const env = typeof envOrFn === 'function' ? envOrFn() : envOrFn;
    box.chatd = await startChatd({ env: { ...ENV, ...env } });
  });
  after(async () => { if (box.chatd) await box.chatd.stop(); });
  return box;
}

// Runs chatd until it exits (at most 15 s): for configurations that must stop start-up.
export function runChatdBriefly(env) {
  return spawnSync(BIN, [], {
    env: { ...process.env, ...ENV, CHAT_BIND_ADDRESS: '127.0.0.1', CHAT_LUA_DIR: path.join(REPO, 'lua'),
      CHAT_MIGRATIONS_DIR: path.join(REPO, 'migrations'), ...env },
    encoding: 'utf8', timeout: 15000,
  });
}

// ---------------------------------------------------------------------------------------
// data

let nextUser = 1_000_000 + Math.floor(Math.random() * 1_000_000_000);
export const uid = () => nextUser++;

// A room with active members [userId...] and members who left [userId...]; returns { id, studyId }.
export function seedRoom(active = [], left = []) {
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

export const storedMessages = (roomId) =>
  sql(`SELECT sender_id, content, message_type FROM chat_messages WHERE chat_room_id = ${roomId} ORDER BY id`);

export const msg = (roomId, senderId, content, extra = {}) =>
  ({ chatRoomId: roomId, senderId, senderNickname: `u${senderId}`, content, messageType: 'CHAT', ...extra });

// ---------------------------------------------------------------------------------------
// HTTP

// One request with node:http, so the source address can be chosen (localAddress).
export function httpRequest(base, method, pathAndQuery, { headers = {}, body, localAddress } = {}) {
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
export function assertError(res, status, message) {
  assert.equal(res.status, status, res.text);
  assert.ok(res.json, `an error JSON body: ${res.text}`);
  assert.deepEqual(Object.keys(res.json), ERROR_KEYS);
  assert.equal(res.json.status, status);
  assert.equal(res.json.error, { 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status]);
  if (typeof message === 'string') assert.equal(res.json.message, message);
  else if (message) assert.match(res.json.message, message);
}

// A jwt-mode 401: the error JSON plus the WWW-Authenticate challenge.
export function assertTokenRefused(res, message) {
  assertError(res, 401, message);
  const challenge = res.headers.get ? res.headers.get('www-authenticate') : res.headers['www-authenticate'];
  assert.match(challenge ?? '', /^Bearer error="invalid_token"/);
}

export const bearer = (token) => ({ authorization: `Bearer ${token}` });
export const user = (id) => ({ 'x-user-id': String(id) });

// Paths public in every mode answer 200 without any identity.
export async function assertPublic(base) {
  for (const p of ['/actuator/health/liveness', '/actuator/prometheus', '/v3/api-docs', '/', '/ws-chat/info']) {
    const res = await fetch(`${base}${p}`);
    assert.equal(res.status, 200, p);
    await res.arrayBuffer();
  }
}

// ---------------------------------------------------------------------------------------
// JWT and keys, built by hand

export const b64url = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
export const now = () => Math.floor(Date.now() / 1000);

// alg HS256 (secret), RS256 (privateKey) or none; header adds/overrides header fields.
export function makeJwt(claims, { alg = 'HS256', secret, privateKey, kid, header = {} } = {}) {
  const head = { alg, typ: 'JWT', ...(kid ? { kid } : {}), ...header };
  const input = `${b64url(head)}.${b64url(claims)}`;
  let sig = '';
  if (alg === 'HS256') sig = createHmac('sha256', secret).update(input).digest('base64url');
  else if (alg === 'RS256') sig = createSign('RSA-SHA256').update(input).sign(privateKey, 'base64url');
  return `${input}.${sig}`;
}

export const claimsFor = (userId, extra = {}) => ({ sub: String(userId), iat: now(), exp: now() + 300, ...extra });

export const rsaKeys = () => generateKeyPairSync('rsa', { modulusLength: 2048 });

// A public key as a JWKS entry with this kid.
export const jwk = (publicKey, kid) => ({ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' });

// ---------------------------------------------------------------------------------------
// STOMP by hand (rawStomp), with parsed frames

export const wsUrl = (chatd, p = '/ws-chat') => `ws://127.0.0.1:${chatd.port}${p}`;

// The HTTP status of the WebSocket handshake: 101 when upgraded (then closed), else the refusal's.
export async function upgradeStatus(url, wsOpts) {
  try {
    (await rawStomp(url, wsOpts)).close();
    return 101;
  } catch (e) {
    if (e.status) return e.status;
    throw e;
  }
}

export const isCommand = (cmd) => (f) => f.command === cmd;
export const isReceipt = (id) => (f) => f.command === 'RECEIPT' && f.headers['receipt-id'] === id;
export const onDest = (dest, pred = () => true) => (f) => f.command === 'MESSAGE' && f.headers.destination === dest && pred(f);

// Opens a WebSocket (wsOpts: headers, origin, localAddress), sends CONNECT with
// connectHeaders, resolves { conn, reply } with reply the CONNECTED or ERROR frame.
export async function stompConnect(url, { connectHeaders = {}, ...wsOpts } = {}) {
  const conn = await rawStomp(url, wsOpts).catch((e) => {
    if (e.status) assert.equal(e.status, 101, `WebSocket upgrade of ${url}`);
    throw e;
  });
  conn.sendFrame('CONNECT', { 'accept-version': '1.2', host: '/', ...connectHeaders });
  const reply = await conn.waitForFrame((f) => f.command === 'CONNECTED' || f.command === 'ERROR');
  return { conn, reply };
}

// As stompConnect, but the CONNECT must succeed.
export async function stompSession(url, opts) {
  const { conn, reply } = await stompConnect(url, opts);
  assert.equal(reply.command, 'CONNECTED', JSON.stringify(reply));
  return conn;
}

// SUBSCRIBE with a receipt; resolves with the RECEIPT or ERROR frame.
let nextId = 0;
export async function subscribe(conn, destination) {
  const id = `s${nextId++}`;
  conn.sendFrame('SUBSCRIBE', { id, destination, receipt: `sub-${id}` });
  return conn.waitForFrame((f) => isReceipt(`sub-${id}`)(f) || f.command === 'ERROR');
}

export async function subscribed(conn, destination) {
  const f = await subscribe(conn, destination);
  assert.equal(f.command, 'RECEIPT', `SUBSCRIBE ${destination}: ${JSON.stringify(f)}`);
}

// SEND with a receipt id; returns the id.
export function send(conn, destination, body) {
  const receipt = `r${nextId++}`;
  conn.sendFrame('SEND', { destination, receipt, 'content-type': 'application/json' },
    typeof body === 'string' ? body : JSON.stringify(body));
  return receipt;
}

// The connection is refused at CONNECT: ERROR "unauthorized: ..." and then the close.
export async function assertConnectRefused(url, opts, reason) {
  const { conn, reply } = await stompConnect(url, opts);
  assert.equal(reply.command, 'ERROR', JSON.stringify(reply));
  assert.match(reply.headers.message, /^unauthorized: /);
  if (typeof reason === 'string') assert.equal(reply.headers.message, `unauthorized: ${reason}`);
  else if (reason) assert.match(reply.headers.message, reason);
  await conn.waitForClose();
  assert.ok(!conn.parsed.some(isCommand('CONNECTED')));
}

// A SUBSCRIBE refused with ERROR `message`, then the close.
export async function assertSubscribeRefused(conn, destination, message) {
  const f = await subscribe(conn, destination);
  assert.equal(f.command, 'ERROR', JSON.stringify(f));
  assert.equal(f.headers.message, message);
  await conn.waitForClose();
}

// A member of room `room` (identity `me`, connection `conn`, already subscribed to the room
// topic and /user/queue/errors) sends once as `other` and once as itself: the first goes to
// the error queue, unreceipted, unstored and unbroadcast; the second is stored and delivered.
export async function assertSendAsOtherRefused(conn, room, me, other) {
  const topic = `/topic/chatroom/${room.id}`;
  const forged = send(conn, '/app/chat.sendMessage', msg(room.id, other, 'forged'));
  const err = await conn.waitForFrame(onDest('/user/queue/errors'));
  assert.equal(err.body, `${SEND_FAILED}forbidden: senderId ${other} is not the authenticated user ${me}`);
  assert.match(err.headers['content-type'], /^text\/plain/);
  const own = send(conn, '/app/chat.sendMessage', msg(room.id, me, 'genuine'));
  await conn.waitForFrame(isReceipt(own));
  await conn.waitForFrame(onDest(topic, (f) => JSON.parse(f.body).content === 'genuine'));
  assert.ok(!conn.parsed.some(isReceipt(forged)), 'no RECEIPT for the refused SEND');
  assert.ok(!conn.parsed.some(onDest(topic, (f) => JSON.parse(f.body).content === 'forged')), 'not broadcast');
  assert.deepEqual(storedMessages(room.id), [[String(me), 'genuine', 'CHAT']]);
  assert.equal(conn.closed, null, 'a refused SEND does not end the connection');
}
