// Log lines: one JSON object per line for the cluster's log stack, plain text for a
// person at a terminal (CHAT_LOG_FORMAT=auto, the default), either one when asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

const BIN = process.env.CHATD_BIN;
// A configuration error: chatd logs one line and exits 2 before touching any service.
const run = (env, viaTerminal = false) => {
  const e = { ...process.env, SPRING_DATASOURCE_URL: 'not-a-url', ...env };
  const r = viaTerminal
    ? spawnSync('script', ['-qec', BIN, '/dev/null'], { env: e, encoding: 'utf8' })
    : spawnSync(BIN, [], { env: e, encoding: 'utf8' });
  return { status: r.status, out: (r.stdout + r.stderr).trim() };
};

test('JSON lines when stderr is not a terminal, and when asked', () => {
  for (const env of [{}, { CHAT_LOG_FORMAT: 'json' }]) {
    const r = run(env);
    assert.equal(r.status, 2);
    const line = JSON.parse(r.out.split('\n')[0]);
    assert.deepEqual(Object.keys(line), ['time', 'level', 'logger', 'message']);
    assert.equal(line.level, 'ERROR');
    assert.equal(line.logger, 'config');
    assert.match(line.message, /SPRING_DATASOURCE_URL/);
  }
});

test('plain text at a terminal, and when asked; an unknown format is refused', () => {
  for (const [env, tty] of [[{}, true], [{ CHAT_LOG_FORMAT: 'text' }, false]]) {
    const r = run(env, tty);
    assert.equal(r.status, 2, r.out);
    assert.match(r.out, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ERROR config: SPRING_DATASOURCE_URL/);
  }
  const bad = run({ CHAT_LOG_FORMAT: 'xml' });
  assert.equal(bad.status, 2);
  assert.match(bad.out, /CHAT_LOG_FORMAT must be auto, json or text/);
});
