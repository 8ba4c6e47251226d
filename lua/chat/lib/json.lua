--[[ JSON for the wire contract.

Decoding: two paths, the same answers for valid JSON.
  In chatd, chat.json.decoder (core/json_decode.c through core/lua_api_json.c) makes the
  decoder: strict RFC 8259 in C, exact 64-bit integers, Lua values made in one go from a
  text checked first (a refused text costs no Lua memory), nesting and memory bounded.
  The busted specs' fake core (tests/lua/fake_chat.lua) builds chat.json.decoder on
  lua-dkjson; where Lua runs with no chat.json at all (fuzz harnesses of other modules),
  dkjson is used directly. dkjson is more lenient (leading zeros, huge integers as
  floats); tests/fuzz/fuzz_json checks the C decoder against jansson instead.
  Either way: JSON null is json.null, objects get the marker DECODED_OBJECT and arrays
  DECODED_ARRAY (json.is_array; the encoder writes them back as {} and []), a repeated
  key keeps its last value, and a text that is not accepted gives nil and a reason.

Encoding is done here so that objects keep the field order Jackson writes (clients and
tests compare text):
  json.object{ "id", 1, "name", "x" }   an ordered object: keys and values alternate
  json.array{ ... }                     an array, encoded as [] even when empty
  plain tables                          1..n keys: an array; otherwise an object with
                                        sorted keys (deterministic); empty: {}
  json.null                             null (distinct from an absent field)
  json.raw(text)                        text that is JSON already, written as it is (a part
                                        built in one string.format, inside a larger value)
Decoded arrays carry the array marker and so encode as [] when empty too. ]]

local concat, fmt, mtype = table.concat, string.format, math.type
local tostring, type, getmetatable, setmetatable = tostring, type, getmetatable, setmetatable

local M = {}

-- The JSON null, distinct from "absent" (nil).
M.null = setmetatable({}, { __tostring = function() return "null" end, __name = "json.null" })

local OBJECT = { __jsontype = "object", __name = "json.object" }
local ARRAY = { __jsontype = "array", __name = "json.array" }
local RAW = { __name = "json.raw" }

function M.object(kv) return setmetatable(kv or {}, OBJECT) end
function M.array(items) return setmetatable(items or {}, ARRAY) end
function M.raw(text) return setmetatable({ text }, RAW) end
function M.is_array(v)
  local mt = type(v) == "table" and getmetatable(v)
  return mt ~= nil and mt ~= false and mt.__jsontype == "array"
end

