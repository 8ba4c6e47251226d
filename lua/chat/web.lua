--[[ HTTP helpers for handlers: query parameters, JSON bodies, Spring Boot's error JSON.
A handler signals an expected failure by returning web.fail(status, message); the
router turns it into the error body with the request's path. ]]

local chat = require "chat.core"
local json = require "chat.json"

local fmt, floor, mtype = string.format, math.floor, math.type

local M = {}

M.REASONS = {
  [200] = "OK", [400] = "Bad Request", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
  [415] = "Unsupported Media Type", [500] = "Internal Server Error", [503] = "Service Unavailable",
}

local JSON_HEADERS = { ["Content-Type"] = "application/json" }
M.JSON_HEADERS = JSON_HEADERS

local INT64_MAX = math.maxinteger

-- A failure value: handlers `return web.fail(404, "...")`.
local Failure = {}
Failure.__index = Failure
function M.fail(status, message) return setmetatable({ status = status, message = message }, Failure) end
function M.is_failure(v) return getmetatable(v) == Failure end

-- Maps a chat.pg error to the status a client should see.
function M.db_failure(err, sqlstate)
  if sqlstate and (sqlstate:sub(1, 2) == "08" or sqlstate == "57P01" or sqlstate == "57P03") then
    return M.fail(503, "database unavailable")
  end
  chat.log.error("database error %s: %s", tostring(sqlstate), tostring(err))
  return M.fail(500, "internal server error")
end

-- "2025-01-09T05:30:00.123+00:00", as Spring Boot writes its error timestamps.
local function utc_timestamp()
  local now = chat.now()
  local secs = floor(now)
  return os.date("!%Y-%m-%dT%H:%M:%S", secs) .. fmt(".%03d+00:00", floor((now - secs) * 1000))
end

function M.error_body(status, message, path)
  return json.encode(json.object {
    "timestamp", utc_timestamp(), "status", status, "error", M.REASONS[status] or "Error",
    "message", message, "path", path,
  })
end

-- ---- query strings ----

local function unescape(s)
  s = s:gsub("+", " ")
  local ok = true
  s = s:gsub("%%(..)", function(h)
    local n = tonumber(h, 16)
    if not n then ok = false; return "" end
    return string.char(n)
  end)
  if not ok then return nil end
  return s
end

-- Returns { name = {values...} } or nil on a malformed escape.
function M.parse_query(query)
  local params = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = unescape(k), unescape(v)
    if k == nil or v == nil then return nil end
    local list = params[k]
    if not list then list = {}; params[k] = list end
    list[#list + 1] = v
  end
  return params
end

-- Java's Long.parseLong: optional sign, decimal digits, 64-bit range.
function M.parse_long(s)
  if type(s) ~= "string" or not s:match("^[+-]?%d+$") or #s > 20 then return nil end
  local n = math.tointeger(tonumber(s))
  if n == nil then return nil end
  -- tonumber overflows to a float for out-of-range values: reject those.
  if mtype(tonumber(s)) ~= "integer" then return nil end
  return n
end

-- A required (or defaulted) long query parameter; returns value or a Failure.
function M.long_param(params, name, default)
  local list = params[name]
  if not list or list[1] == "" then
    if default ~= nil then return default end
    return M.fail(400, fmt("required parameter '%s' is missing", name))
  end
  local n = M.parse_long(list[1])
  if n == nil then return M.fail(400, fmt("parameter '%s' must be a 64-bit integer, got '%s'", name, list[1])) end
  return n
end

function M.string_param(params, name)
  local list = params[name]
  if not list then return M.fail(400, fmt("required parameter '%s' is missing", name)) end
  return list[1]
end

-- ---- JSON bodies ----

function M.json_body(req)
  local ctype = req.headers["content-type"]
  if ctype and not ctype:lower():find("json", 1, true) then
    return M.fail(415, fmt("content type '%s' is not supported; send application/json", ctype))
  end
  if req.body == nil or req.body == "" then return M.fail(400, "request body is missing") end
  local value, err = json.decode(req.body)
  if value == nil then return M.fail(400, "malformed JSON: " .. err) end
  if type(value) ~= "table" or value[1] ~= nil or getmetatable(value) == getmetatable(json.null) then
    return M.fail(400, "the request body must be a JSON object")
  end
  return value
end

-- A long field of a JSON body (integers only, as Jackson reads a Long).
function M.long_field(body, name, required)
  local v = body[name]
  if v == nil or v == json.null then
    if required then return M.fail(400, fmt("field '%s' is required", name)) end
    return nil
  end
  if mtype(v) == "float" and v == floor(v) and v >= -2^53 and v <= 2^53 then v = math.tointeger(v) end
  if mtype(v) ~= "integer" then return M.fail(400, fmt("field '%s' must be a 64-bit integer", name)) end
  return v
end

function M.string_field(body, name, required, max_len)
  local v = body[name]
  if v == nil or v == json.null then
    if required then return M.fail(400, fmt("field '%s' is required", name)) end
    return nil
  end
  if type(v) ~= "string" then return M.fail(400, fmt("field '%s' must be a string", name)) end
  if max_len and utf8.len(v) and utf8.len(v) > max_len then
    return M.fail(400, fmt("field '%s' must be at most %d characters", name, max_len))
  end
  return v
end

M.INT64_MAX = INT64_MAX

return M
