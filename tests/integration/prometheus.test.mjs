// The alerting rules and the Grafana dashboard against a real Prometheus (issue 20):
// Prometheus scrapes three chatd instances every second, with deploy/k3s/monitoring/rules.yml
// evaluated every second, while STOMP clients on both send in a seeded room, REST calls
// come in and one SEND is refused. A and B share a private Redis; C, without load, is the
// other configurations: on a private Redis Cluster in sharded mode, with CHAT_AUTH=jwt and
// a JWKS URL this file serves, so the cluster's and the key set's panels have data too.
// Then:
//   1. Prometheus sees the three targets up, the load and the refused SEND;
//   2. every metric name the rules and the dashboard's queries read is in what it scraped
//      (or, for the few absent here by configuration, listed below and named in core/);
//   3. every panel's query, its $variables replaced, is valid and returns data with a
//      finite value (the panels listed below are only checked to be valid PromQL), and
//      the variables' own queries list the job and the three instances;
//   4. every rule evaluates without error, and no Redis alert is active while Redis is up;
//   5. Redis stopped: the alerts on chatd's Redis links that can fire with one Redis
//      (ChatdRedisCommandsDown and ChatdRedisPubSubDown today) fire for A and B;
//      Redis back: they resolve.
// Where the broker of deploy/dev/kafka.sh runs (SPRING_KAFKA_BOOTSTRAP_SERVERS, as in CI), C
// also consumes study.member.created, in a group of its own whose offsets are first moved
// to the end (kcat), so its lag is known at once rather than after the backlog earlier runs
// left (retried for seconds each), and one record is dead-lettered. Without a broker the
// Kafka panels are only checked to be valid PromQL. The Redis
// is private to this file, on a port below the ephemeral range, so it can be stopped and
// started again there without disturbing other suites.
// The rules are loaded as written except that no `for` is longer than FOR_CAP (nor
// `keep_firing_for`): the expressions and labels are what is tested here; the timing is
// tests/prometheus/*_test.yml's (promtool).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, startChatd, api, sleep, roomWithMembers } from '../helpers/chatd.mjs';
import { connectStomp } from '../helpers/stomp.mjs';
import { startRedis, freeLowPort } from '../helpers/private_services.mjs';
import { startRedisCluster } from '../helpers/redis_cluster.mjs';
import { rsaKeys, jwk } from '../helpers/access.mjs';
import http from 'node:http';
import { startPrometheus, metricNames } from '../helpers/prometheus_server.mjs';

const RULES = path.join(REPO, 'deploy/k3s/monitoring/rules.yml');
const DASHBOARD = path.join(REPO, 'deploy/k3s/monitoring/dashboard.json');
const FOR_CAP = 5; // seconds

const BROKER = process.env.SPRING_KAFKA_BOOTSTRAP_SERVERS;
const TOPIC = 'study.member.created';
// Metrics chatd exposes only in another configuration than this file's: each must be absent
// here (so the list stays exact) and named in core/ (so a typo in a query is still caught).
const ABSENT_HERE = BROKER ? new Map() : new Map([
  ['chatd_kafka_brokers_up', 'CHAT_KAFKA_ENABLED=0'],
  ['chatd_kafka_consumer_lag_records', 'CHAT_KAFKA_ENABLED=0'],
  ['chatd_kafka_consumer_assigned_partitions', 'CHAT_KAFKA_ENABLED=0'],
  ['chatd_kafka_consumer_backlog_records', 'CHAT_KAFKA_ENABLED=0'],
  ['chatd_kafka_dead_letters_total', 'CHAT_KAFKA_ENABLED=0'],
]);
// Dashboard panels whose queries return nothing here, for the reasons above; their queries
// are still run (valid PromQL). Every other panel must show data.
const PANELS_WITHOUT_DATA_HERE = BROKER ? new Map() : new Map([
  ['Kafka brokers connected per pod', 'CHAT_KAFKA_ENABLED=0'],
  ['Consumer lag by topic (fleet)', 'CHAT_KAFKA_ENABLED=0'],
  ['Consumer lag by partition', 'CHAT_KAFKA_ENABLED=0'],
  ['Backlog and partitions per pod', 'CHAT_KAFKA_ENABLED=0'],
  ['Dead letters/s by topic (fleet)', 'CHAT_KAFKA_ENABLED=0'],
  ['Kafka produce timeouts/s per pod', 'CHAT_KAFKA_ENABLED=0 (no kafka series of chatd_dependency_timeouts_total)'],
]);
// What a panel's Grafana variables become: every job and pod, and a rate window of a few
// one-second scrapes.
const substitute = (expr) => expr
  .replaceAll('$__rate_interval', '10s').replaceAll('$__interval', '2s').replaceAll('$__range', '1m')
  .replace(/\$\{?(job|instance|pod)\}?/g, '.+');

