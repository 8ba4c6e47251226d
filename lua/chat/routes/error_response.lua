--[[ What a failure looks like over REST: the HTTP status of each kind of error value
(chat/errors.lua), in one table, and Spring Boot's error JSON around the error's text.

  status = error_response.status(err)
  status, body, headers = error_response.of(err, path[, extra_headers])
  status, body, headers = error_response.response(status, message, path[, extra_headers])

The STOMP and Kafka counterparts are chat/stomp/error_report.lua and chat/events/init.lua. ]]

local chat = require "chat.core"
local json = require "chat.lib.json"
local web = require "chat.lib.web"

local M = {}

-- The one table from an error's kind to the HTTP status a client gets.
M.STATUS = {
  invalid = 400,
  unauthenticated = 401,
  forbidden = 403,
  not_found = 404,
  method_not_allowed = 405,
  conflict = 409,
  unsupported_media_type = 415,
  internal = 500,
  unavailable = 503,
}

M.REASONS = {
  [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
  [415] = "Unsupported Media Type", [500] = "Internal Server Error", [503] = "Service Unavailable",
}

function M.status(err) return M.STATUS[err.kind] or 500 end

-- "2025-01-09T14:30:00.123+09:00", as Spring Boot writes its error timestamps: the
-- instant in SPRING_JACKSON_TIME_ZONE (spring.jackson.time-zone, Asia/Seoul in the original).
M.ERROR_TIME_ZONE = chat.config.json_time_zone or "Asia/Seoul"

function M.timestamp(now)
  return chat.offsettime(now or chat.now(), M.ERROR_TIME_ZONE)
end

function M.body(status, message, path)
  return json.encode(json.object {
    "timestamp", M.timestamp(), "status", status, "error", M.REASONS[status] or "Error",
    "message", message, "path", path,
  })
end

function M.response(status, message, path, extra_headers)
  local headers = { ["Content-Type"] = web.JSON_CONTENT_TYPE }
  for k, v in pairs(extra_headers or {}) do headers[k] = v end
  return status, M.body(status, message, path), headers
end

-- An error value as the answer to a request for `path`. A refusal that names the scheme to
-- authenticate with (err.details.challenge, chat/auth/access.lua) carries it as
-- WWW-Authenticate (RFC 6750).
function M.of(err, path, extra_headers)
  local challenge = err.details and err.details.challenge
  if challenge then
    local headers = { ["WWW-Authenticate"] = challenge }
    for k, v in pairs(extra_headers or {}) do headers[k] = v end
    extra_headers = headers
  end
  return M.response(M.status(err), err.text, path, extra_headers)
end

return M
