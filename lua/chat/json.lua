--[[ JSON for the wire contract.

Decoding uses lua-dkjson, which keeps Lua 5.4 integers exact (64-bit ids survive, unlike
with cjson), and rejects trailing garbage, which dkjson itself ignores. The shape almost
every STOMP SEND and REST body has, a flat object of plain strings and integers, is read
by string patterns first (decode_flat): dkjson's scanner was most of the Lua work of a
stored message. Whatever decode_flat does not take goes to dkjson; tests/fuzz/fuzz_json
checks that the two agree on everything decode_flat takes.

Encoding is done here so that objects keep the field order Jackson writes (clients and
tests compare text):
  json.object{ "id", 1, "name", "x" }   an ordered object: keys and values alternate
  json.array{ ... }                     an array, encoded as [] even when empty
  plain tables                          1..n keys: an array; otherwise an object with
                                        sorted keys (deterministic); empty: {}
  json.null                             null (distinct from an absent field)
Arrays decoded by dkjson keep its `__jsontype = "array"` marker and so encode as [] when
empty too. ]]

local dkjson = require "dkjson"

local concat, fmt, mtype = table.concat, string.format, math.type
local tostring, type, getmetatable, setmetatable = tostring, type, getmetatable, setmetatable

local M = {}

-- The JSON null, distinct from "absent" (nil).
M.null = setmetatable({}, { __tostring = function() return "null" end, __name = "json.null" })

local OBJECT = { __jsontype = "object", __name = "json.object" }
local ARRAY = { __jsontype = "array", __name = "json.array" }

function M.object(kv) return setmetatable(kv or {}, OBJECT) end
function M.array(items) return setmetatable(items or {}, ARRAY) end
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

function M.quote(s)
  return '"' .. s:gsub('[%z\1-\31"\\]', escape_char) .. '"'
end

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

-- `{"k":"v","n":12,...}` without whitespace, escapes, control characters, nesting, or
-- numbers other than integers: the table dkjson would give, else nil (then dkjson reads it).
local find, sub = string.find, string.sub
-- dkjson marks the objects it decodes so; decode_flat's objects are marked the same.
local DECODED_OBJECT = { __jsontype = "object" }

function M.decode_flat(text)
  if sub(text, 1, 1) ~= "{" or sub(text, -1) ~= "}" then return nil end
  local obj, pos, last = setmetatable({}, DECODED_OBJECT), 2, #text
  if last == 2 then return obj end
  while true do
    local _, key_end, key = find(text, '^"([^"\\%c]*)":', pos)
    if not key_end then return nil end
    pos = key_end + 1
    local value, value_end
    if sub(text, pos, pos) == '"' then
      _, value_end, value = find(text, '^"([^"\\%c]*)"', pos)
    else
      _, value_end, value = find(text, "^(%-?%d+)", pos)
      -- Out of int64 range, tonumber gives a float, as dkjson does: left to dkjson.
      value = value and tonumber(value)
      if mtype(value) ~= "integer" then value = nil end
    end
    if value == nil then return nil end
    obj[key] = value
    pos = value_end + 1
    local sep = sub(text, pos, pos)
    if sep == "}" then return pos == last and obj or nil end
    if sep ~= "," then return nil end
    pos = pos + 1
  end
end

-- Any JSON text, through dkjson (decode's way for what decode_flat does not take).
function M.decode_general(text)
  local ok, value, pos, err = pcall(dkjson.decode, text, 1, M.null)
  if not ok then return nil, tostring(value) end
  if err then return nil, err end
  if value == nil then return nil, "no JSON value" end
  if pos and text:find("%S", pos) then
    return nil, fmt("unexpected characters after the JSON value at position %d", text:find("%S", pos))
  end
  return value
end

-- Returns the value, or nil and a reason. JSON null becomes json.null; decoded arrays
-- carry the array marker (json.is_array).
function M.decode(text)
  if type(text) ~= "string" then return nil, "not a string" end
  local flat = M.decode_flat(text)
  if flat then return flat end
  return M.decode_general(text) -- (not `flat or ...`: that would drop the reason)
end

return M