// rules.yml as data (Debian's python3-yaml, as tests/k3s/check_manifests.py uses).
function loadYaml(file) {
  return JSON.parse(execFileSync('python3', ['-c',
    'import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))', file], { encoding: 'utf8' }));
}

const DURATION_UNITS = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
const seconds = (d) => [...String(d).matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)]
  .reduce((n, [, v, u]) => n + Number(v) * DURATION_UNITS[u], 0);

function testRules(doc) {
  const copy = structuredClone(doc);
  for (const g of copy.groups)
    for (const r of g.rules)
      for (const key of ['for', 'keep_firing_for'])
        if (r[key] !== undefined && seconds(r[key]) > FOR_CAP) r[key] = `${FOR_CAP}s`;
  return JSON.stringify(copy, null, 2); // JSON is YAML
}

// Every query of the dashboard: { title, refId, expr }.
function panelQueries(dashboard) {
  const out = [];
  const walk = (panels) => {
    for (const p of panels) {
      if (p.panels) walk(p.panels);
      for (const t of p.targets ?? []) out.push({ title: p.title, refId: t.refId, expr: t.expr });
    }
  };
  walk(dashboard.panels);
  return out;
}

async function until(what, cond, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const result = await cond();
    if (result) return result;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}

let redis;
let redisPort;
let a;
let b;
let third; // C, the other configurations: a Redis Cluster, CHAT_AUTH=jwt with a JWKS URL
let cluster;
let jwksServer;
let prom;
let rulesDoc;
let dashboard;
let room;
const clients = [];
let load;

