// PostgreSQL unavailable: requests get a prompt 503 with the error JSON (never a hang or a
// 500), readiness goes down, and everything recovers by itself when it is back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startChatd, api, uniqueStudyId, sleep, REPO } from '../helpers/chatd.mjs';

const services = path.join(REPO, 'deploy', 'dev', 'services.sh');

test('PostgreSQL stopped and started again: 503 meanwhile, then normal service', async () => {
  const chatd = await startChatd();
  try {
    execFileSync(services, ['stop-pg']);
    const t0 = Date.now();
    const res = await api(chatd.url, 'POST', `/api/chat/rooms?studyId=${uniqueStudyId()}&roomName=x`);
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json.message, 'database unavailable');
    assert.deepEqual(Object.keys(res.json), ['timestamp', 'status', 'error', 'message', 'path']);
    assert.ok(Date.now() - t0 < 5000, 'answered promptly, not after a hang');
    const ready = await api(chatd.url, 'GET', '/actuator/health/readiness');
    assert.equal(ready.status, 503);
    const health = await api(chatd.url, 'GET', '/actuator/health');
    assert.equal(health.json.components.db.status, 'DOWN');
    assert.equal((await api(chatd.url, 'GET', '/actuator/health/liveness')).status, 200, 'alive all along');
  } finally {
    execFileSync(services, ['start-pg']);
  }
  try {
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i++) {
      await sleep(200);
      status = (await api(chatd.url, 'GET', '/actuator/health/readiness')).status;
    }
    assert.equal(status, 200, 'the pool reconnected');
    const created = await api(chatd.url, 'POST', `/api/chat/rooms?studyId=${uniqueStudyId()}&roomName=back`);
    assert.equal(created.status, 200, created.text);
    await chatd.waitForLog(/connection \d+ restored/, 1000);
  } finally {
    assert.equal((await chatd.stop()).code, 0);
  }
});
