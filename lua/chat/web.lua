--[[ HTTP helpers for handlers: query parameters (percent-decoding, repeated names), JSON
bodies, parameter validation, and Spring Boot's error JSON.

A handler signals an expected failure by returning web.fail(status, message) (or a
module function returns nil, failure); app.http turns it into the error JSON with the
request's path. ]]

local chat = require "chat.core"
local errors = require "chat.errors"
local json = require "chat.json"
local text = require "chat.text"
local throttled_log = require "chat.throttled_log"

local fmt, floor, mtype, tointeger = string.format, math.floor, math.type, math.tointeger
local char, tonumber, type, setmetatable, getmetatable = string.char, tonumber, type, setmetatable, getmetatable

local M = {}

M.REASONS = {
  [200] = "OK", [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden", [404] = "Not Found",
  [405] = "Method Not Allowed", [409] = "Conflict", [413] = "Payload Too Large",
  [415] = "Unsupported Media Type", [500] = "Internal Server Error", [503] = "Service Unavailable",
}

M.JSON_CONTENT_TYPE = "application/json"
M.JSON_HEADERS = { ["Content-Type"] = M.JSON_CONTENT_TYPE }

M.INT32_MAX = 2147483647

-- ---- failures ----

local Failure = { __name = "web.failure" }
Failure.__index = Failure
Failure.__tostring = function(f) return fmt("%d %s", f.status, f.message) end

function M.fail(status, message) return setmetatable({ status = status, message = message }, Failure) end
function M.is_failure(v) return getmetatable(v) == Failure end

-- Whether a chat.pg failure means "PostgreSQL is unreachable" rather than a fault:
-- connection exceptions (class 08), admin shutdown and "cannot connect now".
function M.is_db_unavailable(sqlstate)
  return type(sqlstate) == "string"
    and (sqlstate:sub(1, 2) == "08" or sqlstate == "57P01" or sqlstate == "57P02" or sqlstate == "57P03")
end

-- Every request fails the same way while the database is down: throttled.
local log_db_unavailable = throttled_log.new("warn")

-- Maps a chat.pg error to the failure a client should see: 503 when the database is
-- unavailable, else 500 (logged here, since the client never sees the text).
function M.db_failure(err, sqlstate)
  if M.is_db_unavailable(sqlstate) then
    log_db_unavailable("database unavailable (%s): %s", tostring(sqlstate), tostring(err))
    return M.fail(503, errors.DB_UNAVAILABLE)
  end
  chat.log.error("database error %s: %s", tostring(sqlstate), tostring(err))
  return M.fail(500, errors.INTERNAL)
end

-- ---- the error JSON ----

-- "2025-01-09T14:30:00.123+09:00", as Spring Boot writes its error timestamps: the
-- instant in SPRING_JACKSON_TIME_ZONE (spring.jackson.time-zone, Asia/Seoul in the original).
M.ERROR_TIME_ZONE = chat.config.json_time_zone or "Asia/Seoul"

function M.error_timestamp(now)
  return chat.offsettime(now or chat.now(), M.ERROR_TIME_ZONE)
end

function M.error_body(status, message, path)
  return json.encode(json.object {
    "timestamp", M.error_timestamp(), "status", status, "error", M.REASONS[status] or "Error",
    "message", message, "path", path,
  })
end

function M.error_response(status, message, path, extra_headers)
  local headers = { ["Content-Type"] = M.JSON_CONTENT_TYPE }
  for k, v in pairs(extra_headers or {}) do headers[k] = v end
  return status, M.error_body(status, message, path), headers
end

-- ---- query strings ----

local function hex_byte(h) return char(tonumber(h, 16)) end

-- Percent-decoding; `plus` also turns '+' into a space (query strings, not paths).
-- Returns nil for a malformed escape.
function M.unescape(s, plus)
  if plus then s = s:gsub("%+", " ") end
  if s:find("%%") then
    if s:find("%%%X") or s:find("%%%x%X") or s:find("%%%x?$") then return nil end
    s = s:gsub("%%(%x%x)", hex_byte)
  end
  return s
end

-- Returns { name = { value, ... } } in order of appearance, or nil on a malformed escape.
function M.parse_query(query)
  local params = {}
  for pair in (query or ""):gmatch("[^&]+") do
    local k, v = pair:match("^([^=]*)=?(.*)$")
    k, v = M.unescape(k, true), M.unescape(v, true)
    if k == nil or v == nil then return nil end
    local list = params[k]
    if not list then list = {}; params[k] = list end
    list[#list + 1] = v
  end
  return params
end

-- ---- numbers ----

-- Java's Long.parseLong: an optional sign, decimal digits (leading zeros allowed), the
-- 64-bit range. Returns nil otherwise.
function M.parse_long(s)
  if type(s) ~= "string" then return nil end
  local sign, digits = s:match("^([+-]?)(%d+)$")
  if not digits then return nil end
  digits = digits:gsub("^0+", "")
  if digits == "" then return 0 end
  if #digits > 19 then return nil end
  local n = tonumber((sign == "-" and "-" or "") .. digits)
  -- Out of range, Lua reads the digits as a float: not a long.
  if mtype(n) ~= "integer" then return nil end
  return n
end

local function shown(v)
  if #v > 40 then v = v:sub(1, 40) .. "..." end
  return v
end

-- A long query parameter: the value, the default when absent (or empty, which Spring
-- converts to null), or a 400 failure naming the parameter.
function M.long_param(params, name, default)
  local list = params[name]
  if not list or list[1] == "" then
    if default ~= nil then return default end
    return M.fail(400, fmt(errors.PARAM_MISSING, name))
  end
  local n = M.parse_long(list[1])
  if n == nil then
    return M.fail(400, fmt(errors.PARAM_NOT_LONG, name) .. fmt(", got '%s'", shown(list[1])))
  end
  return n
end

-- An int query parameter (Java int), at least `min`.
function M.int_param(params, name, default, min)
  local list = params[name]
  if not list or list[1] == "" then return default end
  local n = M.parse_long(list[1])
  if n == nil or n > M.INT32_MAX or n < -M.INT32_MAX - 1 then
    return M.fail(400, fmt(errors.PARAM_NOT_INT, name) .. fmt(", got '%s'", shown(list[1])))
  end
  if min and n < min then return M.fail(400, fmt(errors.PARAM_TOO_SMALL, name, min)) end
  return n
end

function M.string_param(params, name)
  local list = params[name]
  if not list then return M.fail(400, fmt(errors.PARAM_MISSING, name)) end
  return list[1]
end

-- A required text: not blank, valid UTF-8, at most max_len characters.
-- `what` is "parameter" or "field" for the message.
function M.check_text(value, name, max_len, what)
  local subject = (what or "parameter") .. " '" .. name .. "'"
  if not value:find("%S") then return M.fail(400, subject .. " must not be blank") end
  local problem = text.problem(value)
  if problem then return M.fail(400, subject .. " " .. problem) end
  local len = utf8.len(value)
  if max_len and len > max_len then
    return M.fail(400, fmt("%s must be at most %d characters", subject, max_len))
  end
  return value
end

-- ---- JSON bodies ----

-- Lenient about the content type (absent, or anything naming JSON, is fine); a type
-- that is clearly something else is 415, as Spring answers.
local function json_content_type(ctype)
  if ctype == nil or ctype == "" then return true end
  local lower = ctype:lower()
  return lower:find("json", 1, true) ~= nil or lower:find("^%s*%*/%*") ~= nil
end

-- The request's JSON object, or a failure.
function M.json_body(req)
  local ctype = req.headers and req.headers["content-type"]
  if not json_content_type(ctype) then return M.fail(415, fmt(errors.CONTENT_TYPE, ctype)) end
  if req.body == nil or not req.body:find("%S") then return M.fail(400, errors.BODY_MISSING) end
  local value, err = json.decode(req.body)
  if value == nil then return M.fail(400, fmt(errors.BODY_MALFORMED, err)) end
  if type(value) ~= "table" or value == json.null or json.is_array(value) then
    return M.fail(400, errors.BODY_NOT_OBJECT)
  end
  return value
end

local function absent(v) return v == nil or v == json.null end

-- A long field of a JSON body, read as Jackson reads a Long: integers, integral floats
-- (1.0) and numeric strings ("1") are accepted; fractions, other strings, booleans,
-- objects and out-of-range numbers are not.
function M.long_field(body, name, required)
  local v = body[name]
  if absent(v) then
    if required then return M.fail(400, fmt(errors.FIELD_MISSING, name)) end
    return nil
  end
  if mtype(v) == "float" and v == floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then v = tointeger(v) end
  if type(v) == "string" then v = M.parse_long(v) end
  if mtype(v) ~= "integer" then return M.fail(400, fmt(errors.FIELD_NOT_LONG, name)) end
  return v
end

-- A string field: strings, and scalars written as text as Jackson coerces them.
function M.string_field(body, name, required, max_len)
  local v = body[name]
  if absent(v) then
    if required then return M.fail(400, fmt(errors.FIELD_MISSING, name)) end
    return nil
  end
  if mtype(v) == "integer" or type(v) == "boolean" then v = tostring(v)
  elseif mtype(v) == "float" then v = json.encode(v) end
  if type(v) ~= "string" then return M.fail(400, fmt(errors.FIELD_NOT_STRING, name)) end
  local problem = text.problem(v)
  if problem then return M.fail(400, fmt("field '%s' %s", name, problem)) end
  local len = utf8.len(v)
  if max_len and len > max_len then
    return M.fail(400, fmt("field '%s' must be at most %d characters", name, max_len))
  end
  return v
end

return M