-- Appends a field to an ordered object (for optional fields).
function M.put(obj, key, value)
  obj[#obj + 1] = key
  obj[#obj + 1] = value
  return obj
end

-- Jackson's escaping: the two mandatory characters and control characters only; other
-- characters, Korean text included, are written as UTF-8.
local ESCAPES = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
local function escape_char(c) return ESCAPES[c] or fmt("\\u%04X", c:byte()) end

local function lua_quote(s)
  return '"' .. s:gsub('[%z\1-\31"\\]', escape_char) .. '"'
end
M.quote = lua_quote -- chatd's C one replaces it below, once the core is known

-- A string field that may be absent: its quoted text, or null.
function M.quote_or_null(s) return s == nil and "null" or M.quote(s) end

-- The shortest "%.Ng" that reads back as the same double.
local function float_text(v)
  for digits = 15, 17 do
    local s = fmt("%." .. digits .. "g", v)
    if tonumber(s) == v then return s end
  end
  return fmt("%.17g", v)
end

local encode_value

local function encode_object(t, out)
  out[#out + 1] = "{"
  for i = 1, #t, 2 do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = M.quote(tostring(t[i]))
    out[#out + 1] = ":"
    encode_value(t[i + 1], out)
  end
  out[#out + 1] = "}"
end

local function encode_array(t, out)
  out[#out + 1] = "["
  for i = 1, #t do
    if i > 1 then out[#out + 1] = "," end
    encode_value(t[i], out)
  end
  out[#out + 1] = "]"
end

-- A plain table: an array when it has only the keys 1..n (n > 0), else an object with
-- sorted keys, so output never depends on hash order.
local function encode_plain(t, out)
  local n, count = #t, 0
  for _ in pairs(t) do count = count + 1 end
  if count == n and n > 0 then return encode_array(t, out) end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  local kv = {}
  for _, k in ipairs(keys) do
    kv[#kv + 1] = tostring(k)
    kv[#kv + 1] = t[k]
  end
  return encode_object(kv, out)
end

function encode_value(v, out)
  local tv = type(v)
  if tv == "string" then
    out[#out + 1] = M.quote(v)
  elseif tv == "number" then
    if mtype(v) == "integer" then
      out[#out + 1] = fmt("%d", v)
    elseif v ~= v or v == math.huge or v == -math.huge then
      out[#out + 1] = "null"
    else
      out[#out + 1] = float_text(v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "table" then
    local mt = getmetatable(v)
    if mt == OBJECT then encode_object(v, out)
    elseif mt == RAW then out[#out + 1] = v[1]
    elseif mt and mt.__jsontype == "array" then encode_array(v, out)
    else encode_plain(v, out) end
  else
    error("cannot encode a " .. tv .. " as JSON", 2)
  end
end

function M.encode(v)
  local out = {}
  encode_value(v, out)
  return concat(out)
end

-- For callers that build {{key, value}, ...} lists.
function M.encode_ordered(pairs_list)
  local kv = {}
  for _, p in ipairs(pairs_list) do
    kv[#kv + 1] = p[1]
    kv[#kv + 1] = p[2]
  end
  return M.encode(M.object(kv))
end

-- What decoded values are marked with (a decoded object is unordered: the encoder writes
-- it as a plain table, keys sorted).
local DECODED_OBJECT = { __jsontype = "object" }
local DECODED_ARRAY = { __jsontype = "array" }

-- dkjson, for a Lua without chatd's core; loaded only then (the image does not ship it).
local function dkjson_decoder(null, object_mt, array_mt)
  local dkjson = require "dkjson"
  return function(text)
    local ok, value, pos, err = pcall(dkjson.decode, text, 1, null, object_mt, array_mt)
    if not ok then return nil, tostring(value) end
    if err then return nil, err end
    if value == nil then return nil, "no JSON value" end
    local extra = pos and text:find("%S", pos)
    if extra then return nil, fmt("unexpected characters after the JSON value at position %d", extra) end
    return value
  end
end

-- chatd preloads chat.native, so there the core must load (an error in it is not hidden);
-- elsewhere the core is whatever the harness put in package.loaded, if anything.
local core
if package.preload["chat.native"] or package.loaded["chat.native"] then
  core = require "chat.core"
else
  core = package.loaded["chat.core"]
end
local native_json = type(core) == "table" and core.json or nil
-- The same escaping in C (core/lua_api_json.c), where the core has it.
M.quote = native_json and native_json.quote or lua_quote
-- The same writer in Lua, for a Lua without chatd's core (the busted specs' fake); it
-- needs chat.localtime for "localtime" fields.
local function lua_object_writer(fields)
  local KINDS = {
    integer = function(v) return fmt("%d", v) end,
    string = function(v) return M.quote(tostring(v)) end,
    localtime = function(v) return M.quote(require("chat.core").localtime(v)) end,
  }
  for _, f in ipairs(fields) do assert(KINDS[f[3]], "unknown field kind") end
  return function(rows)
    local objects = {}
    for r, row in ipairs(rows) do
      local parts = {}
      for i, f in ipairs(fields) do
        local v = row[f[2]]
        parts[i] = M.quote(f[1]) .. ":" .. (v == nil and "null" or KINDS[f[3]](v))
      end
      objects[r] = "{" .. concat(parts, ",") .. "}"
    end
    return concat(objects, ","), #objects
  end
end

-- write = json.object_writer{ {json key, row key, kind}, ... }, kind "integer", "string" or
-- "localtime" (seconds since the epoch as chat.localtime writes them); write(rows) returns
-- the rows as JSON objects with those fields in that order, joined by commas, and the row
-- count. An absent field is null. In C (core/lua_api_json.c) where the core has it: what
-- a history page spends most on.
M.object_writer = native_json and native_json.object_writer or lua_object_writer

local decode_text = native_json
  and native_json.decoder { null = M.null, object = DECODED_OBJECT, array = DECODED_ARRAY }
  or dkjson_decoder(M.null, DECODED_OBJECT, DECODED_ARRAY)

-- Returns the value, or nil and a reason ("invalid number at position 12"). JSON null
-- becomes json.null; decoded arrays carry the array marker (json.is_array).
function M.decode(text)
  if type(text) ~= "string" then return nil, "not a string" end
  return decode_text(text)
end

return M
