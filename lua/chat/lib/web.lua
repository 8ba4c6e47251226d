--[[ HTTP helpers for REST handlers: query strings (percent-decoding, repeated names),
Java's number parsing, parameters, JSON bodies and their fields, read as Spring reads them.

A helper that reads a value returns it, or nil and an error value of chat/errors.lua
(invalid, or unsupported_media_type for a body that is not JSON); the handler passes the
error on (return nil, err) and the REST layer answers it (chat/routes/error_response.lua). ]]

local errors = require "chat.errors"
local json = require "chat.lib.json"
local text = require "chat.lib.text"

local floor, mtype, tointeger = math.floor, math.type, math.tointeger
local char, tonumber, type = string.char, tonumber, type
local new = errors.new

local M = {}

M.JSON_CONTENT_TYPE = "application/json"
M.JSON_HEADERS = { ["Content-Type"] = M.JSON_CONTENT_TYPE }

M.INT32_MAX = 2147483647

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

-- An echo of a rejected value in an error text: at most 40 bytes.
function M.shown(v)
  if #v > 40 then v = v:sub(1, 40) .. "..." end
  return v
end

-- A long query parameter: the value, the default when absent (or empty, which Spring
-- converts to null), or nil and an error naming the parameter.
function M.long_param(params, name, default)
  local list = params[name]
  if not list or list[1] == "" then
    if default ~= nil then return default end
    return nil, new(errors.PARAM_MISSING, name)
  end
  local n = M.parse_long(list[1])
  if n == nil then return nil, new(errors.PARAM_NOT_LONG, name, M.shown(list[1])) end
  return n
end

-- An int query parameter (Java int), at least `min`.
function M.int_param(params, name, default, min)
  local list = params[name]
  if not list or list[1] == "" then return default end
  local n = M.parse_long(list[1])
  if n == nil or n > M.INT32_MAX or n < -M.INT32_MAX - 1 then
    return nil, new(errors.PARAM_NOT_INT, name, M.shown(list[1]))
  end
  if min and n < min then return nil, new(errors.PARAM_TOO_SMALL, name, min) end
  return n
end

-- Spring's `size` of a Pageable: `default` when absent or empty, at least 1; larger than
-- `max` is served with `max`, as Spring's max-page-size does (and the Page JSON shows it).
function M.page_size(params, default, max)
  local list = params.size
  if not list or list[1] == "" then return default end
  local n = M.parse_long(list[1])
  if n == nil then return nil, new(errors.PARAM_NOT_INT, "size", list[1]:sub(1, 40)) end
  if n < 1 then return nil, new(errors.PARAM_TOO_SMALL, "size", 1) end
  if n > max then return max end
  return n
end

function M.string_param(params, name)
  local list = params[name]
  if not list then return nil, new(errors.PARAM_MISSING, name) end
  return list[1]
end

-- A required text: not blank, valid UTF-8, at most max_len characters.
-- `what` is "parameter" or "field" for the message.
function M.check_text(value, name, max_len, what)
  what = what or "parameter"
  if not value:find("%S") then return nil, new(errors.TEXT_BLANK, what, name) end
  local problem = text.problem(value)
  if problem then return nil, new(errors.TEXT_UNSTORABLE, what, name, problem) end
  if max_len and utf8.len(value) > max_len then return nil, new(errors.TEXT_TOO_LONG, what, name, max_len) end
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

-- The request's JSON object, or nil and an error.
function M.json_body(req)
  local ctype = req.headers and req.headers["content-type"]
  if not json_content_type(ctype) then return nil, new(errors.CONTENT_TYPE, ctype) end
  if req.body == nil or not req.body:find("%S") then return nil, new(errors.BODY_MISSING) end
  local value, err = json.decode(req.body)
  if value == nil then return nil, new(errors.BODY_MALFORMED, err) end
  if type(value) ~= "table" or value == json.null or json.is_array(value) then
    return nil, new(errors.BODY_NOT_OBJECT)
  end
  return value
end

local function absent(v) return v == nil or v == json.null end

-- A long field of a JSON body, read as Jackson reads a Long: integers, integral floats
-- (1.0) and numeric strings ("1") are accepted; fractions, other strings, booleans,
-- objects and out-of-range numbers are not. nil (and no error) for an absent optional one.
function M.long_field(body, name, required)
  local v = body[name]
  if absent(v) then
    if required then return nil, new(errors.FIELD_MISSING, name) end
    return nil
  end
  if mtype(v) == "float" and v == floor(v) and v >= -2 ^ 53 and v <= 2 ^ 53 then v = tointeger(v) end
  if type(v) == "string" then v = M.parse_long(v) end
  if mtype(v) ~= "integer" then return nil, new(errors.FIELD_NOT_LONG, name) end
  return v
end

-- A string field: strings, and scalars written as text as Jackson coerces them.
function M.string_field(body, name, required, max_len)
  local v = body[name]
  if absent(v) then
    if required then return nil, new(errors.FIELD_MISSING, name) end
    return nil
  end
  if mtype(v) == "integer" or type(v) == "boolean" then v = tostring(v)
  elseif mtype(v) == "float" then v = json.encode(v) end
  if type(v) ~= "string" then return nil, new(errors.FIELD_NOT_STRING, name) end
  local problem = text.problem(v)
  if problem then return nil, new(errors.TEXT_UNSTORABLE, "field", name, problem) end
  if max_len and utf8.len(v) > max_len then return nil, new(errors.TEXT_TOO_LONG, "field", name, max_len) end
  return v
end

return M
