// study.member.created against a real Apache Kafka broker (deploy/dev/kafka.sh), produced
// and inspected with kcat (CONTRACT §6).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startChatd, api, sql, uniqueStudyId, sleep, REPO } from '../helpers/chatd.mjs';
import { parsePrometheus, sampleValue } from '../helpers/prometheus.mjs';

const BROKER = process.env.SPRING_KAFKA_BOOTSTRAP_SERVERS;
const TOPIC = 'study.member.created';
const DLT = 'study.member.created.dlt';
// A consumer group of its own: another chatd on the same broker (a developer's, a second
// test run) must not take partitions from the one under test.
const GROUP = `chatd-test-${process.pid}-${Date.now()}`;
// A short produce timeout, so the paused-broker case sees a dead-letter produce time out.
const PRODUCE_TIMEOUT_MS = 2000;
const KAFKA_ENV = { CHAT_KAFKA_ENABLED: '1', CHAT_KAFKA_SESSION_TIMEOUT_MS: '6000', SPRING_KAFKA_CONSUMER_GROUP_ID: GROUP,
  CHAT_KAFKA_PRODUCE_TIMEOUT_MS: String(PRODUCE_TIMEOUT_MS) };

let chatd;
before(async () => {
  assert.ok(BROKER, 'start the broker: deploy/dev/kafka.sh start');
  // A first record creates the topic on a fresh broker (auto-create), then the consumer
  // must own its partitions before the tests start.
  produce('{"warm":"up"}', { key: 'warm-up' });
  chatd = await startChatd({ env: KAFKA_ENV });
  const assigned = await chatd.waitForLog(/assigned \d+ partition/, 30000);
  // A new group starts at the earliest offsets, so the records earlier runs left on the
  // broker come first (some wait 1+2+4 s for retries). A marker at the end of every
  // partition, dead-lettered at once (not an event), shows when the consumer has caught up.
  const partitions = Number(/assigned (\d+) partition/.exec(assigned)[1]);
  const marker = `caught-up-${GROUP}`;
  for (let p = 0; p < partitions; p++) produce(JSON.stringify({ warm: 'up', marker: `${marker}-${p}` }), { key: 'warm-up', partition: p });
  await until(() => deadLetters(marker).length === partitions, 180000, 'the records of earlier runs handled');
});
after(async () => { if (chatd) assert.equal((await chatd.stop()).code, 0); });

