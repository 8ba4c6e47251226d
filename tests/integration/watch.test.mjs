// Automatic reload (DESIGN §3, core/script_watch.c): chatd reloads when the files under
// CHAT_LUA_DIR change, without a signal: a kubelet-style ConfigMap swap (a new
// `..<timestamp>` folder, `..data_tmp` renamed over `..data`) and a plain edit. A broken
// version is rejected and the last good scripts keep serving.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, api, REPO, sleep } from '../helpers/chatd.mjs';

const ACTUATOR = path.join('chat', 'routes', 'actuator.lua');
const UP = 'json.object { "status", "UP" } end';
const original = fs.readFileSync(path.join(REPO, 'lua', ACTUATOR), 'utf8');
assert.ok(original.includes(UP), 'the liveness handler this test rewrites has moved');

const liveness = async (chatd) => (await api(chatd.url, 'GET', '/actuator/health/liveness')).json?.status;

// Polls until liveness answers `want`; no signal is ever sent.
async function waitForLiveness(chatd, want, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  let got;
  while (Date.now() < end) {
    got = await liveness(chatd);
    if (got === want) return;
    await sleep(50);
  }
  assert.fail(`liveness is ${got}, expected ${want}:\n${chatd.logs.slice(-10).join('\n')}`);
}

// A ConfigMap volume as the kubelet lays it out (pkg/volume/util/atomic_writer.go): the
// payload in a timestamped folder, `..data` pointing at it, and each top-level entry a
// symlink through `..data`.
class KubeletVolume {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-cm-'));
    this.serial = 0;
    this.current = null;
  }

  // Writes a new payload (a copy of lua/ with `edit` applied) and swaps it in atomically.
  publish(edit = (text) => text) {
    const ts = `..2026_11_25_10_00_0${this.serial++}.${process.pid}`;
    const payload = path.join(this.dir, ts);
    fs.cpSync(path.join(REPO, 'lua'), payload, { recursive: true });
    const target = path.join(payload, ACTUATOR);
    fs.writeFileSync(target, edit(fs.readFileSync(target, 'utf8')));
    fs.symlinkSync(ts, path.join(this.dir, '..data_tmp'));
    fs.renameSync(path.join(this.dir, '..data_tmp'), path.join(this.dir, '..data'));
    for (const entry of fs.readdirSync(payload)) {
      const link = path.join(this.dir, entry);
      if (!fs.existsSync(link)) fs.symlinkSync(path.join('..data', entry), link);
    }
    // The kubelet removes the old payload once the new one is live.
    if (this.current) fs.rmSync(path.join(this.dir, this.current), { recursive: true, force: true });
    this.current = ts;
  }

  remove() { fs.rmSync(this.dir, { recursive: true, force: true }); }
}

test('a kubelet ConfigMap swap reloads the scripts; a broken swap keeps the old ones', async () => {
  const vol = new KubeletVolume();
  vol.publish();
  assert.ok(fs.lstatSync(path.join(vol.dir, 'chat')).isSymbolicLink());
  const chatd = await startChatd({ luaDir: vol.dir });
  try {
    assert.equal(await liveness(chatd), 'UP');
    await chatd.waitForLog(/"logger":"reload".*watching/);

    vol.publish((t) => t.replace(UP, 'json.object { "status", "SWAPPED" } end'));
    await waitForLiveness(chatd, 'SWAPPED');
    const line = await chatd.waitForLog(/"logger":"reload".*loaded from.*replacing/);
    assert.match(line, /scripts [0-9a-f]{16} loaded/, 'the log names the new version');

    vol.publish(() => 'this is not Lua {{{');
    const err = await chatd.waitForLog(/"level":"ERROR".*reload.*rejected/);
    assert.match(err, /actuator\.lua/, 'the error names the broken file');
    assert.equal(await liveness(chatd), 'SWAPPED', 'the last good scripts keep serving');

    // A fixed ConfigMap is picked up again after a rejected one.
    vol.publish((t) => t.replace(UP, 'json.object { "status", "FIXED" } end'));
    await waitForLiveness(chatd, 'FIXED');
  } finally {
    await chatd.stop();
    vol.remove();
  }
});

test('a plain edit in an ordinary folder reloads; CHAT_LUA_WATCH=0 turns watching off', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-lua-'));
  fs.cpSync(path.join(REPO, 'lua'), dir, { recursive: true });
  const file = path.join(dir, ACTUATOR);
  const watched = await startChatd({ luaDir: dir });
  const unwatched = await startChatd({ luaDir: dir, env: { CHAT_LUA_WATCH: '0' } });
  try {
    fs.writeFileSync(file, original.replace(UP, 'json.object { "status", "EDITED" } end'));
    await waitForLiveness(watched, 'EDITED');
    await sleep(1000); // well past the debounce
    assert.equal(await liveness(unwatched), 'UP', 'CHAT_LUA_WATCH=0 does not reload');
    assert.ok(!unwatched.logs.some((l) => /watching/.test(l)));

    // An editor's swap file changes no script: no reload.
    const reloadsBefore = watched.logs.filter((l) => /replacing/.test(l)).length;
    fs.writeFileSync(path.join(dir, 'chat', 'routes', '.actuator.lua.swp'), 'x');
    await sleep(800);
    assert.equal(watched.logs.filter((l) => /replacing/.test(l)).length, reloadsBefore);
  } finally {
    await watched.stop();
    await unwatched.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
