// Dependencies that stop answering without closing (issue 15): a paused Redis and a paused
// PostgreSQL (SIGSTOP of the server's processes, as a frozen VM or a network partition
// looks from chatd), under a light load of REST calls and STOMP sends. Nothing may wait
// past its timeout plus a margin, no receipted message may be lost or stored twice, and
// everything must resume by itself after SIGCONT. The servers are private to this file, so
// pausing them disturbs no other suite.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sleep } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';
import { startPostgres, startRedis } from '../helpers/private_services.mjs';

const REDIS_TIMEOUT_MS = 1000;
const PG_TIMEOUT_MS = 1500;
// What a request may take on top of its dependency's timeout: the watchdogs tick at a
// quarter of the timeout (Redis) or every 250 ms (PostgreSQL), plus scheduling on a busy box.
const MARGIN_MS = 1500;

let pg, redis, chatd, stomp, room;
const MEMBER = 31;

before(async () => {
  [pg, redis] = await Promise.all([startPostgres('silent'), startRedis()]);
  chatd = await startChatd({ env: {
    SPRING_DATASOURCE_URL: pg.url, SPRING_DATASOURCE_USERNAME: 'postgres', SPRING_DATASOURCE_PASSWORD: '',
    SPRING_DATA_REDIS_PORT: String(redis.port),
    CHAT_REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
    CHAT_PG_STATEMENT_TIMEOUT_MS: String(PG_TIMEOUT_MS), CHAT_PG_CONNECT_TIMEOUT_MS: String(PG_TIMEOUT_MS),
    CHAT_STOMP_MAX_FRAMES_PER_SECOND: '1000',
  } });
  let res = await api(chatd.url, 'POST', '/api/chat/rooms?studyId=31&roomName=silent');
  assert.equal(res.status, 200, res.text);
  room = res.json;
  res = await api(chatd.url, 'POST', '/api/chat/rooms/member', { studyId: 31, roomId: room.id, userId: MEMBER, nickname: 'm' });
  assert.equal(res.status, 200, res.text);
  stomp = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
  stomp.subscribe(`/topic/chatroom/${room.id}`);
  stomp.subscribe(`/user/${MEMBER}/queue/errors`);
});

after(async () => {
  await stomp?.close();
  await chatd?.stop();
  await redis?.stop();
  await pg?.stop();
});

const pause = (pids) => { for (const pid of pids) process.kill(pid, 'SIGSTOP'); };
const resume = (pids) => { for (const pid of pids) process.kill(pid, 'SIGCONT'); };

