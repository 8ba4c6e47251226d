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
    broadcasts = {},
    session_sends = {},
    logs = {},
    clock = 1736400600.5,
  }
  local chat = { null = fake.null, config = { app_name = "chat-service" } }
  chat.log = {}
  for _, level in ipairs { "debug", "info", "warn", "error" } do
    chat.log[level] = function(fmt, ...) fake.logs[#fake.logs + 1] = { level, fmt:format(...) } end
  end
  function chat.now() return fake.clock end
  function chat.localtime(t)
    local secs = math.floor(t)
    local frac = t - secs
    local s = os.date("!%Y-%m-%dT%H:%M:%S", secs)
    if frac > 0 then s = s .. (("%.6f"):format(frac):sub(2):gsub("0+$", "")) end
    return s
  end
  function chat.stopping() return false end

  chat.pg = {}
  function chat.pg.query(sql, ...)
    fake.pg_calls[#fake.pg_calls + 1] = { sql = sql, params = table.pack(...) }
    for _, h in ipairs(fake.pg_handlers) do
      if sql:find(h.pattern) then return h.fn(table.pack(...), sql) end
    end
    error("fake pg: no handler for SQL: " .. sql)
  end
  function chat.pg.transaction(fn) return fn({ query = chat.pg.query }) end
  function fake.on_sql(pattern, fn) table.insert(fake.pg_handlers, 1, { pattern = pattern, fn = fn }) end

  chat.redis = {}
  function chat.redis.call(cmd, ...)
    local args = { ... }
    fake.redis_calls[#fake.redis_calls + 1] = { cmd, table.unpack(args) }
    if fake.redis_down then return nil, "Redis is unavailable" end
    local d = fake.redis_data
    if cmd == "GET" then return d[args[1]] or fake.null end
    if cmd == "SET" then d[args[1]] = tostring(args[2]); return "OK" end
    if cmd == "DEL" then d[args[1]] = nil; return 1 end
    if cmd == "INCR" then d[args[1]] = tostring((tonumber(d[args[1]]) or 0) + 1); return tonumber(d[args[1]]) end
    if cmd == "MGET" then
      local out = {}
      for i, k in ipairs(args) do out[i] = d[k] or fake.null end
      return out
    end
    if cmd == "PUBLISH" then return 1 end
    return "OK"
  end
  function chat.redis.publish(ch, payload) return chat.redis.call("PUBLISH", ch, payload) end

  chat.kafka = { state = function() return nil end, produce = function() return true end }
  chat.stomp = {
    broadcast = function(dest, body, headers)
      fake.broadcasts[#fake.broadcasts + 1] = { dest = dest, body = body, headers = headers }
      return 1
    end,
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

return M
