-- A fake of the C bindings (chat.core) for unit specs: PostgreSQL answers come from
-- handlers matched by SQL pattern, Redis is an in-memory table, and every call is
-- recorded so specs can assert on what the code asked for.
local M = {}

function M.install()
  local fake = {
    null = setmetatable({}, { __name = "redis.null" }),
    pg_handlers = {},
    pg_calls = {},
    redis_data = {},
    redis_calls = {},
    redis_down = false,
    redis_fail = {},   -- command name -> true: that command fails as a lost connection would
    redis_ttl = {},
    broadcasts = {},
    broadcast_ids = {}, -- the message id each broadcast carried (false: none), in order
    session_sends = {},
    logs = {},
    clock = 1736400600.5,
  }
  local chat = { null = fake.null, config = {
    app_name = "chat-service", db_time_zone = "Asia/Seoul", json_time_zone = "Asia/Seoul",
    mixed_fleet = false,
    access = { auth = "none", trusted_proxies = "127.0.0.1/32", internal_networks = "127.0.0.0/8",
               allowed_origins = "*", jwt_user_claim = "sub", jwt_leeway_s = 30 },
  } }
  -- chat.crypto's address parsing, IPv4 and ::1 only (the rest needs the real C bindings,
  -- tested in tests/c/test_lua_crypto.c and the e2e access suite).
  chat.crypto = {
    inet_pton = function(addr)
      if addr == "::1" then return ("\0"):rep(15) .. "\1" end
      local a, b, c, d = tostring(addr):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
      if not a then return nil end
      return string.char(tonumber(a), tonumber(b), tonumber(c), tonumber(d))
    end,
    equal = function(a, b) return a == b end,
  }
  -- chat.json's decoder factory (core/lua_api_json.c) on lua-dkjson, with the same options
  -- and answers for valid JSON; the strict C decoder is tested in tests/c/test_json_decode.c
  -- and fuzzed against jansson (tests/fuzz/fuzz_json.c).
  chat.json = {
    decoder = function(opts)
      local dkjson = require "dkjson"
      return function(text)
        local ok, value, pos, err = pcall(dkjson.decode, text, 1, opts.null, opts.object, opts.array)
        if not ok then return nil, tostring(value) end
        if value == nil then return nil, err or "no JSON value" end
        local extra = pos and text:find("%S", pos)
        if extra then return nil, ("unexpected characters after the JSON value at position %d"):format(extra) end
        return value
      end
    end,
  }
  fake.refused_origins = {}
  function chat.origin_allowed(origin) return not fake.refused_origins[origin] end
  chat.log = {}
  for _, level in ipairs { "debug", "info", "warn", "error" } do
    chat.log[level] = function(fmt, ...) fake.logs[#fake.logs + 1] = { level, fmt:format(...) } end
  end
  function chat.now() return fake.clock end
  -- The process's zone is UTC here; of the named zones the fake knows fixed ones only.
  local ZONES = { ["Asia/Seoul"] = 9 * 3600, UTC = 0, ["America/Sao_Paulo"] = -3 * 3600 }
  local function zone_offset(zone)
    if zone == nil then return 0 end
    return assert(ZONES[zone], "fake chat: unknown zone " .. tostring(zone))
  end
  function chat.localtime(t, zone)
    t = t + zone_offset(zone)
    local secs = math.floor(t)
    local frac = t - secs
    local s = os.date("!%Y-%m-%dT%H:%M:%S", secs)
    if frac > 0 then s = s .. (("%.6f"):format(frac):sub(2):gsub("0+$", "")) end
    return s
  end
  function chat.offsettime(t, zone)
    local offset = zone_offset(zone)
    local local_t = t + offset
    local secs = math.floor(local_t)
    local millis = math.floor((local_t - secs) * 1000)
    return os.date("!%Y-%m-%dT%H:%M:%S", secs)
      .. ("%s.%03d%s%02d:%02d"):format("", millis, offset < 0 and "-" or "+", math.abs(offset) // 3600,
                                      math.abs(offset) % 3600 // 60)
  end
  fake.stopping = false
  function chat.stopping() return fake.stopping end
  function chat.health() return { pg = { connected = 1, size = 4 }, redis = { connected = not fake.redis_down } } end
  function chat.sleep() end
  fake.stored = {}
  fake.denied = {}
  fake.history_cache = {}
  fake.send_outcomes = {}
  fake.dead_letters = {}
  chat.metrics = {
    render = function() return "# fake metrics\n" end,
    message_stored = function(kind) fake.stored[#fake.stored + 1] = kind end,
    access_denied = function(reason) fake.denied[#fake.denied + 1] = reason end,
    history_cache = function(outcome) fake.history_cache[#fake.history_cache + 1] = outcome end,
    redis_unrouted = function() fake.unrouted = (fake.unrouted or 0) + 1 end,
    send_failed = function(outcome) fake.send_outcomes[#fake.send_outcomes + 1] = outcome end,
    dead_letter = function(topic) fake.dead_letters[#fake.dead_letters + 1] = topic end,
  }

  chat.pg = {}
  function chat.pg.query(sql, ...)
    fake.pg_calls[#fake.pg_calls + 1] = { sql = sql, params = table.pack(...) }
    for _, h in ipairs(fake.pg_handlers) do
      if sql:find(h.pattern) then return h.fn(table.pack(...), sql) end
    end
    error("fake pg: no handler for SQL: " .. sql)
  end
  function chat.pg.transaction(fn) return fn({ query = chat.pg.query }) end
  -- As core/pg_array.c writes it.
  function chat.pg.array(list, field)
    local out = {}
    for i, e in ipairs(list) do
      local v = field and e[field] or not field and e or nil
      out[i] = v == nil and "NULL" or '"' .. (tostring(v):gsub('[\\"]', "\\%0")) .. '"'
    end
    return "{" .. table.concat(out, ",") .. "}"
  end
  -- The newest handler whose Lua pattern is found in the SQL answers: fn(params, sql)
  -- returns what chat.pg.query returns (rows, or nil, message, sqlstate).
  function fake.on_sql(pattern, fn) table.insert(fake.pg_handlers, 1, { pattern = pattern, fn = fn }) end
  -- Every statement fails with that SQLSTATE (e.g. "08006": PostgreSQL is unreachable).
  function fake.pg_down(state)
    fake.on_sql("", function() return nil, "connection refused", state or "08006" end)
  end
  -- The SQL of every recorded call, for assertions on what was asked.
  function fake.sql_log()
    local out = {}
    for i, c in ipairs(fake.pg_calls) do out[i] = c.sql end
    return out
  end

  chat.redis = {}
  function chat.redis.call(cmd, ...)
    local args = { ... }
    fake.redis_calls[#fake.redis_calls + 1] = { cmd, table.unpack(args) }
    if fake.redis_down or fake.redis_fail[cmd] then return nil, "Redis is unavailable" end
    local d = fake.redis_data
    if cmd == "GET" then return d[args[1]] or fake.null end
    if cmd == "SET" then
      d[args[1]] = tostring(args[2])
      fake.redis_ttl[args[1]] = (args[3] == "EX") and args[4] or nil
      return "OK"
    end
    if cmd == "PING" then return "PONG" end
    if cmd == "INFO" then return "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n" end
    if cmd == "DEL" then d[args[1]] = nil; return 1 end
    if cmd == "INCR" then d[args[1]] = tostring((tonumber(d[args[1]]) or 0) + 1); return tonumber(d[args[1]]) end
    if cmd == "MGET" then
      local out = {}
      for i, k in ipairs(args) do out[i] = d[k] or fake.null end
      return out
    end
    if cmd == "PUBLISH" or cmd == "SPUBLISH" then return 1 end
    -- Hashes: a table value holds fields and values as one flat list, as HGETALL answers.
    if cmd == "HGETALL" then
      local h = d[args[1]]
      return type(h) == "table" and table.move(h, 1, #h, 1, {}) or {}
    end
    if cmd == "HGET" then
      local h = d[args[1]]
      if type(h) == "table" then
        for i = 1, #h, 2 do if h[i] == args[2] then return h[i + 1] end end
      end
      return fake.null
    end
    return "OK"
  end
  -- As chatd's: every command through the fake's call, in order.
  function chat.redis.pipeline(commands)
    local replies, errs = {}, nil
    for i, c in ipairs(commands) do
      local reply, err = chat.redis.call(table.unpack(c))
      if reply == nil then
        errs = errs or {}
        errs[i] = err
      else
        replies[i] = reply
      end
    end
    return replies, errs
  end
  function chat.redis.publish(ch, payload) return chat.redis.call("PUBLISH", ch, payload) end
  -- CHAT_REDIS_PUBSUB as chat.core reads it: a spec sets fake.chat.redis.sharded = true.
  chat.redis.sharded = false
  function chat.redis.room_channel(ch, room_id) return string.format("%s:{%d}", ch, room_id) end
  function chat.redis.publish_room(ch, room_id, payload)
    if chat.redis.sharded then return chat.redis.call("SPUBLISH", chat.redis.room_channel(ch, room_id), payload) end
    return chat.redis.call("PUBLISH", ch, payload)
  end
  -- The payloads PUBLISHed (or SPUBLISHed) on a channel, in order; whether a command was sent at all.
  function fake.published(channel)
    local out = {}
    for _, c in ipairs(fake.redis_calls) do
      if (c[1] == "PUBLISH" or c[1] == "SPUBLISH") and c[2] == channel then out[#out + 1] = c[3] end
    end
    return out
  end
  function fake.redis_called(cmd)
    for _, c in ipairs(fake.redis_calls) do if c[1] == cmd then return true end end
    return false
  end

  chat.kafka = { state = function() return nil end, produce = function() return true end }
  chat.stomp = {
    broadcast = function(dest, body, headers, message_id)
      fake.broadcasts[#fake.broadcasts + 1] = { dest = dest, body = body, headers = headers }
      fake.broadcast_ids[#fake.broadcast_ids + 1] = message_id or false
      return (fake.unsubscribed and fake.unsubscribed[dest]) and 0 or 1
    end,
    -- Destinations a spec says have no local subscriber: fake.unsubscribed[dest] = true.
    has_subscribers = function(dest) return not (fake.unsubscribed and fake.unsubscribed[dest]) end,
    send_to_session = function(sid, dest, body, headers)
      fake.session_sends[#fake.session_sends + 1] = { sid = sid, dest = dest, body = body, headers = headers }
      return 1
    end,
  }

  -- Fresh modules for every spec, built on this fake.
  for name in pairs(package.loaded) do
    if name:match("^chat") then package.loaded[name] = nil end
  end
  package.loaded["chat.core"] = chat
  fake.chat = chat
  return fake
end

-- Calls app.http as the C core does; returns status, the decoded JSON body (nil when
-- empty or not JSON), the headers and the raw body.
function M.request(app, method, path, query, body, headers)
  local req = { method = method, path = path, query = query or "", body = body or "",
                headers = headers or (body and body ~= "" and { ["content-type"] = "application/json" } or {}),
                remote_addr = "127.0.0.1" }
  local status, raw, hdrs = app.http(req)
  local decoded = raw ~= "" and require("chat.lib.json").decode(raw) or nil
  return status, decoded, hdrs, raw
end

return M