// Messages and REST calls on both instances until stop(): every 100 ms each client sends
// a message (waiting for its RECEIPT), and each instance answers a history page, the
// member's inbox and a 404.
function startLoad() {
  let running = true;
  const errors = [];
  let rounds = 0;
  const done = (async () => {
    while (running) {
      try {
        await Promise.all([
          ...clients.map(({ c, userId }) => c.sendWithReceipt('/app/chat.sendMessage',
            { chatRoomId: room.id, senderId: userId, senderNickname: `u${userId}`, content: `load ${rounds}`, messageType: 'CHAT' })),
          ...[a, b].flatMap((x) => [
            api(x.url, 'GET', `/api/chat/rooms/${room.id}/messages?size=20`),
            api(x.url, 'GET', `/api/chat/rooms?memberId=${clients[0].userId}`),
            api(x.url, 'GET', '/api/chat/rooms/study/0'),
          ]),
        ]);
        rounds++;
      } catch (e) {
        errors.push(e);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      assert.deepEqual(errors.map(String), [], 'the load ran without errors');
    },
  };
}

before(async () => {
  if (!fs.existsSync(RULES)) throw new Error(`${RULES} does not exist`);
  rulesDoc = loadYaml(RULES);
  dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8'));
  redisPort = await freeLowPort();
  redis = await startRedis({ port: redisPort });
  const env = { SPRING_DATA_REDIS_HOST: '127.0.0.1', SPRING_DATA_REDIS_PORT: String(redisPort),
    CHAT_MIXED_FLEET: 'false' };
  cluster = await startRedisCluster(21700);
  const keys = rsaKeys();
  jwksServer = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [jwk(keys.publicKey, 'k1')] }));
  });
  await new Promise((r) => jwksServer.listen(0, '127.0.0.1', r));
  const other = { SPRING_DATA_REDIS_CLUSTER_NODES: cluster.seeds, CHAT_REDIS_PUBSUB: 'sharded', CHAT_MIXED_FLEET: 'false',
    CHAT_AUTH: 'jwt', CHAT_JWT_JWKS_URL: `http://127.0.0.1:${jwksServer.address().port}/jwks` };
  if (BROKER) {
    const group = `chatd-prometheus-${process.pid}-${Date.now()}`;
    kcat(['-P', '-t', TOPIC, '-k', 'warm-up'], '{"warm":"up"}'); // a fresh broker creates the topic
    kcat(['-C', '-G', group, '-e', '-q', '-X', 'auto.offset.reset=earliest', TOPIC]); // commits the end
    Object.assign(other, { CHAT_KAFKA_ENABLED: '1', SPRING_KAFKA_CONSUMER_GROUP_ID: group,
      CHAT_KAFKA_SESSION_TIMEOUT_MS: '6000' });
  }
  [a, b, third] = await Promise.all([startChatd({ env }), startChatd({ env }), startChatd({ env: other })]);
  if (BROKER) {
    await third.waitForLog(/assigned \d+ partition/, 30000);
    kcat(['-P', '-t', TOPIC, '-k', 'prometheus'], 'not an event'); // dead-lettered at once
  }
  prom = await startPrometheus({ targets: [a, b, third].map((x) => `127.0.0.1:${x.port}`),
    rules: [{ name: 'rules.yml', text: testRules(rulesDoc) }] });
  room = await roomWithMembers(a.url, [1, 'u1'], [2, 'u2'], [3, 'u3'], [4, 'u4']);
  for (const [x, userId] of [[a, 1], [a, 2], [b, 3], [b, 4]]) {
    const c = await connectStomp(x.wsUrl);
    c.subscribe(`/topic/chatroom/${room.id}`);
    c.subscribe('/user/queue/errors');
    clients.push({ c, userId });
  }
  load = startLoad();
  // A SEND refused: the sender is no member of the room.
  const c = clients[3].c;
  c.send('/app/chat.sendMessage', { chatRoomId: room.id, senderId: 999, senderNickname: 'x', content: 'no', messageType: 'CHAT' });
  await c.waitFor('/user/queue/errors', (m) => m.length === 1);
});

after(async () => {
  await load?.stop().catch(() => {});
  for (const { c } of clients) await c.close().catch(() => {});
  const exits = [];
  for (const x of [a, b, third]) if (x) exits.push(await x.stop());
  await prom?.stop();
  await redis?.stop();
  await cluster?.stop();
  jwksServer?.close();
  for (const e of exits) assert.equal(e.code, 0, 'chatd stopped cleanly');
});

function kcat(args, input) {
  execFileSync('kcat', ['-b', BROKER, ...args], { input, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'pipe'],
    timeout: 60000 });
}

// What Prometheus holds now, by metric name.
async function scrapedNames() {
  return new Set((await prom.query('count by (__name__) ({__name__=~".+"})')).map((s) => s.metric.__name__));
}

