// chat.redis.pipeline (core/lua_api_redis.c) in a real chatd against a private Redis: a
// probe route added to a copy of the scripts sends several commands at once and answers
// what came back. Replies arrive in their places, an error reply fails only its own
// command, and with Redis stopped every command fails with a message and the handler
// carries on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startChatd, api, scriptsWithRoutes } from '../helpers/chatd.mjs';
import { startRedis } from '../helpers/private_services.mjs';

// GET /probe/pipeline?key=K: SET K 5, INCR K, GET K, INCR on a list (an error reply), a
// nil reply, LRANGE (an array), and the pipeline's replies and errors as JSON.
const PROBE = `
local chat = require "chat.core"
local json = require "chat.lib.json"
return {
  ["/probe/pipeline"] = { GET = function(req)
    local k = req.params.key[1]
    local replies, errors = chat.redis.pipeline {
      { "SET", k, 5 }, { "INCR", k }, { "GET", k }, { "RPUSH", k .. ":list", "a", "b" },
      { "INCR", k .. ":list" }, { "GET", k .. ":absent" }, { "LRANGE", k .. ":list", 0, -1 },
    }
    local out = json.object {}
    for i = 1, 7 do
      local r = replies[i]
      if type(r) == "table" then r = json.array(r) end
      json.put(out, tostring(i), r == chat.null and "nil" or r == nil and json.null or r)
    end
    json.put(out, "errors", errors and json.object { "5", errors[5], "count", (function()
      local n = 0
      for _ in pairs(errors) do n = n + 1 end
      return n
    end)() } or json.null)
    return 200, out
  end },
  ["/probe/wide"] = { GET = function()
    local push = { "RPUSH", "probe:wide" }
    for i = 1, 250 do push[#push + 1] = i end -- numbers, converted on the stack
    local replies, errors = chat.redis.pipeline { { "DEL", "probe:wide" }, push, { "LLEN", "probe:wide" } }
    return 200, json.object { "pushed", replies[2], "length", replies[3], "errors", errors and 1 or json.null }
  end },
  ["/probe/down"] = { GET = function()
    local replies, errors = chat.redis.pipeline { { "PING" }, { "GET", "x" } }
    return 200, json.object { "replies", #replies, "first", errors and errors[1] or json.null,
      "second", errors and errors[2] or json.null }
  end },
}
`;

let redis;
let chatd;
before(async () => {
  const dir = scriptsWithRoutes('probe', PROBE);
  redis = await startRedis();
  chatd = await startChatd({ luaDir: dir, env: { SPRING_DATA_REDIS_PORT: String(redis.port), CHAT_KAFKA_ENABLED: '0',
    CHAT_REDIS_TIMEOUT_MS: '500' } });
});
after(async () => {
  await chatd?.stop();
  await redis?.stop();
});

test('every reply in its place; an error reply fails only its own command', async () => {
  const res = await api(chatd.url, 'GET', '/probe/pipeline?key=probe:a');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json['1'], 'OK');
  assert.equal(res.json['2'], 6);
  assert.equal(res.json['3'], '6');
  assert.equal(res.json['4'], 2);
  assert.equal(res.json['5'], null, 'INCR on a list has no reply');
  assert.equal(res.json['6'], 'nil', 'a nil reply is chat.null');
  assert.deepEqual(res.json['7'], ['a', 'b']);
  assert.equal(res.json.errors.count, 1);
  assert.match(res.json.errors['5'], /^WRONGTYPE/);
  assert.equal(redis.cli('GET', 'probe:a'), '6', 'the commands ran on Redis, in order');
});

test('a command of 252 arguments, numbers among them, goes whole', async () => {
  const res = await api(chatd.url, 'GET', '/probe/wide');
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json, { pushed: 250, length: 250, errors: null });
  assert.equal(redis.cli('LINDEX', 'probe:wide', '249'), '250');
});

test('with Redis stopped every command fails with a message, and the handler answers', async () => {
  const port = redis.port;
  await redis.stop();
  try {
    const res = await api(chatd.url, 'GET', '/probe/down');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.replies, 0);
    assert.equal(typeof res.json.first, 'string');
    assert.equal(typeof res.json.second, 'string');
  } finally {
    redis = await startRedis({ port });
  }
});
