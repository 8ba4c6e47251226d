// chatd on a real Redis Cluster with sharded Pub/Sub (SPRING_DATA_REDIS_CLUSTER_NODES,
// CHAT_REDIS_PUBSUB=sharded): six redis-server processes (deploy/dev/redis-cluster.sh: three
// masters, three replicas, node timeout 2 s) and three chatd instances A, B and C on the
// private PostgreSQL. Rooms are seeded into PostgreSQL; STOMP clients are hand-driven
// (rawStomp), so every RECEIPT, error-queue message and ERROR frame is seen.
//   1. twelve rooms spread over the three masters: every message sent on one instance reaches
//      the room's subscribers on all three, exactly once, with its stored id; each instance
//      SSUBSCRIBEs the four channels of each room it serves (seen in Redis itself), and
//      SUNSUBSCRIBEs them when its subscribers go;
//   2. an instance gets nothing for rooms it has no subscriber of: C serves one room, A and
//      B exchange chat messages, typing, read marks and presence in four others; C's
//      counters show R1's messages only, and its room channels go when its subscriber
//      unsubscribes or disconnects;
//   3. a slot moved to another master (IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE) while a
//      room of that slot gets 20 messages/s: nothing refused, every stored message delivered
//      exactly once, the subscriptions follow the slot, the sender followed a redirection;
//   4. the Pub/Sub links to a room's shard cut by Redis (CLIENT KILL TYPE pubsub) three times
//      under 80 messages/s from two other instances: what was published while the link was
//      down reaches the subscriber from PostgreSQL (a catch-up), exactly once;
//   5. the master of a room's slot killed (SIGKILL) under 20 messages/s: its replica takes
//      over, delivery resumes within 20 s of the kill, every stored message reaches the
//      subscribers exactly once, every SEND was answered (RECEIPT, error queue or ERROR
//      frame: never a hang), no chatd crashed, the links and topology metrics follow;
//   6. a whole shard down (master and replicas killed: the cluster refuses commands): SENDs
//      still answered, nothing lost once its master is back; an instance started meanwhile
//      reports Redis DOWN in /actuator/health until every slot has a reachable master, then works.
// Each test leaves the cluster usable by the next; 5 and 6 kill nodes, so they run last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, sql, sleep, freePort, api } from '../helpers/chatd.mjs';
import { rawStomp } from '../helpers/stomp.mjs';
import { seedRoom, uid, msg, isReceipt, onDest, SEND_FAILED, runChatdBriefly } from '../helpers/access.mjs';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.mjs';
import { startRedisCluster } from '../helpers/redis_cluster.mjs';

const CHANNEL_KINDS = ['messages', 'presence', 'read-marks', 'typing'];
const channelsOf = (roomId) => CHANNEL_KINDS.map((k) => `chat:${k}:{${roomId}}`);
const topic = (roomId) => `/topic/chatroom/${roomId}`;
const ERRORS = '/user/queue/errors';

let cluster;
let a;
let b;
let c;
const openConns = new Set();
let chatdEnv; // the instances' environment, for one started later

before(async () => {
  cluster = await startRedisCluster(21400);
  // The single-Redis variables point at a closed port: in cluster mode they must not be used.
  const env = {
    SPRING_DATA_REDIS_CLUSTER_NODES: cluster.seeds,
    CHAT_REDIS_PUBSUB: 'sharded',
    CHAT_MIXED_FLEET: 'false', // sharded channels: no original pod can share the fleet
    SPRING_DATA_REDIS_HOST: '127.0.0.1',
    SPRING_DATA_REDIS_PORT: String(await freePort()),
  };
  chatdEnv = env;
  [a, b, c] = await Promise.all([startChatd({ env }), startChatd({ env }), startChatd({ env })]);
  a.name = 'A';
  b.name = 'B';
  c.name = 'C';
}, { timeout: 120000 });

after(async () => {
  for (const conn of openConns) conn.ws.terminate();
  const problems = [];
  for (const inst of [a, b, c]) {
    try { await inst?.stop(); } catch (e) { problems.push(`${inst.name}: ${e.message}`); }
  }
  cluster?.stop();
  if (problems.length) throw new Error(problems.join('\n'));
});

// Live again: each subscriber got every one of `records` sent from `since` on within 3 s.
function assertLiveFrom(subs, roomId, records, since, label) {
  for (const sub of subs) {
    const arrived = new Map(chats(sub, roomId).map((m) => [m.content, m.at]));
    const late = records.filter((r) => r.at >= since)
      .map((r) => ({ content: r.content, ms: arrived.get(r.content) - r.at })).filter((x) => !(x.ms <= 3000));
    assert.deepEqual(late, [], `${sub.inst.name}: messages sent after the ${label} delivered live (latency ≤ 3 s)`);
  }
}

// ---------------------------------------------------------------------------------------
// waiting, metrics

