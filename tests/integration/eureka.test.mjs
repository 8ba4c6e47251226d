// Eureka registration against a real Netflix Eureka server (tests/fixtures/eureka): chatd
// registers as a Spring Cloud client does, renews its lease, registers again when the
// server forgets it, deregisters on SIGTERM, and shrugs off an unreachable or silent Eureka.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startChatd, api, freePort, sleep, REPO } from '../helpers/chatd.mjs';

const FIXTURE = path.join(REPO, 'tests', 'fixtures', 'eureka', 'eureka.sh');
const FIXTURE_DIR = process.env.EUREKA_FIXTURE_DIR ?? path.join(REPO, '.dev', 'eureka');
const APP = 'CHAT-SERVICE';
const FAST = { EUREKA_INSTANCE_LEASE_RENEWAL_INTERVAL_IN_SECONDS: '1' };

let EUREKA;          // http://127.0.0.1:PORT/eureka/
let startedHere = false;

async function answers(url) {
  try { return (await fetch(`${url}apps`, { headers: { accept: 'application/json' } })).status === 200; } catch { return false; }
}

function readUrl() {
  try { return /EUREKA_URL=(\S+)/.exec(fs.readFileSync(path.join(FIXTURE_DIR, 'env'), 'utf8'))[1]; } catch { return null; }
}

before(async () => {
  // deploy/dev/test starts the fixture once; run alone, this file starts (and stops) it.
  EUREKA = readUrl();
  if (!EUREKA || !(await answers(EUREKA))) {
    execFileSync(FIXTURE, ['start'], { stdio: 'inherit', timeout: 300000 });
    startedHere = true;
    EUREKA = readUrl();
  }
  assert.ok(EUREKA && (await answers(EUREKA)), `the Eureka fixture does not answer (${EUREKA})`);
});
after(() => { if (startedHere) execFileSync(FIXTURE, ['stop'], { stdio: 'inherit' }); });

async function instances() {
  const res = await fetch(`${EUREKA}apps/${APP}`, { headers: { accept: 'application/json' } });
  if (res.status === 404) return [];
  assert.equal(res.status, 200);
  const body = await res.json();
  const list = body.application.instance;
  return Array.isArray(list) ? list : [list];
}

async function findInstance(id) {
  return (await instances()).find((i) => i.instanceId === id);
}

async function waitFor(what, fn, timeoutMs = 10000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('registers UP like a Spring Cloud client, re-registers when forgotten, deregisters on SIGTERM', async () => {
  const chatd = await startChatd({ env: { EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE: EUREKA, ...FAST } });
  const host = os.hostname();
  const id = `${host}:chat-service:${chatd.port}`;
  let stopped = false;
  try {
    const inst = await waitFor('registration', () => findInstance(id));
    assert.equal(inst.status, 'UP');
    assert.equal(inst.app, APP);
    assert.equal(inst.hostName, host);
    assert.match(inst.ipAddr, /^\d+\.\d+\.\d+\.\d+$/);
    assert.equal(inst.port.$, chatd.port);
    assert.equal(inst.port['@enabled'], 'true');
    assert.equal(inst.securePort['@enabled'], 'false');
    assert.equal(inst.vipAddress, 'chat-service');
    assert.equal(inst.healthCheckUrl, `http://${host}:${chatd.port}/actuator/health`);
    assert.equal(inst.statusPageUrl, `http://${host}:${chatd.port}/actuator/info`);
    assert.equal(inst.homePageUrl, `http://${host}:${chatd.port}/`);
    assert.equal(inst.dataCenterInfo.name, 'MyOwn');
    assert.equal(inst.leaseInfo.renewalIntervalInSecs, 1);

    // Renewals arrive every second.
    const renewed = inst.leaseInfo.lastRenewalTimestamp;
    await waitFor('a lease renewal', async () => (await findInstance(id))?.leaseInfo.lastRenewalTimestamp > renewed, 5000);

    // The server forgets the instance: the next renewal gets 404 and chatd registers again.
    const del = await fetch(`${EUREKA}apps/${APP}/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.equal(await findInstance(id), undefined, 'deleted on the server');
    const back = await waitFor('re-registration', () => findInstance(id), 8000);
    assert.equal(back.status, 'UP');
    await chatd.waitForLog(/"logger":"eureka".*registering again/, 1000);

    // SIGTERM: out of the registry before the process is gone.
    const t0 = Date.now();
    const exit = await chatd.stop();
    stopped = true;
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - t0 < 5000, 'stopped promptly');
    assert.equal(await findInstance(id), undefined, 'deregistered on SIGTERM');
    await chatd.waitForLog(/"logger":"eureka".*deregistered/, 100);
  } finally {
    if (!stopped) await chatd.stop();
  }
});

test('a comma-separated defaultZone list: the first zone that answers is used', async () => {
  const closed = `http://127.0.0.1:${await freePort()}/eureka/`;
  const chatd = await startChatd({ env: { EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE: `${closed},${EUREKA}`, ...FAST,
    EUREKA_INSTANCE_HOSTNAME: 'chat-zones.test', EUREKA_INSTANCE_INSTANCE_ID: `chat-zones-${process.pid}` } });
  try {
    const inst = await waitFor('registration with the second zone', () => findInstance(`chat-zones-${process.pid}`));
    assert.equal(inst.hostName, 'chat-zones.test');
  } finally {
    assert.equal((await chatd.stop()).code, 0);
  }
  assert.equal(await findInstance(`chat-zones-${process.pid}`), undefined);
});

test('Eureka on a closed port: chatd serves, warns, retries, and stops promptly', async () => {
  const closed = `http://127.0.0.1:${await freePort()}/eureka/`;
  const chatd = await startChatd({ env: { EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE: closed, ...FAST } });
  try {
    assert.equal((await api(chatd.url, 'GET', '/actuator/health/liveness')).status, 200);
    assert.equal((await api(chatd.url, 'GET', '/actuator/health/readiness')).status, 200);
    const warning = JSON.parse(await chatd.waitForLog(/"logger":"eureka".*registration at .* failed/, 5000));
    assert.equal(warning.level, 'WARN');
    await sleep(2500); // a few retries meanwhile
    assert.equal((await api(chatd.url, 'GET', '/actuator/health/liveness')).status, 200);
  } finally {
    const t0 = Date.now();
    assert.equal((await chatd.stop()).code, 0);
    assert.ok(Date.now() - t0 < 3000, `stopped in ${Date.now() - t0} ms`);
  }
});

test('Eureka accepts connections but never answers: requests time out, the loop never stalls', async () => {
  const sockets = [];
  const silent = net.createServer((s) => sockets.push(s)); // reads nothing, answers nothing
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${silent.address().port}/eureka/`;
  const chatd = await startChatd({ env: { EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE: url, ...FAST } });
  try {
    await waitFor('the registration request', async () => sockets.length > 0, 5000);
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      assert.equal((await api(chatd.url, 'GET', '/actuator/health/liveness')).status, 200);
      assert.ok(Date.now() - t0 < 500, 'served while the registration hangs');
      await sleep(200);
    }
  } finally {
    // The registration is still in flight: the DELETE that follows is bounded too.
    const t0 = Date.now();
    assert.equal((await chatd.stop()).code, 0);
    assert.ok(Date.now() - t0 < 5000, `stopped in ${Date.now() - t0} ms`);
    for (const s of sockets) s.destroy();
    silent.close();
  }
});