test('Prometheus scrapes the three instances, and sees the load and the refused SEND', async () => {
  await until('the three targets up', async () => {
    const targets = await prom.targets();
    return targets.length === 3 && targets.every((t) => t.health === 'up') && targets;
  }, 15000);
  // Two scrapes apart with deliveries on both, so rates over the window have two points.
  await until('deliveries seen moving on both instances', async () =>
    (await prom.query('increase(chatd_stomp_deliveries_total{job="chat-service"}[10s]) > 0')).length === 2, 30000);
  await until('the refused SEND scraped', async () =>
    (await prom.query('sum(chatd_stomp_sends_total{outcome="refused"}) >= 1')).length === 1, 15000);
  const stored = await prom.query('sum(chatd_stomp_sends_total{outcome="stored"})');
  assert.ok(Number(stored[0].value[1]) > 0, 'stored SENDs counted');
  const jobs = await prom.query('count by (job, instance) (chatd_build_info)');
  assert.deepEqual(jobs.map((s) => s.metric.instance).sort(), [a, b, third].map((x) => `127.0.0.1:${x.port}`).sort());
  assert.ok(jobs.every((s) => s.metric.job === 'chat-service'));
});

test('every metric the rules and the dashboard read is scraped (or absent here by configuration)', async () => {
  // librdkafka's statistics come every 5 s, the dead letter once handled.
  if (BROKER) {
    await until('the Kafka consumer\'s lag and the dead letter scraped', async () =>
      (await prom.query('count(chatd_kafka_consumer_lag_records) > 0 and count(chatd_kafka_dead_letters_total) > 0'))
        .length === 1, 40000);
  }
  const scraped = await scrapedNames();
  const recorded = new Set(rulesDoc.groups.flatMap((g) => g.rules).filter((r) => r.record).map((r) => r.record));
  const core = fs.readdirSync(path.join(REPO, 'core')).filter((f) => f.endsWith('.c'))
    .map((f) => fs.readFileSync(path.join(REPO, 'core', f), 'utf8')).join('\n');
  const sources = [
    ...rulesDoc.groups.flatMap((g) => g.rules.map((r) => ({ where: `rules.yml ${r.alert ?? r.record}`, expr: String(r.expr) }))),
    ...panelQueries(dashboard).map((q) => ({ where: `panel "${q.title}" ${q.refId}`, expr: q.expr })),
  ];
  const problems = [];
  const used = new Set();
  for (const { where, expr } of sources) {
    const names = metricNames(expr);
    if (names.length === 0) problems.push(`${where}: no metric name found in ${expr}`);
    for (const name of names) {
      used.add(name);
      if (!/^(chatd_|chatd:|process_)|^up$/.test(name) && !recorded.has(name)) {
        problems.push(`${where}: ${name} is not one of chatd's metrics (${expr})`);
      } else if (ABSENT_HERE.has(name)) {
        if (scraped.has(name)) problems.push(`${name} is scraped here: take it off ABSENT_HERE`);
        if (!core.includes(`"${name}`)) problems.push(`${where}: ${name} is named nowhere in core/`);
      } else if (!scraped.has(name)) {
        problems.push(`${where}: ${name} was not scraped (${expr})`);
      }
    }
  }
  assert.deepEqual(problems, []);
  for (const name of ABSENT_HERE.keys()) assert.ok(used.has(name), `${name} (ABSENT_HERE) is read by some query`);
});

test('every dashboard query returns data (the panels listed apart: valid PromQL)', async () => {
  const queries = panelQueries(dashboard);
  const titles = new Set(queries.map((q) => q.title));
  for (const title of PANELS_WITHOUT_DATA_HERE.keys()) assert.ok(titles.has(title), `panel "${title}" exists`);
  const problems = [];
  for (const { title, refId, expr } of queries) {
    const query = substitute(expr);
    let result;
    try {
      result = await prom.query(query);
    } catch (e) {
      problems.push(`panel "${title}" ${refId}: ${e.message}`);
      continue;
    }
    if (PANELS_WITHOUT_DATA_HERE.has(title)) continue;
    const values = result.map((s) => Number(s.value[1]));
    if (values.length === 0) problems.push(`panel "${title}" ${refId}: no data for ${query}`);
    else if (!values.some(Number.isFinite)) problems.push(`panel "${title}" ${refId}: only ${values.join(', ')} for ${query}`);
  }
  assert.deepEqual(problems, []);
  // The variables' own queries: label_values(metric, label) is the label's values on metric.
  for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(v.query.query ?? v.query);
    assert.ok(m, `variable ${v.name} is a label_values query`);
    const values = (await prom.query(`count by (${m[2]}) (${substitute(m[1])})`)).map((s) => s.metric[m[2]]).sort();
    const want = v.name === 'job' ? ['chat-service'] : [a, b, third].map((x) => `127.0.0.1:${x.port}`).sort();
    assert.deepEqual(values, want, `variable ${v.name}`);
  }
});