async function waitUntil(cond, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await cond();
      if (last) return last;
    } catch (e) { last = e; }
    if (Date.now() > end) {
      const detail = typeof what === 'function' ? what() : what;
      throw new Error(`not within ${timeoutMs} ms: ${detail}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
    }
    await sleep(100);
  }
}

async function scrape(inst) {
  const res = await fetch(`${inst.url}/actuator/prometheus`, { signal: AbortSignal.timeout(5000) });
  assert.equal(res.status, 200, `${inst.name}: GET /actuator/prometheus`);
  return parsePrometheus(await res.text());
}

// One series' value; a missing series is a failure naming it.
async function metric(inst, name, labels = {}) {
  const v = sampleValue(await scrape(inst), name, labels);
  if (v === undefined) throw new Error(`${inst.name}: no ${name}${JSON.stringify(labels)} in /actuator/prometheus`);
  return v;
}
const roomChannels = (inst) => metric(inst, 'chatd_redis_pubsub_channels', { kind: 'room' });
const roomMessages = (inst) => metric(inst, 'chatd_redis_pubsub_messages_total', { kind: 'room' });
const withoutSubscribers = (inst) => metric(inst, 'chatd_redis_messages_without_local_subscribers_total');
const redirects = (inst) => metric(inst, 'chatd_redis_cluster_redirects_total');
const topologyChanges = (inst) => metric(inst, 'chatd_redis_cluster_topology_changes_total');

async function waitForRoomChannels(inst, want, timeoutMs = 5000) {
  let seen;
  await waitUntil(async () => (seen = await roomChannels(inst)) === want, timeoutMs,
    () => `${inst.name}: chatd_redis_pubsub_channels{kind="room"} is ${seen}, expected ${want}`);
}

// Subscribers of each of these shard channels in Redis (every live node summed).
const numSub = (channels) => Object.fromEntries(channels.map((ch) => [ch, cluster.shardNumSub(ch)]));
async function waitForNumSub(channels, want, timeoutMs, what) {
  let seen;
  await waitUntil(() => { seen = numSub(channels); return Object.values(seen).every((n) => n === want); },
    timeoutMs, () => `${what}: subscribers per shard channel in Redis ${JSON.stringify(seen)}, expected ${want} each`);
}

// ---------------------------------------------------------------------------------------
// STOMP

let nextId = 0;

// A STOMP session on an instance; every frame's arrival time is kept in conn.times.
async function client(inst) {
  const conn = await rawStomp(inst.wsUrl);
  openConns.add(conn);
  conn.inst = inst;
  conn.times = [];
  conn.ws.on('message', () => { while (conn.times.length < conn.parsed.length) conn.times.push(Date.now()); });
  conn.sendFrame('CONNECT', { 'accept-version': '1.2', host: '/' });
  const reply = await conn.waitForFrame((f) => f.command === 'CONNECTED' || f.command === 'ERROR', 10000);
  assert.equal(reply.command, 'CONNECTED', `${inst.name}: CONNECT answered ${JSON.stringify(reply)}`);
  return conn;
}

function close(conn) {
  conn.ws.terminate(); // no DISCONNECT: the connection just goes
  openConns.delete(conn);
}

// SUBSCRIBE with a receipt; resolves with the subscription id.
async function subscribe(conn, destination) {
  const id = `s${nextId++}`;
  conn.sendFrame('SUBSCRIBE', { id, destination, receipt: `sub-${id}` });
  const f = await conn.waitForFrame((x) => isReceipt(`sub-${id}`)(x) || x.command === 'ERROR', 10000);
  assert.equal(f.command, 'RECEIPT', `${conn.inst.name}: SUBSCRIBE ${destination}: ${JSON.stringify(f)}`);
  return id;
}

async function unsubscribe(conn, id) {
  conn.sendFrame('UNSUBSCRIBE', { id, receipt: `unsub-${id}` });
  const f = await conn.waitForFrame((x) => isReceipt(`unsub-${id}`)(x) || x.command === 'ERROR', 10000);
  assert.equal(f.command, 'RECEIPT', `${conn.inst.name}: UNSUBSCRIBE ${id}: ${JSON.stringify(f)}`);
}

// SEND with a receipt; returns the receipt id.
function sendFrame(conn, destination, body) {
  const receipt = `r${nextId++}`;
  conn.sendFrame('SEND', { destination, receipt, 'content-type': 'application/json' }, JSON.stringify(body));
  return receipt;
}

async function sendStored(conn, roomId, senderId, content) {
  const receipt = sendFrame(conn, '/app/chat.sendMessage', msg(roomId, senderId, content));
  const f = await conn.waitForFrame((x) => isReceipt(receipt)(x) || x.command === 'ERROR'
    || onDest(ERRORS)(x), 10000).catch((e) => { throw new Error(`${conn.inst.name}: no answer to SEND "${content}": ${e.message}`); });
  assert.equal(f.command, 'RECEIPT', `${conn.inst.name}: SEND "${content}" answered ${JSON.stringify(f)}`);
}

// The CHAT messages a connection got on a room's topic: { id, senderId, content, at }.
function chats(conn, roomId) {
  const out = [];
  conn.parsed.forEach((f, i) => {
    if (f.command !== 'MESSAGE' || f.headers.destination !== topic(roomId)) return;
    const m = JSON.parse(f.body);
    if (m.messageType === 'CHAT') out.push({ id: m.id, senderId: m.senderId, content: m.content, at: conn.times[i] });
  });
  return out;
}

const storedChats = (roomId) => sql(`SELECT id, sender_id, content FROM chat_messages
  WHERE chat_room_id = ${roomId} AND message_type = 'CHAT' ORDER BY id`)
  .map(([id, senderId, content]) => ({ id: Number(id), senderId: Number(senderId), content }));

// Every stored CHAT message of the room reaches conn, each once, with the stored id, sender
// and content; nothing else.
// afterId: only the messages stored after that id (a subscriber that came later).
async function assertExactlyOnce(conn, roomId, timeoutMs, label, afterId = 0) {
  const stored = storedChats(roomId).filter((s) => s.id > afterId);
  const missing = () => {
    const have = new Set(chats(conn, roomId).map((m) => m.id));
    return stored.filter((s) => !have.has(s.id)).map((s) => s.id);
  };
  await waitUntil(() => missing().length === 0, timeoutMs,
    () => `${label} (on ${conn.inst.name}): of ${stored.length} stored messages of room ${roomId}, never got ids ${missing()}`);
  await sleep(300); // a late copy would show now
  const got = chats(conn, roomId);
  const ids = got.map((m) => m.id);
  const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
  assert.deepEqual(twice, [], `${label} (on ${conn.inst.name}): room ${roomId}: ids delivered more than once`);
  assert.deepEqual([...ids].sort((x, y) => x - y), stored.map((s) => s.id),
    `${label} (on ${conn.inst.name}): room ${roomId}: exactly the stored messages`);
  const byId = new Map(stored.map((s) => [s.id, s]));
  for (const m of got) {
    assert.equal(m.content, byId.get(m.id).content, `${label}: message ${m.id} carries its stored content`);
    assert.equal(m.senderId, byId.get(m.id).senderId, `${label}: message ${m.id} carries its stored sender`);
  }
}

// A sender at a steady rate into one room, with a receipt on every SEND and its error queue
// subscribed. If an ERROR frame closes the connection, it connects again and goes on.
function steadySender(inst, room, member, tag) {
  const s = { records: [], conns: [], stopped: false, connectErrors: [] };
  const connect = async () => {
    const conn = await client(inst);
    await subscribe(conn, ERRORS);
    s.conns.push(conn);
    s.conn = conn;
  };
  s.start = async (perSecond) => {
    await connect();
    s.loop = (async () => {
      let seq = 0;
      while (!s.stopped) {
        if (s.conn.closed) {
          try { await connect(); } catch (e) { s.connectErrors.push(e.message); await sleep(200); continue; }
        }
        const content = `${tag} ${seq}`;
        const conn = s.conn;
        s.records.push({ seq, content, at: Date.now(), conn, receipt: sendFrame(conn, '/app/chat.sendMessage', msg(room.id, member, content)) });
        seq++;
        await sleep(1000 / perSecond);
      }
    })();
  };
  s.stop = async () => { s.stopped = true; await s.loop; };
  s.lastSeq = () => s.records.length - 1;
  // What became of the SENDs: receipted (stored), refused on the error queue, cut off by an
  // ERROR frame that closed the connection, or still unanswered.
  s.outcome = () => {
    const o = { receipted: [], refused: [], errorQueue: [], errorFrames: [], cutByError: [], unanswered: [], droppedWithoutError: [] };
    for (const conn of s.conns) {
      const recs = s.records.filter((r) => r.conn === conn);
      const receipts = new Set(conn.parsed.filter((f) => f.command === 'RECEIPT').map((f) => f.headers['receipt-id']));
      const errors = conn.parsed.filter(onDest(ERRORS)).map((f) => f.body);
      const errorFrames = conn.parsed.filter((f) => f.command === 'ERROR');
      o.errorQueue.push(...errors);
      o.errorFrames.push(...errorFrames.map((f) => f.headers.message ?? f.body));
      const unreceipted = recs.filter((r) => !receipts.has(r.receipt));
      o.receipted.push(...recs.filter((r) => receipts.has(r.receipt)));
      // Frames of a connection are answered in order: the error-queue messages are the
      // first unreceipted SENDs' answers (which ones does not matter below).
      const refused = unreceipted.slice(0, errors.length);
      const rest = unreceipted.slice(errors.length);
      o.refused.push(...refused);
      if (rest.length && conn.closed && errorFrames.length) o.cutByError.push(...rest);
      else if (rest.length && conn.closed) o.droppedWithoutError.push(...rest);
      else o.unanswered.push(...rest);
    }
    return o;
  };
  return s;
}

// Waits until every SEND of the sender was answered; returns the outcome.
async function allAnswered(sender, timeoutMs, label) {
  let o;
  await waitUntil(() => { o = sender.outcome(); return o.unanswered.length === 0; }, timeoutMs,
    () => `${label}: ${o.unanswered.length} of ${sender.records.length} SENDs neither receipted nor refused nor cut by an ERROR `
      + `(first: ${o.unanswered.slice(0, 5).map((r) => r.content)}); a SEND must never hang`);
  assert.deepEqual(o.droppedWithoutError.map((r) => r.content), [],
    `${label}: connections closed under SENDs without an ERROR frame saying why`);
  for (const e of o.errorQueue) assert.ok(e.startsWith(SEND_FAILED), `${label}: error-queue message "${e}"`);
  for (const e of o.errorFrames) assert.ok(e && e.length > 0, `${label}: an ERROR frame without a message`);
  return o;
}

// The stored CHAT messages of the room agree with what the sender was told: every receipted
// SEND stored once, nothing refused on the error queue stored, nothing stored that was not sent.
function assertStoredAgrees(sender, roomId, o, label) {
  const stored = storedChats(roomId).map((s) => s.content);
  const storedSet = new Set(stored);
  assert.equal(storedSet.size, stored.length, `${label}: no SEND stored twice`);
  const sent = new Set(sender.records.map((r) => r.content));
  assert.deepEqual(stored.filter((x) => !sent.has(x)), [], `${label}: nothing stored that was not sent`);
  assert.deepEqual(o.receipted.filter((r) => !storedSet.has(r.content)).map((r) => r.content), [],
    `${label}: a RECEIPT means stored`);
  assert.deepEqual(o.refused.filter((r) => storedSet.has(r.content)).map((r) => r.content), [],
    `${label}: a refused SEND is not stored`);
}

// ---------------------------------------------------------------------------------------
// rooms

const ownerPortOf = (masters, slot) => masters.find((m) => m.slots.some(([x, y]) => slot >= x && slot <= y))?.port;

// `perMaster` rooms whose channels' slot each master serves, with `members` active members each.
function roomsOverMasters(perMaster, members) {
  const masters = cluster.masters();
  assert.equal(masters.length, 3, 'three masters serve the slots');
  const byMaster = new Map(masters.map((m) => [m.port, []]));
  for (let tries = 0; tries < 300 && [...byMaster.values()].some((l) => l.length < perMaster); tries++) {
    const ids = Array.from({ length: members }, uid);
    const room = seedRoom(ids);
    const slot = cluster.keySlot(`chat:messages:{${room.id}}`);
    const list = byMaster.get(ownerPortOf(masters, slot));
    if (list.length < perMaster) list.push({ ...room, members: ids, slot });
  }
  const rooms = [...byMaster.values()].flat();
  assert.equal(rooms.length, perMaster * 3, `found ${perMaster} rooms for each master`);
  return rooms;
}

// ---------------------------------------------------------------------------------------

// Refused at start, before the database is even tried (its URL here leads nowhere), with
// one line naming the variable: a seed list that is not host:port, and either setting
// beside original pods (CHAT_MIXED_FLEET defaults to true).
test('a malformed SPRING_DATA_REDIS_CLUSTER_NODES, or the cluster or sharded mode in a mixed fleet, stops start-up', () => {
  const nowhere = { SPRING_DATASOURCE_URL: 'jdbc:postgresql://127.0.0.1:1/none' };
  const cases = [
    [{ SPRING_DATA_REDIS_CLUSTER_NODES: '127.0.0.1:7000,oops', CHAT_MIXED_FLEET: 'false' },
      /SPRING_DATA_REDIS_CLUSTER_NODES must be host:port\[,host:port\.\.\.\], got '127\.0\.0\.1:7000,oops'/],
    [{ SPRING_DATA_REDIS_CLUSTER_NODES: '127.0.0.1:7000' }, /SPRING_DATA_REDIS_CLUSTER_NODES needs CHAT_MIXED_FLEET=false/],
    [{ CHAT_REDIS_PUBSUB: 'sharded' }, /CHAT_REDIS_PUBSUB=sharded needs CHAT_MIXED_FLEET=false/],
    [{ CHAT_REDIS_PUBSUB: 'rooms', CHAT_MIXED_FLEET: 'false' }, /CHAT_REDIS_PUBSUB must be single or sharded, got 'rooms'/],
  ];
  for (const [env, reason] of cases) {
    const run = runChatdBriefly({ ...nowhere, CHAT_MIXED_FLEET: 'true', ...env });
    assert.equal(run.status, 2, `${JSON.stringify(env)}: exit status 2 at once (${run.error ?? run.stderr})`);
    assert.match(run.stderr, reason);
  }
});

test('twelve rooms over the three masters: every message reaches the room\'s subscribers on all three instances exactly once, with its stored id', { timeout: 90000 }, async () => {
  const instances = [a, b, c];
  const rooms = roomsOverMasters(4, 3);
  const before = await Promise.all(instances.map(roomMessages));
  for (const inst of instances) {
    assert.equal(await roomChannels(inst), 0, `${inst.name}: no room channel subscribed before any subscriber`);
  }
  // Member i of each room is on instance i, subscribed to the room's topic.
  const members = [];
  for (const room of rooms) {
    for (const [i, inst] of instances.entries()) {
      const conn = await client(inst);
      await subscribe(conn, topic(room.id));
      members.push({ room, inst, member: room.members[i], conn });
    }
  }
  for (const inst of instances) await waitForRoomChannels(inst, 12 * 4);
  const all = rooms.flatMap((r) => channelsOf(r.id));
  await waitForNumSub(all, 3, 5000, 'one SSUBSCRIBE per instance for each channel of each room');

  // Five messages from every member, interleaved over rooms and instances.
  const PER_MEMBER = 5;
  const receipts = [];
  for (let k = 0; k < PER_MEMBER; k++) {
    for (const m of members) {
      receipts.push([m, sendFrame(m.conn, '/app/chat.sendMessage', msg(m.room.id, m.member, `t1 ${m.inst.name} ${m.member} ${k}`))]);
    }
  }
  for (const [m, receipt] of receipts) {
    await m.conn.waitForFrame((f) => isReceipt(receipt)(f) || f.command === 'ERROR' || onDest(ERRORS)(f), 10000);
    assert.ok(m.conn.parsed.some(isReceipt(receipt)), `${m.inst.name}: SEND in room ${m.room.id} stored (RECEIPT)`);
  }
  for (const room of rooms) assert.equal(storedChats(room.id).length, 3 * PER_MEMBER, `room ${room.id}: 15 stored`);
  await Promise.all(members.map((m) => assertExactlyOnce(m.conn, m.room.id, 10000, 'twelve rooms')));

  const total = rooms.length * 3 * PER_MEMBER;
  for (const [i, inst] of instances.entries()) {
    assert.equal(await withoutSubscribers(inst), 0, `${inst.name}: chatd_redis_messages_without_local_subscribers_total`);
    const got = (await roomMessages(inst)) - before[i];
    assert.equal(got, total, `${inst.name}: room Pub/Sub messages received = the ${total} chat messages of its 12 rooms`);
  }

  // The subscribers go: every instance SUNSUBSCRIBEs every room channel.
  for (const m of members) close(m.conn);
  for (const inst of instances) await waitForRoomChannels(inst, 0);
  await waitForNumSub(all, 0, 5000, 'every room channel unsubscribed once its subscribers left');
});

test('an instance gets nothing for rooms it has no subscriber of; its room channels go when its subscriber unsubscribes or disconnects', { timeout: 90000 }, async () => {
  const [ra, rc] = [uid(), uid()];
  const r1 = seedRoom([ra, rc]);
  const others = Array.from({ length: 4 }, () => { const ids = [uid(), uid()]; return { ...seedRoom(ids), members: ids }; });
  const base = await Promise.all([a, b, c].map(roomChannels));
  assert.deepEqual(base, [0, 0, 0], 'no room channel subscribed at the start');

  // C: one subscriber, of R1.
  const onC = await client(c);
  const subR1 = await subscribe(onC, topic(r1.id));
  await waitForRoomChannels(c, 4);
  await waitForNumSub(channelsOf(r1.id), 1, 5000, `room ${r1.id} has C's subscriptions only`);
  const cBefore = { room: await roomMessages(c) };

  // A and B: subscribers of the other rooms' topics, typing, read marks and presence.
  const subsA = [];
  const subsB = [];
  for (const room of others) {
    const onA = await client(a);
    const onB = await client(b);
    for (const suffix of ['', '/typing', '/read', '/presence']) {
      await subscribe(onA, topic(room.id) + suffix);
      await subscribe(onB, topic(room.id) + suffix);
    }
    subsA.push(onA);
    subsB.push(onB);
  }
  await waitForRoomChannels(a, 4 * 4);
  await waitForRoomChannels(b, 4 * 4);
  await waitForNumSub(others.flatMap((r) => channelsOf(r.id)), 2, 5000, 'the other rooms have A\'s and B\'s subscriptions');
  assert.equal(await roomChannels(c), 4, 'C still serves R1 only');

  const senderA = await client(a);
  await subscribe(senderA, ERRORS);
  const senderB = await client(b);
  await subscribe(senderB, ERRORS);
  // R1: ten messages from A (which has no subscriber of R1).
  for (let k = 0; k < 10; k++) await sendStored(senderA, r1.id, ra, `t2 r1 ${k}`);
  // The other rooms: messages both ways, a typing indicator from A, a join on B, a read mark on B.
  for (const [i, room] of others.entries()) {
    for (let k = 0; k < 4; k++) {
      await sendStored(senderA, room.id, room.members[0], `t2 A ${k}`);
      await sendStored(senderB, room.id, room.members[1], `t2 B ${k}`);
    }
    const typing = sendFrame(senderA, '/app/chat.typing', msg(room.id, room.members[0], ''));
    await senderA.waitForFrame(isReceipt(typing), 10000);
    await subsB[i].waitForFrame(onDest(`${topic(room.id)}/typing`), 10000)
      .catch((e) => { throw new Error(`room ${room.id}: A's typing never reached B's subscriber: ${e.message}`); });
    const join = sendFrame(senderB, '/app/chat.join', msg(room.id, room.members[1], ''));
    const joined = await senderB.waitForFrame((f) => isReceipt(join)(f) || onDest(ERRORS)(f) || f.command === 'ERROR', 10000);
    assert.equal(joined.command, 'RECEIPT', `room ${room.id}: /app/chat.join on B answered ${JSON.stringify(joined)}`);
    await subsA[i].waitForFrame(onDest(`${topic(room.id)}/presence`), 10000)
      .catch((e) => { throw new Error(`room ${room.id}: B's join never pushed presence to A's subscriber: ${e.message}`); });
    const lastId = storedChats(room.id).at(-1).id;
    const mark = await api(b.url, 'POST', `/api/chat/rooms/${room.id}/read?memberId=${room.members[1]}&lastMessageId=${lastId}`);
    assert.equal(mark.status, 200, `read mark on B: ${mark.text}`);
    await subsA[i].waitForFrame(onDest(`${topic(room.id)}/read`), 10000)
      .catch((e) => { throw new Error(`room ${room.id}: B's read mark never reached A's subscriber: ${e.message}`); });
  }
  await assertExactlyOnce(onC, r1.id, 10000, 'R1 on C');
  await Promise.all(others.flatMap((room, i) => [subsA[i], subsB[i]].map((conn) => assertExactlyOnce(conn, room.id, 10000, 'other rooms'))));
  await sleep(500); // anything C was wrongly sent has arrived by now
  for (const inst of [a, b, c]) {
    assert.equal(await withoutSubscribers(inst), 0, `${inst.name}: chatd_redis_messages_without_local_subscribers_total stays 0`);
  }
  assert.equal((await roomMessages(c)) - cBefore.room, 10,
    'C received from Redis exactly R1\'s ten messages, nothing of the four other rooms\' traffic');

  // C's subscriber unsubscribes: its room channels go, and R1's traffic no longer reaches C.
  await unsubscribe(onC, subR1);
  await waitForRoomChannels(c, 0);
  await waitForNumSub(channelsOf(r1.id), 0, 5000, `room ${r1.id} after C's only subscriber unsubscribed`);
  const cAfterUnsub = await roomMessages(c);
  // A subscriber of R1 on B proves R1's next messages were published. They are sent right
  // after its SUBSCRIBE's RECEIPT: as with the global channels, a RECEIPT means "subscribed".
  const watcher = await client(b);
  await subscribe(watcher, topic(r1.id));
  const floor = storedChats(r1.id).at(-1).id;
  for (let k = 0; k < 5; k++) await sendStored(senderA, r1.id, ra, `t2 r1 after ${k}`);
  await assertExactlyOnce(watcher, r1.id, 10000, 'R1 on B, sent right after B\'s SUBSCRIBE was receipted', floor);
  assert.equal(storedChats(r1.id).filter((m) => m.id > floor).length, 5, 'five more stored in R1');
  await sleep(500);
  assert.equal(await roomMessages(c), cAfterUnsub, 'C received nothing of R1 after unsubscribing');
  close(watcher);
  await waitForNumSub(channelsOf(r1.id), 0, 5000, `room ${r1.id} after B's subscriber left`);

  // Sub-destinations of R1 count as the room: its four channels once; a disconnect ends them.
  await subscribe(onC, `${topic(r1.id)}/typing`);
  await subscribe(onC, `${topic(r1.id)}/read`);
  await waitForRoomChannels(c, 4);
  await waitForNumSub(channelsOf(r1.id), 1, 5000, `room ${r1.id} with two sub-destinations on C`);
  close(onC);
  await waitForRoomChannels(c, 0);
  await waitForNumSub(channelsOf(r1.id), 0, 5000, `room ${r1.id} after C's connection dropped`);
  for (const conn of [...subsA, ...subsB, senderA, senderB]) close(conn);
  for (const inst of [a, b]) await waitForRoomChannels(inst, 0);
});

