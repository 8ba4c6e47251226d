--[[ Spring Boot Actuator's health endpoints with the real state of the dependencies, and
the OpenAPI description (CONTRACT §3, operations). ]]

local chat = require "chat.core"
local json = require "chat.json"
local openapi = require "chat.openapi"

local function db_health()
  local rows, err = chat.pg.query("SELECT 1 AS ok")
  if rows then
    return true, json.object { "status", "UP", "details", json.object { "database", "PostgreSQL",
      "validationQuery", "isValid()" } }
  end
  return false, json.object { "status", "DOWN", "details", json.object { "error", tostring(err) } }
end

local function redis_health()
  local info, err = chat.redis.call("INFO", "server")
  if info then
    local version = info:match("redis_version:([%w%.%-]+)") or "unknown"
    return true, json.object { "status", "UP", "details", json.object { "version", version } }
  end
  return false, json.object { "status", "DOWN", "details", json.object { "error", tostring(err) } }
end

local function health()
  local db_up, db = db_health()
  local redis_up, redis = redis_health()
  local up = db_up and redis_up
  return up and 200 or 503, json.object {
    "status", up and "UP" or "DOWN",
    "components", json.object { "db", db, "redis", redis },
  }
end

local function liveness() return 200, json.object { "status", "UP" } end

-- Ready when PostgreSQL answers and no graceful stop has begun: a pod that cannot store
-- messages should get no traffic, one that is stopping should get no new traffic.
local function readiness()
  if chat.stopping() then return 503, json.object { "status", "OUT_OF_SERVICE" } end
  local db_up = db_health()
  if not db_up then return 503, json.object { "status", "OUT_OF_SERVICE" } end
  return 200, json.object { "status", "UP" }
end

local function api_docs() return 200, openapi.document() end

return {
  { "/actuator/health", { GET = health } },
  { "/actuator/health/liveness", { GET = liveness } },
  { "/actuator/health/readiness", { GET = readiness } },
  { "/v3/api-docs", { GET = api_docs } },
}
