--[[ The application: what the C core calls. See lua/chat/core.lua for the API the
scripts use, and shared/DESIGN.md §2 for the model.

  app.validate()                 on load and on every reload, on the main thread, no I/O;
                                 raising rejects the scripts
  app.http(req)                  -> status, body, headers, route   (one coroutine per request;
                                 route: the matched path pattern, the metrics' label)
      req = { method, path (raw), query (raw, "" when none), headers (lower-case names),
              body ("" when none), remote_addr (the peer's address) }
  app.stomp_connect / stomp_subscribe / stomp_send / stomp_disconnect / stomp_catch_up
                                                                        (chat/stomp/)
  app.redis_message(channel, payload), app.redis_channels, app.redis_restored()
  app.redis_room_channels, app.redis_room_prefix    a room's own channels (CHAT_REDIS_PUBSUB=sharded)
  app.kafka_record(record) -> true once handled or dead-lettered, app.kafka_topics

Where things are:
  chat/core.lua      the Lua API (the C bindings)
  chat/errors.lua    every failure: code, kind, client text
  chat/domain/       rooms, members, messages, read marks, presence: the business rules
  chat/routes/       REST: route tables, the OpenAPI document, errors as HTTP answers
  chat/stomp/        STOMP: destinations, delivery across instances, the error queues
  chat/events/       Kafka: topics and their handlers, retries, the dead-letter topic
  chat/auth/         access control: identities, tokens and keys, address lists
  chat/lib/          libraries: JSON, HTTP helpers, routing, PostgreSQL helpers, group
                     commit, text checks, throttled logging ]]

local access = require "chat.auth.access"
local chat = require "chat.core"
local error_response = require "chat.routes.error_response"
local errors = require "chat.errors"
local events = require "chat.events"
local json = require "chat.lib.json"
local openapi = require "chat.routes.openapi"
local router = require "chat.lib.router"
local stomp = require "chat.stomp"
local throttled_log = require "chat.lib.throttled_log"
local web = require "chat.lib.web"

local type, xpcall, traceback = type, xpcall, debug.traceback

-- Route labels when no route pattern applies, as Micrometer names them: bounded words,
-- never the raw path.
local ROUTE_NOT_FOUND, ROUTE_UNKNOWN, ROUTE_PREFLIGHT = "NOT_FOUND", "UNKNOWN", "CORS_PREFLIGHT"

-- One route table per area, each keyed by path then method.
local ROUTE_MODULES = { "chat.routes.rooms", "chat.routes.messages", "chat.routes.actuator" }

local function route_tables()
  local tables = {}
  for i, name in ipairs(ROUTE_MODULES) do tables[i] = require(name) end
  return tables
end

local compiled = router.compile(route_tables())

local app = {}

local ENTRY_POINTS = { "http", "stomp_connect", "stomp_send", "stomp_subscribe", "stomp_disconnect",
                       "stomp_catch_up", "redis_restored", "redis_message", "kafka_record" }

function app.validate()
  -- (tests/integration/reload.test.mjs edits the assert line below: keep its text.)
  local routes = router.compile(route_tables())
  assert(#routes > 0, "no HTTP routes")
  for _, entry in ipairs(ENTRY_POINTS) do
    assert(type(app[entry]) == "function", "app." .. entry .. " is missing")
  end
  -- The OpenAPI document describes exactly the REST API that is routed.
  local documented = json.decode(openapi.document())
  assert(type(documented) == "table" and type(documented.paths) == "table", "the OpenAPI document is malformed")
  for _, route in ipairs(compiled) do
    if route.path:find("^/api/") then
      assert(documented.paths[route.path], "the OpenAPI document lacks " .. route.path)
    end
  end
  for path in pairs(documented.paths) do
    local known = false
    for _, route in ipairs(compiled) do known = known or route.path == path end
    assert(known, "the OpenAPI document describes " .. path .. ", which has no route")
  end
  return true
end

-- A copy of `headers` with `extra` added (handlers may return shared header tables).
local function with_headers(headers, extra)
  if extra == nil or next(extra) == nil then return headers end
  local out = {}
  for k, v in pairs(headers or {}) do out[k] = v end
  for k, v in pairs(extra) do out[k] = v end
  return out
end

local PREFLIGHT_METHODS = "GET, POST, OPTIONS"

-- A refusal by access control (401, 403) leaves a line for whoever audits access: the
-- method, the path (never the query, which may carry a token), the peer and the reason;
-- throttled, since anyone can send refused requests (every refusal is still counted in
-- chatd_access_denied_total).
local log_refusal = throttled_log.new("info")

local function refusal(req, err, extra_headers)
  log_refusal("%s %s from %s refused: %d %s", tostring(req.method), tostring(req.path),
    tostring(req.remote_addr), error_response.status(err), err.text)
  return error_response.of(err, req.path or "/", extra_headers)
end

local REFUSALS = { unauthenticated = true, forbidden = true }

local function dispatch(req)
  local path = req.path or "/"
  req.headers = req.headers or {}
  local cors, refused = access.cors_headers(req)
  if not cors then return refusal(req, refused) end
  if req.method == "OPTIONS" and req.headers["access-control-request-method"] then
    req.route = ROUTE_PREFLIGHT
    return 200, "", with_headers(cors, {
      ["Access-Control-Allow-Methods"] = PREFLIGHT_METHODS,
      ["Access-Control-Allow-Headers"] = req.headers["access-control-request-headers"],
      ["Access-Control-Max-Age"] = "1800",
    })
  end
  local handler, params, extra, route = router.match(compiled, req.method, path)
  req.route = route or ROUTE_NOT_FOUND
  if not handler then return error_response.of(params, path, with_headers(extra, cors)) end
  local denied = access.check_request(req)
  if denied then return refusal(req, denied, cors) end
  req.path_params = params
  req.params = web.parse_query(req.query)
  if not req.params then return error_response.of(errors.new(errors.QUERY_MALFORMED), path, cors) end
  -- A handler answers status, body, headers, or nil and an error value.
  local status, body, headers = handler(req)
  if status == nil then
    if REFUSALS[body.kind] then return refusal(req, body, cors) end
    return error_response.of(body, path, cors)
  end
  if body == nil then body = "" end
  if type(body) ~= "string" then
    body = json.encode(body)
    headers = headers or web.JSON_HEADERS
  end
  headers = with_headers(headers or (body ~= "" and web.JSON_HEADERS or {}), cors)
  if req.method == "HEAD" then body = "" end
  return status, body, headers
end

-- Every request: a handler's expected failures become Spring's error JSON; anything it
-- raises is logged with its traceback and answered 500 without the Lua error text.
function app.http(req)
  local ok, status, body, headers = xpcall(dispatch, traceback, req)
  if not ok then
    chat.log.error("%s %s failed: %s", tostring(req.method), tostring(req.path), tostring(status))
    status, body, headers = error_response.of(errors.new(errors.INTERNAL), req.path or "/")
  end
  return status, body, headers, req.route or ROUTE_UNKNOWN
end

app.stomp_connect = stomp.connect
app.stomp_subscribe = stomp.subscribe
app.stomp_send = stomp.send
app.stomp_disconnect = stomp.disconnect
app.stomp_catch_up = stomp.catch_up
app.redis_restored = stomp.redis_restored
app.redis_message = stomp.redis_message
app.redis_channels = stomp.redis_channels
app.redis_room_channels = stomp.redis_room_channels
app.redis_room_prefix = stomp.redis_room_prefix
app.kafka_record = events.record
app.kafka_topics = events.topic_names()

return app