test('a room\'s slot moved to another master under 20 messages/s: nothing refused, every stored message delivered exactly once, the subscriptions follow the slot', { timeout: 90000 }, async () => {
  const [ms] = [uid()];
  const room = { ...seedRoom([ms]), members: [ms] };
  const slot = cluster.keySlot(`chat:messages:{${room.id}}`);
  const from = cluster.ownerOf(slot);
  const to = cluster.masters().find((m) => m.id !== from.id);
  cluster.cli(from.port, 'SET', `chatd-test:{${room.id}}`, 'moves with the slot');

  const subB = await client(b);
  await subscribe(subB, topic(room.id));
  const subC = await client(c);
  await subscribe(subC, topic(room.id));
  await waitForNumSub([`chat:messages:{${room.id}}`], 2, 5000, 'B and C subscribed');
  const aBefore = (await redirects(a)) + (await topologyChanges(a));

  const sender = steadySender(a, room, ms, 't3');
  await sender.start(20);
  let movedAt;
  let keysMoved;
  try {
    await sleep(1500);
    keysMoved = await cluster.moveSlot(slot, from, to, () => sleep(1500)); // 1.5 s with the slot migrating
    movedAt = Date.now();
    await sleep(4000);
  } finally {
    await sender.stop();
  }
  assert.ok(keysMoved >= 1, 'the slot\'s keys were MIGRATEd');
  await waitUntil(() => cluster.livePorts().every((p) => cluster.ownerOf(slot, p)?.id === to.id), 5000,
    `every node sees slot ${slot} served by :${to.port}`);

  const o = await allAnswered(sender, 15000, 'resharding');
  assert.ok(sender.records.length >= 100, `messages were sent throughout (${sender.records.length})`);
  assert.deepEqual({ refused: o.errorQueue, errorFrames: o.errorFrames }, { refused: [], errorFrames: [] },
    'a slot moving between live masters refuses no SEND');
  assertStoredAgrees(sender, room.id, o, 'resharding');
  assert.equal(o.receipted.length, sender.records.length, 'every SEND receipted');
  await assertExactlyOnce(subB, room.id, 15000, 'resharding');
  await assertExactlyOnce(subC, room.id, 15000, 'resharding');

  // Live after the move: what was sent from a second after it arrived within 3 s.
  assertLiveFrom([subB, subC], room.id, sender.records, movedAt + 1000, 'move');
  // The subscriptions are on the new master's shard now, none left on the old one.
  const channel = `chat:messages:{${room.id}}`;
  const perNode = cluster.shardNumSubByNode(channel);
  const count = (ports) => ports.reduce((n, p) => n + (perNode[p] ?? 0), 0);
  assert.equal(count(cluster.shardPorts(from.port)), 0, `no subscription of ${channel} left on the old master's shard: ${JSON.stringify(perNode)}`);
  assert.equal(count(cluster.shardPorts(to.port)), 2, `B and C subscribed to ${channel} on the new master's shard: ${JSON.stringify(perNode)}`);
  const aAfter = (await redirects(a)) + (await topologyChanges(a));
  assert.ok(aAfter > aBefore, `A followed the move: redirects + topology changes ${aBefore} -> ${aAfter}`);
  for (const conn of [subB, subC, ...sender.conns]) close(conn);
});

