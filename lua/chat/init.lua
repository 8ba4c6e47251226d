--[[ The application: what the C core calls. See lua/chat/core.lua for the API the
scripts use, and shared/DESIGN.md §2 for the model.

  app.validate()                 on load and on every reload; raising rejects the scripts
  app.http(req)                  -> status, body, headers   (one coroutine per request)
  app.stomp_subscribe / stomp_send / stomp_disconnect       (chat/messaging.lua)
  app.redis_message(channel, payload), app.redis_channels
  app.kafka_record(record) -> true once handled or dead-lettered, app.kafka_topics ]]

local chat = require "chat.core"
local events = require "chat.events"
local messaging = require "chat.messaging"
local router = require "chat.router"
local web = require "chat.web"

local ROUTE_MODULES = { "chat.routes.rooms", "chat.routes.messages", "chat.routes.actuator" }

local routes = {}
for _, name in ipairs(ROUTE_MODULES) do
  for _, route in ipairs(require(name)) do routes[#routes + 1] = route end
end
local compiled = router.compile(routes)

local app = {}

function app.validate()
  assert(#compiled > 0, "no HTTP routes")
  for _, entry in ipairs { "http", "stomp_send", "stomp_subscribe", "stomp_disconnect", "redis_message",
                           "kafka_record" } do
    assert(type(app[entry]) == "function", "app." .. entry .. " is missing")
  end
end

local function error_response(status, message, path, extra)
  local headers = { ["Content-Type"] = "application/json" }
  for k, v in pairs(extra or {}) do headers[k] = v end
  return status, web.error_body(status, message, path), headers
end

local function dispatch(req)
  local handler, params, extra = router.match(compiled, req.method, req.path)
  if not handler then return error_response(params.status, params.message, req.path, extra) end
  req.path_params = params
  req.params = web.parse_query(req.query)
  if not req.params then return error_response(400, "malformed query string", req.path) end
  local status, body, headers = handler(req)
  if web.is_failure(status) then return error_response(status.status, status.message, req.path) end
  if type(body) ~= "string" then
    return status, require("chat.json").encode(body), headers or web.JSON_HEADERS
  end
  return status, body, headers or (body ~= "" and web.JSON_HEADERS or {})
end

function app.http(req)
  local ok, status, body, headers = xpcall(dispatch, debug.traceback, req)
  if not ok then
    chat.log.error("%s %s failed: %s", req.method, req.path, tostring(status))
    return error_response(500, "internal server error", req.path)
  end
  return status, body, headers
end

app.stomp_subscribe = messaging.subscribe
app.stomp_send = messaging.send
app.stomp_disconnect = messaging.disconnect
app.redis_message = messaging.redis_message
app.redis_channels = messaging.redis_channels
app.kafka_record = events.record
app.kafka_topics = events.topic_names()

return app
