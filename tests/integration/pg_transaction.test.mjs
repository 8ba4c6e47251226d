// chat.pg.transaction (lua/chat/core.lua over core/lua_api_pg.c's pinned connections), the
// documented way for a script to make several statements one unit: all commit, or none
// does when the function returns nil, err or raises; statements of other requests keep
// flowing on the other connections meanwhile. Exercised through a route added to a copy
// of the scripts, against the real PostgreSQL.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, sql, uniqueStudyId, scriptsWithRoutes } from '../helpers/chatd.mjs';

// POST /tx-probe?a=<study>&b=<study>&end=commit|fail|raise&hold=<seconds>: creates two rooms
// in one transaction, optionally waits inside it, then ends it the way `end` says.
const PROBE = `
local chat = require "chat.core"
local function probe(req)
  local p = function(k) return req.params[k] and req.params[k][1] end
  local result, err, state = chat.pg.transaction(function(tx)
    for _, study in ipairs { p("a"), p("b") } do
      local rows, qerr, qstate = tx.query("INSERT INTO chat_rooms (study_id, name, is_active, created_at) VALUES ($1, 'tx', true, now()::timestamp) RETURNING id", study)
      if not rows then return nil, qerr, qstate end
    end
    if p("hold") then chat.sleep(tonumber(p("hold"))) end
    if p("end") == "fail" then return nil, "the script said no", "P0001" end
    if p("end") == "raise" then error("the script raised") end
    return "committed"
  end)
  if not result then return 409, '{"error":' .. string.format("%q", tostring(err)) .. ',"state":"' .. tostring(state) .. '"}' end
  return 200, '{"result":"' .. result .. '"}'
end
return { ["/tx-probe"] = { POST = probe } }
`;

let chatd;
before(async () => {
  chatd = await startChatd({ luaDir: scriptsWithRoutes('tx_probe', PROBE) });
});
after(async () => { await chatd?.stop(); });

const rooms = (a, b) => Number(sql(`SELECT count(*) FROM chat_rooms WHERE study_id IN (${a}, ${b})`)[0][0]);

test('both statements commit together', async () => {
  const [a, b] = [uniqueStudyId(), uniqueStudyId()];
  const res = await api(chatd.url, 'POST', `/tx-probe?a=${a}&b=${b}&end=commit`);
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json.result, 'committed');
  assert.equal(rooms(a, b), 2);
});

test('nil, err from the function rolls both back and returns the error', async () => {
  const [a, b] = [uniqueStudyId(), uniqueStudyId()];
  const res = await api(chatd.url, 'POST', `/tx-probe?a=${a}&b=${b}&end=fail`);
  assert.equal(res.status, 409);
  assert.deepEqual(res.json, { error: 'the script said no', state: 'P0001' });
  assert.equal(rooms(a, b), 0);
});

test('an error raised inside rolls back too, and is logged', async () => {
  const [a, b] = [uniqueStudyId(), uniqueStudyId()];
  const res = await api(chatd.url, 'POST', `/tx-probe?a=${a}&b=${b}&end=raise`);
  assert.equal(res.status, 409);
  assert.match(res.json.error, /the script raised/);
  assert.equal(rooms(a, b), 0);
  await chatd.waitForLog(/transaction aborted by an error/);
});

test('a failed statement rolls back the ones before it (a duplicate study id)', async () => {
  const a = uniqueStudyId();
  const res = await api(chatd.url, 'POST', `/tx-probe?a=${a}&b=${a}&end=commit`);
  assert.equal(res.status, 409);
  assert.equal(res.json.state, '23505');
  assert.equal(rooms(a, a), 0);
});

test('other requests are served while a transaction holds its connection', async () => {
  const [a, b] = [uniqueStudyId(), uniqueStudyId()];
  const held = api(chatd.url, 'POST', `/tx-probe?a=${a}&b=${b}&end=commit&hold=1`);
  const t0 = Date.now();
  const other = await api(chatd.url, 'GET', `/api/chat/rooms/study/${a}`);
  assert.equal(other.status, 404, 'the uncommitted room is not visible outside the transaction');
  assert.ok(Date.now() - t0 < 900, 'answered before the transaction ended');
  assert.equal((await held).status, 200);
  assert.equal((await api(chatd.url, 'GET', `/api/chat/rooms/study/${a}`)).status, 200);
});
