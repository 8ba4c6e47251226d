--[[ JSON for the wire contract. Decoding uses lua-dkjson, which keeps Lua 5.4
integers exact (64-bit ids survive, unlike with cjson). Encoding is done here so that
objects keep the field order Jackson writes (clients and tests compare text), via
"ordered objects": arrays of {key, value} pairs built with json.object{...}. ]]

local dkjson = require "dkjson"

local concat, fmt, mtype = table.concat, string.format, math.type

local M = {}

-- The JSON null, distinct from "absent" (nil).
M.null = setmetatable({}, { __tostring = function() return "null" end, __name = "json.null" })

local OBJECT = {}
local ARRAY = {}

-- json.object{ "id", 1, "name", "x" }: keys and values alternate, order kept.
function M.object(kv) return setmetatable(kv, OBJECT) end
-- json.array{...}: encodes as [] even when empty.
function M.array(items) return setmetatable(items, ARRAY) end

local ESCAPES = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}
local function escape_char(c) return ESCAPES[c] or fmt("\\u%04x", c:byte()) end

function M.quote(s)
  return '"' .. s:gsub('[%c"\\]', escape_char) .. '"'
end

local encode_value

local function encode_object(t, out)
  out[#out + 1] = "{"
  for i = 1, #t, 2 do
    if i > 1 then out[#out + 1] = "," end
    out[#out + 1] = M.quote(t[i])
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

-- A plain table: an array when it has only 1..n keys, else an object with sorted keys
-- (deterministic output for documents whose order nobody depends on).
local function encode_plain(t, out)
  local n = #t
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  if count == n and n > 0 then return encode_array(t, out) end
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  local kv = {}
  for _, k in ipairs(keys) do
    kv[#kv + 1] = k
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    kv[#kv + 1] = v
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
      out[#out + 1] = fmt("%.17g", v)
    end
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "table" then
    local mt = getmetatable(v)
    if mt == OBJECT then encode_object(v, out)
    elseif mt == ARRAY then encode_array(v, out)
    else encode_plain(v, out) end
  else
    error("cannot encode a " .. tv .. " as JSON")
  end
end

function M.encode(v)
  local out = {}
  encode_value(v, out)
  return concat(out)
end

-- Kept for callers that build {{key, value}, ...} lists.
function M.encode_ordered(pairs_list)
  local kv = {}
  for _, p in ipairs(pairs_list) do
    kv[#kv + 1] = p[1]
    kv[#kv + 1] = p[2]
  end
  return M.encode(M.object(kv))
end

-- Returns the value, or nil and a reason. JSON null becomes json.null.
function M.decode(text)
  if type(text) ~= "string" then return nil, "not a string" end
  local ok, value, _, err = pcall(dkjson.decode, text, 1, M.null)
  if not ok then return nil, tostring(value) end
  if err then return nil, err end
  if value == nil then return nil, "empty document" end
  return value
end

return M
