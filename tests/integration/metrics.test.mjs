// /actuator/prometheus (issue 7): the whole scrape parsed by a strict parser of the text
// format, the families and their types, then traffic (REST with 200 and 404, a STOMP client
// subscribing and sending through /app/chat.sendMessage, a SockJS session) and the exact
// amounts the counters moved by.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, uniqueStudyId, sleep } from '../helpers/chatd.mjs';
import { connectStomp, WebSocket } from '../helpers/stomp.mjs';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.mjs';

let chatd;
before(async () => { chatd = await startChatd(); });
after(async () => {
  const exit = await chatd.stop();
  assert.equal(exit.code, 0);
});

async function scrape() {
  const res = await fetch(`${chatd.url}/actuator/prometheus`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  return parsePrometheus(await res.text());
}

// A value, 0 for a labelled series that has not been created yet.
const v = (m, name, labels = {}) => sampleValue(m, name, labels) ?? 0;
const req = (route, status, method = 'GET') => ({ method, route, status: String(status) });
const REQ_COUNT = 'chatd_http_server_requests_seconds_count';

test('the strict parser rejects malformed exposition text', () => {
  const good = '# HELP a x\n# TYPE a counter\na 1\n';
  assert.ok(parsePrometheus(good).get('a'));
  for (const bad of [
    'a{b="c} 1\n', 'a 1 2 3\n', 'a\n', 'a x\n', '9a 1\n', '# TYPE a bogus\na 1\n', 'a{b="c"}} 1\n',
    'a{b="c",b="d"} 1\n', 'a{b="\\q"} 1\n', 'a 1\na 2\n', 'a 1\nb 1\na{x="y"} 1\n', 'a 1',
    '# TYPE a counter\n# TYPE a gauge\na 1\n', 'a 1\n# TYPE a counter\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
  ]) {
    assert.throws(() => parsePrometheus(bad), Error, `accepted ${JSON.stringify(bad)}`);
  }
});

test('every family is well formed, typed and documented', async () => {
  const m = await scrape();
  const expected = {
    chatd_build_info: 'gauge', chatd_stopping: 'gauge', chatd_connections: 'gauge',
    chatd_http_connections_accepted_total: 'counter', chatd_http_received_bytes_total: 'counter',
    chatd_http_sent_bytes_total: 'counter', chatd_http_server_requests_seconds: 'histogram',
    chatd_stomp_sessions: 'gauge', chatd_stomp_subscriptions: 'gauge', chatd_stomp_destinations: 'gauge',
    chatd_stomp_frames_received_total: 'counter', chatd_stomp_frames_sent_total: 'counter',
    chatd_stomp_received_bytes_total: 'counter', chatd_stomp_sent_bytes_total: 'counter',
    chatd_stomp_deliveries_total: 'counter', chatd_stomp_slow_consumers_dropped_total: 'counter',
    chatd_messages_stored_total: 'counter', chatd_access_denied_total: 'counter',
    chatd_pg_pool_size: 'gauge', chatd_pg_pool_connected: 'gauge', chatd_pg_statements_queued: 'gauge',
    chatd_pg_statements_in_flight: 'gauge', chatd_pg_pool_pinned: 'gauge', chatd_redis_connected: 'gauge',
    chatd_lua_tasks: 'gauge', chatd_lua_reloads_total: 'counter', chatd_lua_reloads_failed_total: 'counter',
    process_cpu_seconds_total: 'counter', process_resident_memory_bytes: 'gauge', process_open_fds: 'gauge',
    process_max_fds: 'gauge', process_start_time_seconds: 'gauge', process_uptime_seconds: 'gauge',
  };
  for (const [name, type] of Object.entries(expected)) {
    const f = m.get(name);
    assert.ok(f, `${name} is exposed`);
    assert.equal(f.type, type, `${name} is a ${type}`);
    assert.ok(f.help && f.help.length > 10, `${name} has a HELP line`);
  }
  for (const f of m.values()) {
    assert.ok(f.typed, `${f.name} has a TYPE line`);
    if (f.type === 'counter') assert.match(f.name, /_total$/, 'counters end in _total');
  }
  // Kafka is disabled in this suite: its gauges are absent rather than zero.
  assert.equal(m.get('chatd_kafka_consumer_assigned_partitions'), undefined);

  const build = m.get('chatd_build_info').samples[0];
  assert.equal(build.value, 1);
  assert.match(build.labels.version, /^\d+\.\d+\.\d+$/);
  assert.match(build.labels.scripts, /^[0-9a-f]{16}$/);
  assert.equal(build.labels.application, 'chat-service');
  assert.equal(v(m, 'chatd_stopping'), 0);
  for (const t of ['websocket', 'sockjs', 'http']) assert.ok(sampleValue(m, 'chatd_connections', { transport: t }) >= 0);
  assert.equal(v(m, 'chatd_pg_pool_size'), 4);
  assert.ok(v(m, 'chatd_pg_pool_connected') >= 1);
  assert.equal(v(m, 'chatd_redis_connected', { connection: 'commands' }), 1);
  assert.equal(v(m, 'chatd_redis_connected', { connection: 'pubsub' }), 1);
  assert.ok(v(m, 'process_resident_memory_bytes') > 1e6, 'resident memory from /proc/self/statm');
  assert.ok(v(m, 'process_open_fds') >= 5, 'listener, pools, Redis, loop');
  assert.ok(v(m, 'process_uptime_seconds') > 0);
  assert.ok(Math.abs(v(m, 'process_start_time_seconds') - Date.now() / 1000) < 120);
  assert.ok(v(m, 'chatd_lua_tasks') >= 1, 'the scrape itself runs in a task');
});

test('REST requests are counted by route pattern and status, with cumulative latency buckets', async () => {
  const studyId = uniqueStudyId();
  const before = await scrape();
  const room = await api(chatd.url, 'POST', '/api/chat/internal/rooms/member', { studyId, roomName: 'metrics', userId: 1, nickname: 'm' });
  assert.equal(room.status, 200);
  for (let i = 0; i < 3; i++) assert.equal((await api(chatd.url, 'GET', `/api/chat/rooms/study/${studyId}`)).status, 200);
  for (let i = 0; i < 2; i++) assert.equal((await api(chatd.url, 'GET', `/api/chat/rooms/study/${studyId + 1000000}`)).status, 404);
  assert.equal((await api(chatd.url, 'GET', `/api/chat/rooms/${room.json.id}/nowhere`)).status, 404);
  assert.equal((await api(chatd.url, 'DELETE', `/api/chat/rooms/study/${studyId}`)).status, 405);
  const after = await scrape();

  const delta = (labels) => v(after, REQ_COUNT, labels) - v(before, REQ_COUNT, labels);
  assert.equal(delta(req('/api/chat/internal/rooms/member', 200, 'POST')), 1);
  assert.equal(delta(req('/api/chat/rooms/study/{studyId}', 200)), 3);
  assert.equal(delta(req('/api/chat/rooms/study/{studyId}', 404)), 2);
  assert.equal(delta(req('NOT_FOUND', 404)), 1, 'no route: one bounded label, not the path');
  assert.equal(delta(req('/api/chat/rooms/study/{studyId}', 405, 'DELETE')), 1);
  assert.equal(delta(req('/actuator/prometheus', 200)), 1, 'the first scrape, counted once answered');

  const hist = after.get('chatd_http_server_requests_seconds');
  for (const s of hist.series) {
    assert.doesNotMatch(s.labels.route, /\/\d/, `a raw id in route label ${s.labels.route}`);
  }
  const series = hist.series.find((s) => s.labels.route === '/api/chat/rooms/study/{studyId}' && s.labels.status === '200');
  assert.deepEqual(series.buckets.map(([le]) => le), [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, Infinity]);
  assert.ok(series.sum > 0 && series.sum < 30);
});

test('STOMP frames, bytes, fan-out deliveries and stored messages move by the right amounts', async () => {
  const studyId = uniqueStudyId();
  const room = (await api(chatd.url, 'POST', '/api/chat/internal/rooms/member',
    { studyId, roomName: 'metrics', userId: 7, nickname: 'seven' })).json;
  const topic = `/topic/chatroom/${room.id}`;
  const before = await scrape();

  const c = await connectStomp(`ws://127.0.0.1:${chatd.port}/ws-chat`);
  c.subscribe(topic, { receipt: 'sub-1' });
  await new Promise((resolve) => c.client.watchForReceipt('sub-1', resolve));
  const bodies = [];
  for (let i = 0; i < 3; i++) {
    const body = { chatRoomId: room.id, senderId: 7, senderNickname: 'seven', content: `metrics ${i}`, messageType: 'CHAT' };
    bodies.push(JSON.stringify(body));
    await c.sendWithReceipt('/app/chat.sendMessage', body);
  }
  await c.waitFor(topic, (msgs) => msgs.length === 3);
  const during = await scrape();

  const d = (name, labels) => v(during, name, labels) - v(before, name, labels);
  assert.equal(d('chatd_connections', { transport: 'websocket' }), 1);
  assert.equal(d('chatd_stomp_sessions'), 1);
  assert.equal(d('chatd_stomp_subscriptions'), 1);
  // CONNECT, SUBSCRIBE, 3 SEND in; CONNECTED, the SUBSCRIBE's RECEIPT, 3 RECEIPTs, 3 MESSAGEs out.
  assert.equal(d('chatd_stomp_frames_received_total'), 5);
  assert.equal(d('chatd_stomp_frames_sent_total'), 8);
  assert.equal(d('chatd_stomp_deliveries_total'), 3, 'one MESSAGE per message to the one subscriber');
  assert.equal(d('chatd_messages_stored_total', { type: 'CHAT' }), 3);
  const sentBodies = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
  assert.ok(d('chatd_stomp_received_bytes_total') > sentBodies, 'the SEND bodies and their headers');
  // Each delivered MESSAGE carries a ChatMessagePublish body longer than the request's.
  assert.ok(d('chatd_stomp_sent_bytes_total') > sentBodies);
  assert.ok(d('chatd_http_received_bytes_total') >= d('chatd_stomp_received_bytes_total'),
    'socket bytes include the STOMP bytes and their WebSocket framing');
  assert.ok(d('chatd_http_sent_bytes_total') >= d('chatd_stomp_sent_bytes_total'));
  assert.equal(d('chatd_stomp_sends_total', { outcome: 'stored' }), 3);
  assert.equal(d('chatd_stomp_send_seconds_count'), 3, 'each SEND timed to its answer');
  assert.ok(d('chatd_stomp_send_seconds_bucket', { le: '+Inf' }) === 3 && d('chatd_stomp_send_seconds_sum') > 0);

  // A SEND from someone not in the room: refused (the client's fault), timed as well.
  c.subscribe('/user/queue/errors');
  c.send('/app/chat.sendMessage', { chatRoomId: room.id, senderId: 8, senderNickname: 'eight', content: 'no', messageType: 'CHAT' });
  await c.waitFor('/user/queue/errors', (msgs) => msgs.length === 1);
  const refused = await scrape();
  const r = (name, labels) => v(refused, name, labels) - v(during, name, labels);
  assert.equal(r('chatd_stomp_sends_total', { outcome: 'refused' }), 1);
  assert.equal(r('chatd_stomp_sends_total', { outcome: 'failed' }), 0);
  assert.equal(r('chatd_stomp_sends_total', { outcome: 'stored' }), 0);
  assert.equal(r('chatd_stomp_send_seconds_count'), 1);
  assert.equal(v(refused, 'chatd_ready'), 1);
  assert.ok(v(refused, 'chatd_connections_limit') > 0 && v(refused, 'chatd_sockjs_sessions_limit') > 0);

  await c.close();
  // The socket's close and the session's cleanup come after the DISCONNECT's RECEIPT.
  let back;
  for (let i = 0; i < 50; i++) {
    back = await scrape();
    if (v(back, 'chatd_connections', { transport: 'websocket' }) === v(before, 'chatd_connections', { transport: 'websocket' })) break;
    await sleep(100);
  }
  for (const [name, labels] of [['chatd_connections', { transport: 'websocket' }], ['chatd_stomp_sessions', {}],
    ['chatd_stomp_subscriptions', {}], ['chatd_stomp_destinations', {}]]) {
    assert.equal(v(back, name, labels), v(before, name, labels), `${name} back to its baseline`);
  }
});

test('a SockJS session is counted under its own transport while it lasts', async () => {
  const before = await scrape();
  const id = `m${Date.now()}`;
  const ws = new WebSocket(`ws://127.0.0.1:${chatd.port}/ws-chat/000/${id}/websocket`);
  await new Promise((resolve, reject) => { ws.on('message', resolve); ws.on('error', reject); }); // the "o" frame
  const during = await scrape();
  assert.equal(v(during, 'chatd_connections', { transport: 'sockjs' }) - v(before, 'chatd_connections', { transport: 'sockjs' }), 1);
  assert.equal(v(during, 'chatd_stomp_sessions') - v(before, 'chatd_stomp_sessions'), 1);
  ws.close();
  let back;
  for (let i = 0; i < 50; i++) {
    back = await scrape();
    if (v(back, 'chatd_connections', { transport: 'sockjs' }) === v(before, 'chatd_connections', { transport: 'sockjs' })) break;
    await sleep(100);
  }
  assert.equal(v(back, 'chatd_connections', { transport: 'sockjs' }), v(before, 'chatd_connections', { transport: 'sockjs' }));
  assert.equal(v(back, 'chatd_stomp_sessions'), v(before, 'chatd_stomp_sessions'));
});

test('reloads are counted, failed ones apart', async () => {
  const before = await scrape();
  chatd.signal('SIGHUP');
  let after;
  for (let i = 0; i < 50; i++) {
    after = await scrape();
    if (v(after, 'chatd_lua_reloads_total') > v(before, 'chatd_lua_reloads_total')) break;
    await sleep(100);
  }
  assert.equal(v(after, 'chatd_lua_reloads_total') - v(before, 'chatd_lua_reloads_total'), 1);
  assert.equal(v(after, 'chatd_lua_reloads_failed_total'), v(before, 'chatd_lua_reloads_failed_total'));
});