test('the Pub/Sub links to a room\'s shard cut by Redis under 80 messages/s: the subscriber\'s instance catches up from PostgreSQL, every stored message exactly once', { timeout: 90000 }, async (t) => {
  const [ma, mc] = [uid(), uid()];
  const room = { ...seedRoom([ma, mc]), members: [ma, mc] };
  const slot = cluster.keySlot(`chat:messages:{${room.id}}`);
  const shard = cluster.shardPorts(cluster.ownerOf(slot).port);
  const subB = await client(b);
  await subscribe(subB, topic(room.id));
  await waitForNumSub([`chat:messages:{${room.id}}`], 1, 5000, 'B subscribed');
  const catchUps = () => metric(b, 'chatd_redis_catch_ups_total');
  const catchUpsBefore = await catchUps();
  const caughtBefore = await metric(b, 'chatd_redis_caught_up_messages_total');

  // Two senders on the other instances; B's link to the shard is cut three times (it takes
  // chatd at least 100 ms to connect again: what is published meanwhile never reaches B live).
  const senders = [steadySender(a, room, ma, 't5a'), steadySender(c, room, mc, 't5c')];
  await Promise.all(senders.map((s) => s.start(40)));
  let cut = 0;
  try {
    await sleep(1000);
    for (let i = 0; i < 3; i++) {
      for (const port of shard) cut += Number(cluster.cli(port, 'CLIENT', 'KILL', 'TYPE', 'pubsub'));
      await waitForNumSub([`chat:messages:{${room.id}}`], 1, 10000, 'B subscribed again after its link was cut');
      await sleep(700);
    }
  } finally {
    await Promise.all(senders.map((s) => s.stop()));
  }
  assert.ok(cut >= 3, `Redis closed B's Pub/Sub link three times (${cut} clients killed)`);
  for (const s of senders) {
    const o = await allAnswered(s, 15000, 'Pub/Sub links cut');
    assert.equal(o.receipted.length, s.records.length, 'every SEND receipted: only Pub/Sub links were cut');
  }
  await assertExactlyOnce(subB, room.id, 15000, 'Pub/Sub links cut');
  const [n, caught] = [(await catchUps()) - catchUpsBefore, (await metric(b, 'chatd_redis_caught_up_messages_total')) - caughtBefore];
  t.diagnostic(`B: ${n} catch-up(s) delivering ${caught} message(s); ${storedChats(room.id).length} stored`);
  assert.ok(n >= 1, `B caught up from PostgreSQL after its Pub/Sub link came back (chatd_redis_catch_ups_total +${n})`);
  assert.equal(await withoutSubscribers(b), 0, 'B: chatd_redis_messages_without_local_subscribers_total');
  for (const conn of [subB, ...senders.flatMap((s) => s.conns)]) close(conn);
});

