// CHAT_LUA_PROFILE: a real chatd samples its scripts while it serves and writes the profile
// when it stops: the functions that served the requests are named by script and line, most
// first, and the write is logged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChatd, api, roomWithMembers } from '../helpers/chatd.mjs';

test('the scripts\' profile is written at stop, naming the functions that served', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'chatd-profile-')), 'lua.profile');
  const chatd = await startChatd({ env: { CHAT_LUA_PROFILE: file, CHAT_KAFKA_ENABLED: '0' } });
  let stopped = false;
  try {
    const room = await roomWithMembers(chatd.url, [81, 'profiled']);
    for (let i = 0; i < 300; i++) {
      const res = await api(chatd.url, 'GET', `/api/chat/rooms/${room.id}/messages?page=${i % 3}&size=20`);
      assert.equal(res.status, 200, res.text);
    }
    assert.equal(fs.existsSync(file), false, 'written at stop, not before');
    await chatd.stop();
    stopped = true;
  } finally {
    if (!stopped) await chatd.stop();
  }
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.trim().split('\n');
  const header = lines[0].match(/^# chatd Lua profile: (\d+) samples, one per 100 VM instructions/);
  assert.ok(header, lines[0]);
  const rows = lines.filter((l) => !l.startsWith('#')).map((l) => {
    const m = l.match(/^(\d+) (\d+\.\d)% (\S+):(\d+) (.+)$/);
    assert.ok(m, `a profile line: ${l}`);
    return { samples: Number(m[1]), script: m[3], line: Number(m[4]), name: m[5] };
  });
  assert.ok(rows.length > 5, text);
  assert.equal(rows.reduce((s, r) => s + r.samples, 0), Number(header[1]), 'every sample in a line');
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].samples >= rows[i].samples, 'most first');
  assert.ok(rows.some((r) => r.script === 'chat/routes/messages.lua'), 'the history route is named');
  assert.ok(rows.some((r) => r.script === 'chat/domain/messages.lua' && r.name === 'history'), text);
  assert.ok(chatd.logs.some((l) => l.includes('Lua profile') && l.includes(file)), 'the write is logged');
});

test('a profile that cannot be written is logged as an error, and the stop is still clean', async () => {
  const file = '/nonexistent-folder/lua.profile';
  const chatd = await startChatd({ env: { CHAT_LUA_PROFILE: file, CHAT_KAFKA_ENABLED: '0' } });
  const res = await api(chatd.url, 'GET', '/actuator/health');
  assert.equal(res.status, 200);
  const exited = await chatd.stop();
  assert.equal(exited.code, 0, 'a clean exit');
  const line = chatd.logs.find((l) => l.includes('cannot write the Lua profile'));
  assert.ok(line, chatd.logs.slice(-5).join('\n'));
  assert.match(line, /"level":"ERROR".*\/nonexistent-folder\/lua\.profile: No such file or directory/);
});