// The alerting rules on chatd's Redis links (chatd_redis_connected, chatd_redis_link_up)
// that can fire here: those reading a metric absent here (a cluster's) are left out.
async function redisLinkRules() {
  const rules = (await prom.rules()).filter((r) => r.type === 'alerting'
    && metricNames(r.query).some((n) => n === 'chatd_redis_connected' || n === 'chatd_redis_link_up')
    && !metricNames(r.query).some((n) => ABSENT_HERE.has(n)));
  assert.ok(rules.length >= 1, 'rules.yml has an alert on a Redis link down with one Redis');
  return rules;
}

test('every rule evaluates without error, and no Redis alert is active while Redis is up', async (t) => {
  await sleep(2000); // a few evaluations with the load's data
  const rules = await prom.rules();
  const names = rulesDoc.groups.flatMap((g) => g.rules).map((r) => r.alert ?? r.record);
  assert.equal(rules.length, names.length, 'Prometheus loaded every rule of rules.yml');
  for (const r of rules) {
    assert.equal(r.health, 'ok', `rule ${r.name}: ${r.lastError}`);
    assert.ok(r.lastEvaluation && !r.lastEvaluation.startsWith('0001'), `rule ${r.name} was evaluated`);
  }
  const redisAlerts = new Set((await redisLinkRules()).map((r) => r.name));
  const active = await prom.alerts();
  for (const al of active) t.diagnostic(`active before the fault: ${al.labels.alertname} ${al.state}`);
  assert.deepEqual(active.filter((al) => redisAlerts.has(al.labels.alertname)).map((al) => al.labels), []);
});

test('Redis stopped: the Redis link alerts fire for A and B (C is on the cluster); Redis back: they resolve', async (t) => {
  await load.stop();
  load = null;
  const names = new Set((await redisLinkRules()).map((r) => r.name));
  const instances = [a, b].map((x) => `127.0.0.1:${x.port}`).sort();
  const firing = async () => (await prom.alerts()).filter((al) => names.has(al.labels.alertname) && al.state === 'firing');

  const stoppedAt = Date.now();
  await redis.stop();
  const fired = await until(`${[...names].join(', ')} firing for both instances`, async () => {
    const f = await firing();
    const seen = new Set(f.map((al) => al.labels.instance));
    return instances.every((i) => seen.has(i)) && f;
  }, 60000);
  t.diagnostic(`firing ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after Redis stopped: ` +
    fired.map((al) => `${al.labels.alertname}{${Object.entries(al.labels).filter(([k]) => k !== 'alertname')
      .map(([k, v]) => `${k}="${v}"`).join(',')}}`).join(' '));
  for (const al of fired) {
    assert.ok(al.labels.severity, `${al.labels.alertname} has a severity`);
    assert.ok(al.annotations.summary || al.annotations.description, `${al.labels.alertname} says what is wrong`);
  }

  const restartedAt = Date.now();
  redis = await startRedis({ port: redisPort });
  await until('chatd reconnected to Redis', async () =>
    (await prom.query('min(chatd_redis_link_up{job="chat-service"}) == 1')).length === 1, 60000);
  await until(`${[...names].join(', ')} resolved`, async () =>
    (await prom.alerts()).filter((al) => names.has(al.labels.alertname)).length === 0, 60000);
  t.diagnostic(`resolved ${((Date.now() - restartedAt) / 1000).toFixed(1)} s after Redis restarted`);
});
