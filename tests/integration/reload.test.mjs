// Hot reload (DESIGN §3): SIGHUP loads changed scripts; broken scripts are rejected and
// the last good code keeps serving; no request fails during either reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, api, REPO, sleep } from '../helpers/chatd.mjs';

test('SIGHUP reloads the scripts, keeps the old ones when the new ones are broken', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-lua-'));
  fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
  const actuator = path.join(dir, 'chat', 'routes', 'actuator.lua');
  const original = fs.readFileSync(actuator, 'utf8');
  const chatd = await startChatd({ luaDir: dir });
  const liveness = async () => (await api(chatd.url, 'GET', '/actuator/health/liveness')).json.status;
  const rejected = async () =>
    Number(/^chatd_lua_scripts_rejected (\d+)$/m.exec((await api(chatd.url, 'GET', '/actuator/prometheus')).text)[1]);

  // Requests keep flowing during both reloads; none may fail.
  let failures = 0;
  let served = 0;
  let running = true;
  const load = (async () => {
    while (running) {
      try {
        const res = await api(chatd.url, 'GET', '/actuator/health/readiness');
        if (res.status !== 200) failures++;
        served++;
      } catch { failures++; }
    }
  })();

  try {
    assert.equal(await liveness(), 'UP');
    fs.writeFileSync(actuator, original.replace('json.object { "status", "UP" } end', 'json.object { "status", "RELOADED" } end'));
    chatd.signal('SIGHUP');
    await chatd.waitForLog(/"logger":"reload".*replacing/);
    assert.equal(await liveness(), 'RELOADED');

    fs.writeFileSync(actuator, 'this is not Lua {{{');
    chatd.signal('SIGHUP');
    const line = await chatd.waitForLog(/"level":"ERROR".*reload.*rejected/);
    assert.match(line, /actuator\.lua/);
    assert.equal(await liveness(), 'RELOADED', 'the last good scripts keep serving');
    assert.equal(await rejected(), 1, 'chatd_lua_scripts_rejected says so until a reload works');

    // A runtime error in validate() is rejected the same way.
    fs.writeFileSync(actuator, original);
    const init = path.join(dir, 'chat', 'init.lua');
    const initText = fs.readFileSync(init, 'utf8');
    fs.writeFileSync(init, initText.replace('assert(#routes > 0, "no HTTP routes")', 'error("validation says no")'));
    chatd.signal('SIGHUP');
    await chatd.waitForLog(/validation says no/);
    assert.equal(await liveness(), 'RELOADED');

    fs.writeFileSync(init, initText);
    chatd.signal('SIGHUP');
    await sleep(300);
    assert.equal(await liveness(), 'UP');
    assert.equal(await rejected(), 0);
  } finally {
    running = false;
    await load;
    await chatd.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(served > 20, `only ${served} requests ran during the reloads`);
  assert.equal(failures, 0);
});