test('the master of a room\'s slot killed under 20 messages/s: delivery resumes within 20 s, every stored message exactly once, every SEND answered, no crash', { timeout: 120000 }, async (t) => {
  const [ms] = [uid()];
  const room = { ...seedRoom([ms]), members: [ms] };
  const slot = cluster.keySlot(`chat:messages:{${room.id}}`);
  const master = cluster.ownerOf(slot);
  const replicas = cluster.nodes().filter((n) => n.masterId === master.id).map((n) => n.port);
  assert.ok(replicas.length >= 1, `the master :${master.port} of slot ${slot} has a replica`);
  const before = { a: await topologyChanges(a), b: await topologyChanges(b),
    catchUpsB: await metric(b, 'chatd_redis_catch_ups_total'), catchUpsC: await metric(c, 'chatd_redis_catch_ups_total') };

  const subB = await client(b);
  await subscribe(subB, topic(room.id));
  const subC = await client(c);
  await subscribe(subC, topic(room.id));
  await waitForNumSub([`chat:messages:{${room.id}}`], 2, 5000, 'B and C subscribed');

  const sender = steadySender(a, room, ms, 't4');
  await sender.start(20);
  let killedAt;
  let killSeq;
  let promoted;
  let resumedAt;
  const readiness = [];
  try {
    await sleep(2000);
    assert.ok(chats(subB, room.id).length > 10, 'messages flow before the kill');
    killSeq = sender.lastSeq();
    killedAt = Date.now();
    const pid = cluster.kill(master.port);
    t.diagnostic(`killed master :${master.port} (pid ${pid}) of slot ${slot} after message ${killSeq}`);
    const probe = setInterval(async () => {
      try {
        const r = await fetch(`${a.url}/actuator/health/readiness`, { signal: AbortSignal.timeout(1000) });
        readiness.push([Date.now() - killedAt, r.status]);
      } catch (e) { readiness.push([Date.now() - killedAt, String(e)]); }
    }, 250);
    try {
      promoted = await cluster.waitForNewOwner(slot, master.port, 20000);
      t.diagnostic(`replica :${promoted.port} serves slot ${slot} ${Date.now() - killedAt} ms after the kill`);
      // Delivery resumed: B gets a message sent after the kill.
      await waitUntil(() => chats(subB, room.id).some((m) => Number(m.content.split(' ')[1]) > killSeq),
        killedAt + 20000 - Date.now(), () => `B got no message sent after the kill within 20 s of it (${chats(subB, room.id).length} so far)`);
      resumedAt = Date.now();
      t.diagnostic(`B got a message sent after the kill ${resumedAt - killedAt} ms after it`);
    } finally {
      clearInterval(probe);
    }
    await sleep(4000);
  } finally {
    await sender.stop();
  }
  t.diagnostic(`A's readiness after the kill (ms, status): ${JSON.stringify(readiness.filter((x, i, l) => i === 0 || x[1] !== l[i - 1][1]))}`);

  const o = await allAnswered(sender, 20000, 'failover');
  t.diagnostic(`${sender.records.length} SENDs: ${o.receipted.length} receipted, ${o.refused.length} refused on the error queue `
    + `${JSON.stringify([...new Set(o.errorQueue)])}, ${o.cutByError.length} cut by ERROR ${JSON.stringify([...new Set(o.errorFrames)])}`);
  assert.ok(sender.records.length >= 150, `messages were sent throughout (${sender.records.length})`);
  assertStoredAgrees(sender, room.id, o, 'failover');
  await assertExactlyOnce(subB, room.id, 20000, 'failover');
  await assertExactlyOnce(subC, room.id, 20000, 'failover');

  // Live again: what was sent from 2 s after the resumption arrived within 3 s.
  assertLiveFrom([subB, subC], room.id, o.receipted, resumedAt + 2000, 'failover');

  for (const inst of [a, b, c]) {
    assert.equal(inst.proc.exitCode, null, `${inst.name} is still running`);
    assert.equal(inst.proc.signalCode, null, `${inst.name} was not killed by a signal`);
    await waitUntil(async () => (await fetch(`${inst.url}/actuator/health/readiness`)).status === 200,
      Math.max(1000, killedAt + 20000 - Date.now()), `${inst.name}: readiness 200 again within 20 s of the kill`);
    assert.equal(await withoutSubscribers(inst), 0, `${inst.name}: chatd_redis_messages_without_local_subscribers_total`);
  }
  const node = `127.0.0.1:${promoted.port}`;
  await waitUntil(async () => (await metric(a, 'chatd_redis_link_up', { node, link: 'command' })) === 1, 5000,
    `A: chatd_redis_link_up{node="${node}",link="command"} is 1`);
  await waitUntil(async () => (await metric(b, 'chatd_redis_link_up', { node, link: 'pubsub' })) === 1, 5000,
    `B: chatd_redis_link_up{node="${node}",link="pubsub"} is 1`);
  const dead = `127.0.0.1:${master.port}`;
  for (const inst of [a, b]) {
    await waitUntil(async () => sampleValue(await scrape(inst), 'chatd_redis_link_up', { node: dead, link: 'command' }) !== 1, 5000,
      `${inst.name}: chatd_redis_link_up{node="${dead}",link="command"} is no longer 1 for the killed master`);
  }
  const catchUps = [await metric(b, 'chatd_redis_catch_ups_total') - before.catchUpsB,
    await metric(c, 'chatd_redis_catch_ups_total') - before.catchUpsC];
  t.diagnostic(`catch-ups from PostgreSQL after the failover: B ${catchUps[0]}, C ${catchUps[1]}`);
  assert.ok(catchUps.every((n) => n >= 1),
    `B and C lost their Pub/Sub link to the killed master: each caught up from PostgreSQL once subscribed again (${catchUps})`);
  assert.ok((await topologyChanges(a)) > before.a, 'A saw the topology change');
  assert.ok((await topologyChanges(b)) > before.b, 'B saw the topology change');
  for (const conn of [subB, subC, ...sender.conns]) close(conn);
});