// Runs fn and checks it settled within `bound` ms; returns its result. A call that hangs
// fails the test shortly after the bound instead of hanging it.
async function within(bound, what, fn) {
  const t0 = Date.now();
  let timer;
  const hung = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still waiting after ${bound + 2000} ms`)), bound + 2000);
  });
  const result = await Promise.race([fn(), hung]).finally(() => clearTimeout(timer));
  const took = Date.now() - t0;
  assert.ok(took <= bound, `${what} took ${took} ms (bound ${bound} ms)`);
  return result;
}

// A SEND with a receipt: 'stored' when the RECEIPT came, 'refused' when the sender's error
// queue said why, within the bound either way.
async function send(content, bound) {
  const errors = `/user/${MEMBER}/queue/errors`;
  const before = stomp.received(errors).length;
  const receipt = stomp.sendWithReceipt('/app/chat.sendMessage',
    { chatRoomId: room.id, senderId: MEMBER, senderNickname: 'm', content }, bound).then(() => 'stored', () => null);
  const refused = stomp.waitFor(errors, (m) => m.length > before, bound).then(() => 'refused', () => null);
  const outcome = await within(bound + 100, `SEND ${content}`, () => Promise.race([receipt, refused])
    .then(async (first) => first ?? (await receipt) ?? (await refused)));
  assert.ok(outcome, `SEND ${content}: neither a RECEIPT nor an error within ${bound} ms`);
  return outcome;
}

function timeouts(metrics, dependency, kind) {
  const m = new RegExp(`chatd_dependency_timeouts_total\\{dependency="${dependency}",kind="${kind}"\\} (\\d+)`).exec(metrics);
  return m ? Number(m[1]) : NaN;
}

const metrics = async () => (await api(chatd.url, 'GET', '/actuator/prometheus')).text;
const storedContents = () => pg.psql(`SELECT content, count(*) FROM chat_messages WHERE chat_room_id = ${room.id} GROUP BY content`);

test('Redis paused: requests answer within the timeout from PostgreSQL, sends are stored, all resumes', async () => {
  const stored = [];
  pause([redis.pid]);
  try {
    const bound = REDIS_TIMEOUT_MS + MARGIN_MS;
    for (let i = 0; i < 4; i++) {
      const res = await within(bound, 'GET unread', () =>
        api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/unread?memberId=${MEMBER}`));
      assert.equal(res.status, 200, res.text); // counted in PostgreSQL without the cache
      if (await send(`redis-paused ${i}`, bound) === 'stored') stored.push(`redis-paused ${i}`);
    }
    const health = await within(bound, 'GET /actuator/health', () => api(chatd.url, 'GET', '/actuator/health'));
    assert.equal(health.status, 503);
    assert.equal(health.json.components.redis.status, 'DOWN');
    assert.ok(timeouts(await metrics(), 'redis', 'command') >= 1, 'the stall is counted');
  } finally {
    resume([redis.pid]);
  }
  assert.equal(stored.length, 4, 'PostgreSQL was up: every send was stored');
  // Back by itself: health UP, and a message crosses Redis Pub/Sub again.
  let health;
  for (let i = 0; i < 60; i++) {
    health = await api(chatd.url, 'GET', '/actuator/health');
    if (health.status === 200) break;
    await sleep(250);
  }
  assert.equal(health.status, 200, health.text);
  assert.equal(await send('after redis', 5000), 'stored');
  await stomp.waitFor(`/topic/chatroom/${room.id}`, (m) => m.some((x) => JSON.parse(x.body).content === 'after redis'));
  const counts = new Map(storedContents().map(([c, n]) => [c, Number(n)]));
  for (const c of [...stored, 'after redis']) assert.equal(counts.get(c), 1, `${c} stored exactly once`);
  // Every message stored while Redis was silent reached the subscriber (delivered locally).
  const delivered = new Set(stomp.received(`/topic/chatroom/${room.id}`).map((m) => JSON.parse(m.body).content));
  for (const c of stored) assert.ok(delivered.has(c), `${c} was delivered`);
});

test('PostgreSQL paused: requests fail with 503 within the timeout, nothing receipted is lost, all resumes', async () => {
  const outcomes = new Map();
  const processes = pg.processes();
  pause(processes);
  try {
    const bound = PG_TIMEOUT_MS + MARGIN_MS;
    for (let i = 0; i < 3; i++) {
      const res = await within(bound, 'GET history', () => api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages`));
      assert.equal(res.status, 503, res.text);
      const ready = await within(bound, 'GET readiness', () => api(chatd.url, 'GET', '/actuator/health/readiness'));
      assert.equal(ready.status, 503);
      outcomes.set(`pg-paused ${i}`, await send(`pg-paused ${i}`, bound));
    }
    const m = await metrics();
    assert.ok(timeouts(m, 'postgresql', 'statement') >= 1, 'statement timeouts are counted');
    assert.ok(timeouts(m, 'postgresql', 'connect') >= 1, 'connection attempts to the silent server time out too');
  } finally {
    resume(processes);
  }
  assert.deepEqual([...outcomes.values()].filter((o) => o === 'stored'), [], 'nothing was receipted while paused');
  // Back by itself: ready, and sends are stored again.
  let ready;
  for (let i = 0; i < 80; i++) {
    ready = await api(chatd.url, 'GET', '/actuator/health/readiness');
    if (ready.status === 200) break;
    await sleep(250);
  }
  assert.equal(ready.status, 200, ready.text);
  assert.equal(await send('after pg', 5000), 'stored');
  const counts = new Map(storedContents().map(([c, n]) => [c, Number(n)]));
  assert.equal(counts.get('after pg'), 1);
  for (const [content, n] of counts) assert.equal(n, 1, `${content} stored once`);
  // A refused send whose INSERT the frozen server had already received may still commit
  // after SIGCONT (a timeout cannot know); it is then stored once, never twice.
  const late = [...outcomes.keys()].filter((c) => counts.has(c));
  console.log(`refused while PostgreSQL was paused but committed after it resumed: ${late.length} of ${outcomes.size}`);
});
