--[[ Spring Boot Actuator's health endpoints with the real state of the dependencies, the
Prometheus scrape endpoint, and the OpenAPI description (CONTRACT §3, operations). ]]

local chat = require "chat.core"
local json = require "chat.lib.json"
local jwt_keys = require "chat.auth.jwt_keys"
local openapi = require "chat.routes.openapi"

-- A real round trip to PostgreSQL (as Spring's DataSourceHealthIndicator validates a
-- connection); details as Spring Boot writes them.
local function db_health()
  local rows, err = chat.pg.query("SELECT 1 AS ok")
  if rows then
    return true, json.object { "status", "UP", "details", json.object { "database", "PostgreSQL",
      "validationQuery", "isValid()" } }
  end
  return false, json.object { "status", "DOWN", "details", json.object { "error", tostring(err) } }
end

-- On a Redis Cluster any master answers INFO: the cluster is UP only when every slot has a
-- master whose link answers (chat.health), since commands for the others fail.
local function redis_health()
  local info, err = chat.redis.call("INFO", "server")
  if info and chat.config.redis_cluster and not chat.health().redis.connected then
    info, err = nil, "a slot of the Redis Cluster has no reachable master"
  end
  if info then
    local version = info:match("redis_version:([%w%.%-]+)") or "unknown"
    return true, json.object { "status", "UP", "details", json.object { "version", version } }
  end
  return false, json.object { "status", "DOWN", "details", json.object { "error", tostring(err) } }
end

-- The consumer's own view: partitions it owns, records waiting, the last broker error.
-- nil when Kafka is disabled (CHAT_KAFKA_ENABLED=0): then it is not a component.
local function kafka_health()
  local state = chat.kafka and chat.kafka.state and chat.kafka.state()
  if not state then return true, nil end
  local up = state.error == nil or state.assigned > 0
  local details = json.object { "assignedPartitions", state.assigned, "backlog", state.backlog }
  if state.error then details[#details + 1] = "error"; details[#details + 1] = state.error end
  return up, json.object { "status", up and "UP" or "DOWN", "details", details }
end

-- The identity provider's key set (CHAT_JWT_JWKS_URL), when one is configured: DOWN until
-- a set has arrived, since RS256 tokens are refused until then.
local function jwks_health()
  local up, details = jwt_keys.health()
  if up == nil then return true, nil end
  return up, json.object { "status", up and "UP" or "DOWN", "details", details }
end

local function health()
  local db_up, db = db_health()
  local redis_up, redis = redis_health()
  local kafka_up, kafka = kafka_health()
  local jwks_up, jwks = jwks_health()
  local up = db_up and redis_up and kafka_up and jwks_up
  local components = json.object { "db", db, "redis", redis }
  if kafka then components[#components + 1] = "kafka"; components[#components + 1] = kafka end
  if jwks then components[#components + 1] = "jwks"; components[#components + 1] = jwks end
  return up and 200 or 503, json.object { "status", up and "UP" or "DOWN", "components", components }
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

-- Prometheus text format 0.0.4; every metric is kept and rendered by the C core
-- (core/metrics.c), whose counters the hot paths bump without calling Lua.
local PROMETHEUS_HEADERS = { ["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8" }
local function prometheus() return 200, chat.metrics.render(), PROMETHEUS_HEADERS end

return {
  ["/actuator/health"] = { GET = health },
  ["/actuator/health/liveness"] = { GET = liveness },
  ["/actuator/health/readiness"] = { GET = readiness },
  ["/actuator/prometheus"] = { GET = prometheus },
  ["/v3/api-docs"] = { GET = api_docs },
}