test('a shard with no reachable master: every SEND still answered, nothing lost once it is back; an instance started meanwhile reports Redis DOWN in its health until every slot has a master', { timeout: 120000 }, async (t) => {
  // The master with the fewest live replicas (after the failover above, the promoted one).
  const target = cluster.masters().map((m) => ({ m, shard: cluster.shardPorts(m.port).filter((p) => !cluster.killed.has(p)) }))
    .sort((x, y) => x.shard.length - y.shard.length)[0];
  let room;
  for (let tries = 0; tries < 300 && !room; tries++) {
    const ids = [uid()];
    const r = seedRoom(ids);
    if (cluster.ownerOf(cluster.keySlot(`chat:messages:{${r.id}}`)).id === target.m.id) room = { ...r, members: ids };
  }
  assert.ok(room, `a room on the shard of :${target.m.port}`);
  const subB = await client(b);
  await subscribe(subB, topic(room.id));
  await waitForNumSub([`chat:messages:{${room.id}}`], 1, 5000, 'B subscribed');
  const sender = await client(a);
  await subscribe(sender, ERRORS);
  await sendStored(sender, room.id, room.members[0], 't6 before');

  for (const p of target.shard) cluster.kill(p);
  t.diagnostic(`killed every node of the shard of :${target.m.port} (${target.shard})`);
  let states;
  await waitUntil(() => (states = cluster.livePorts().map((p) => cluster.clusterState(p))).every((x) => x === 'fail'), 15000,
    () => `the live nodes see the cluster down: cluster_state ${states}`);

  // An instance starting now, and what its health says of Redis while the slots have no
  // master. Readiness stays PostgreSQL's alone, as with one Redis: a pod without Redis
  // still stores and delivers its own subscribers' messages, and others catch up later.
  const port = await freePort();
  const starting = startChatd({ env: chatdEnv, port });
  starting.catch(() => {});
  let d;
  const redisHealth = [];
  try {
    // SENDs meanwhile: each answered (RECEIPT: stored and published later; or refused), none hangs.
    const answers = [];
    for (let k = 0; k < 5; k++) {
      const receipt = sendFrame(sender, '/app/chat.sendMessage', msg(room.id, room.members[0], `t6 down ${k}`));
      const f = await sender.waitForFrame((x) => isReceipt(receipt)(x) || x.command === 'ERROR' || onDest(ERRORS)(x), 10000)
        .catch(() => assert.fail(`SEND "t6 down ${k}" not answered within 10 s while the shard is down`));
      answers.push(f.command === 'RECEIPT' && f.headers['receipt-id'] === receipt ? 'RECEIPT' : `${f.command} ${f.body || f.headers.message}`);
      if (f.command === 'ERROR') break;
    }
    t.diagnostic(`SENDs while the shard was down: ${JSON.stringify(answers)}`);
    const end = Date.now() + 4000;
    while (Date.now() < end) {
      try {
        const r = await fetch(`http://127.0.0.1:${port}/actuator/health`, { signal: AbortSignal.timeout(1000) });
        redisHealth.push((await r.json()).components.redis.status);
      } catch { redisHealth.push('no answer'); }
      await sleep(200);
    }
    t.diagnostic(`Redis in the health of the instance started while the shard was down: ${JSON.stringify([...new Set(redisHealth)])}`);

    cluster.restart(target.m.port);
    await cluster.waitForOk(20000);
    d = await starting;
    d.name = 'D';
    t.diagnostic('the shard\'s master is back; the new instance is ready');
    await waitUntil(async () => (await (await fetch(`${d.url}/actuator/health`)).json()).components.redis.status === 'UP', 10000,
      'D reports Redis UP once every slot has a master again');
    // The new instance works, and B ends up with every stored message once.
    const fromD = await client(d);
    await subscribe(fromD, ERRORS);
    await sendStored(fromD, room.id, room.members[0], 't6 from D');
    await sendStored(sender, room.id, room.members[0], 't6 after');
    await assertExactlyOnce(subB, room.id, 20000, 'shard down and back');
    for (const inst of [a, b, c]) assert.equal(inst.proc.exitCode, null, `${inst.name} is still running`);
    close(fromD);
  } finally {
    close(subB);
    close(sender);
    if (!d) d = await starting.catch(() => null);
    await d?.stop();
  }
  assert.ok(redisHealth.includes('DOWN'), `D reported Redis DOWN while a shard had no master: ${JSON.stringify(redisHealth)}`);
  assert.deepEqual(redisHealth.filter((x) => x === 'UP'), [],
    'D never reported Redis UP while some slot had no reachable master');
});