function produce(value, { key = 'k', partition, headers = {} } = {}) {
  const args = ['-P', '-b', BROKER, '-t', TOPIC, '-k', key];
  if (partition !== undefined) args.push('-p', String(partition));
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}=${v}`);
  execFileSync('kcat', args, { input: typeof value === 'string' ? value : JSON.stringify(value) });
}

const event = (userId, studyId, nickname = `n${userId}`) =>
  ({ userId, studyId, orderName: 'order', amount: null, nickname });

function deadLetters(needle) {
  let out;
  try {
    out = execFileSync('kcat', ['-C', '-b', BROKER, '-t', DLT, '-o', 'beginning', '-e', '-q', '-J'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    // A fresh broker has no dead-letter topic until chatd writes the first record there.
    if (/Unknown topic or partition/.test(String(err.stderr))) return [];
    throw err;
  }
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => (r.payload ?? '').includes(needle));
}

const header = (rec, name) => {
  const h = rec.headers ?? [];
  for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
  return undefined;
};

async function createRoom(studyId) {
  const res = await api(chatd.url, 'POST', `/api/chat/rooms?studyId=${studyId}&roomName=kafka`);
  assert.equal(res.status, 200, res.text);
  return res.json;
}

const members = (roomId) => sql(`SELECT member_id, sender_nickname, left_at IS NULL FROM chat_room_members
  WHERE chat_room_id = ${roomId} ORDER BY member_id`);

async function until(fn, timeoutMs, what) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) {
      const tail = (chatd?.logs ?? []).filter((l) => /kafka/.test(l)).slice(-15).join('\n');
      throw new Error(`timed out: ${what}\n${tail}`);
    }
    await sleep(100);
  }
}

test('an event adds the member; the same event again is harmless', async () => {
  const studyId = uniqueStudyId();
  const room = await createRoom(studyId);
  produce(event(501, studyId, '카프카'), { headers: { __TypeId__: 'com.grow.study.event.StudyMemberCreated' } });
  await until(() => members(room.id).length === 1, 15000, 'member added');
  produce(event(501, studyId, '카프카'));
  produce(event(502, studyId));
  await until(() => members(room.id).length === 2, 15000, 'second member added');
  assert.deepEqual(members(room.id), [['501', '카프카', 't'], ['502', 'n502', 't']]);
  const res = await api(chatd.url, 'GET', `/api/chat/rooms/study/${studyId}`);
  assert.equal(res.json.memberCount, 2);
  const health = await api(chatd.url, 'GET', '/actuator/health');
  assert.equal(health.json.components.kafka.status, 'UP');
  assert.equal(health.json.components.kafka.details.assignedPartitions, 3);
  // The same state in /actuator/prometheus.
  const metrics = parsePrometheus((await api(chatd.url, 'GET', '/actuator/prometheus')).text);
  assert.equal(sampleValue(metrics, 'chatd_kafka_consumer_assigned_partitions'), 3);
  assert.ok(sampleValue(metrics, 'chatd_kafka_consumer_backlog_records') >= 0);
  assert.equal(deadLetters(String(studyId)).length, 0);
});

test('a room created within the retry window: the event succeeds on a retry', async () => {
  const studyId = uniqueStudyId();
  produce(event(511, studyId));
  await sleep(1500);
  const room = await createRoom(studyId);
  await until(() => members(room.id).length === 1, 10000, 'member added after a retry');
  await chatd.waitForLog(new RegExp(`study ${studyId} has no chat room.*retry 1`), 1000);
  assert.equal(deadLetters(String(studyId)).length, 0);
});

test('malformed JSON goes to the DLT at once; a room that never appears after 1+2+4 s', async () => {
  const marker = `broken-${uniqueStudyId()}`;
  const t0 = Date.now();
  produce(`{"userId": ${marker}`, { key: 'bad-key', headers: { origin: 'test' } });
  const [bad] = await until(() => deadLetters(marker).length && deadLetters(marker), 10000, 'malformed in DLT');
  assert.ok(Date.now() - t0 < 4000, 'no retries for malformed JSON');
  assert.equal(bad.key, 'bad-key');
  assert.equal(header(bad, 'origin'), 'test', 'original headers are kept');
  assert.equal(header(bad, 'kafka_dlt-original-topic'), TOPIC);
  assert.match(header(bad, 'kafka_dlt-exception-message'), /malformed JSON/);
  assert.equal(header(bad, 'kafka_dlt-original-partition').length, 4, 'big-endian int, as Spring writes it');
  assert.equal(header(bad, 'kafka_dlt-original-offset').length, 8, 'big-endian long, as Spring writes it');

  const studyId = uniqueStudyId();
  const t1 = Date.now();
  produce(event(521, studyId));
  const [late] = await until(() => deadLetters(`"studyId":${studyId}`).length && deadLetters(`"studyId":${studyId}`),
    20000, 'unknown study in DLT');
  const waited = Date.now() - t1;
  assert.ok(waited >= 7000, `dead-lettered after ${waited} ms, before the 1/2/4 s schedule`);
  assert.match(header(late, 'kafka_dlt-exception-message'), /has no chat room/);
});

test('the metrics: dead letters by topic, brokers connected, and the lag as the broker sees it back to 0', async () => {
  const scrape = async () => parsePrometheus((await api(chatd.url, 'GET', '/actuator/prometheus')).text);
  // librdkafka's statistics come every 5 s.
  let m;
  for (const end = Date.now() + 20000; ; await sleep(250)) {
    m = await scrape();
    if (sampleValue(m, 'chatd_kafka_consumer_lag_records', { topic: TOPIC, partition: '0' }) === 0) break;
    assert.ok(Date.now() < end, `no lag of 0 on ${TOPIC}[0] within 20 s: ${
      JSON.stringify(sampleValue(m, 'chatd_kafka_consumer_lag_records', { topic: TOPIC, partition: '0' }))}`);
  }
  assert.ok(sampleValue(m, 'chatd_kafka_brokers_up') >= 1);
  assert.ok(sampleValue(m, 'chatd_kafka_dead_letters_total', { topic: DLT }) >= 2, 'the two dead letters above');
});

test('other partitions keep flowing while one partition waits for its retries', async () => {
  const stuck = uniqueStudyId();
  const studyId = uniqueStudyId();
  const room = await createRoom(studyId);
  produce(event(531, stuck), { partition: 0 });
  await sleep(300);
  const t0 = Date.now();
  produce(event(532, studyId), { partition: 1 });
  produce(event(533, studyId), { partition: 2 });
  await until(() => members(room.id).length === 2, 5000, 'members from the other partitions');
  assert.ok(Date.now() - t0 < 5000);
  await until(() => deadLetters(`"studyId":${stuck}`).length, 20000, 'the stuck record finally dead-lettered');
});

test('restarted in the middle: resumes from committed offsets, nothing lost, nothing applied twice', async () => {
  const studyId = uniqueStudyId();
  const room = await createRoom(studyId);
  produce(event(541, studyId));
  await until(() => members(room.id).length === 1, 15000, 'first member');
  await chatd.stop();
  chatd = null;
  for (let i = 542; i < 547; i++) produce(event(i, studyId));
  // Applied exactly once even if redelivered: a member row per user, no duplicates.
  chatd = await startChatd({ env: KAFKA_ENV });
  await until(() => members(room.id).length === 6, 30000, 'events produced while down');
  assert.deepEqual(members(room.id).map((r) => r[0]), ['541', '542', '543', '544', '545', '546']);
  assert.deepEqual(sql(`SELECT count(*) FROM chat_room_members WHERE chat_room_id = ${room.id}`), [['6']]);
});

test('the broker restarted: the consumer resumes, nothing skipped or applied twice', async () => {
  const studyId = uniqueStudyId();
  const room = await createRoom(studyId);
  produce(event(551, studyId));
  await until(() => members(room.id).length === 1, 15000, 'member before the restart');
  const kafka = path.join(REPO, 'deploy', 'dev', 'kafka.sh');
  execFileSync(kafka, ['stop']);
  await sleep(1000);
  execFileSync(kafka, ['start']);
  for (let i = 552; i < 555; i++) produce(event(i, studyId));
  await until(() => members(room.id).length === 4, 60000, 'members after the broker restart');
  assert.deepEqual(sql(`SELECT count(*) FROM chat_room_members WHERE chat_room_id = ${room.id}`), [['4']]);
  assert.equal(deadLetters(`"studyId":${studyId}`).length, 0);
});

test('the broker paused (SIGSTOP): REST carries on, a dead-letter produce times out and is retried, nothing lost', async () => {
  const pid = Number(execFileSync('cat', [path.join(REPO, '.dev', 'kafka', 'pid')], { encoding: 'utf8' }).trim());
  const studyId = uniqueStudyId(); // no room: retried after 1, 2 and 4 s, then dead-lettered
  produce(event(561, studyId));
  // Paused while the last retry waits, so the dead-letter produce meets a silent broker.
  await chatd.waitForLog(new RegExp(`failed \\([^)]*${studyId}[^)]*\\); retry 3`), 30000);
  process.kill(pid, 'SIGSTOP');
  let timedOut = 0;
  try {
    const t0 = Date.now();
    const res = await api(chatd.url, 'POST', `/api/chat/rooms?studyId=${uniqueStudyId()}&roomName=paused`);
    assert.equal(res.status, 200, 'REST does not depend on Kafka');
    assert.ok(Date.now() - t0 < 1000);
    const end = Date.now() + 4000 + PRODUCE_TIMEOUT_MS + 4000;
    while (Date.now() < end && timedOut < 1) {
      const metrics = parsePrometheus((await api(chatd.url, 'GET', '/actuator/prometheus')).text);
      timedOut = sampleValue(metrics, 'chatd_dependency_timeouts_total', { dependency: 'kafka', kind: 'produce' }) ?? 0;
      await sleep(200);
    }
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  assert.ok(timedOut >= 1, 'the dead-letter produce timed out and was counted');
  // The record was not committed: handled again after the broker resumed, it reaches the
  // dead-letter topic (twice at most: the timed-out produce may have landed as well).
  await until(() => deadLetters(`"studyId":${studyId}`).length >= 1, 90000, 'dead-lettered after the pause');
  assert.ok(deadLetters(`"studyId":${studyId}`).length <= 2);
  const room = await createRoom(uniqueStudyId());
  produce(event(562, room.studyId));
  await until(() => members(room.id).length === 1, 60000, 'events flow again');
});
