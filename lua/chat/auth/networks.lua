--[[ Address lists such as CHAT_TRUSTED_PROXIES and CHAT_INTERNAL_NETWORKS: comma-separated
addresses or address/prefix (CIDR) entries, IPv4 and IPv6, matched bit by bit.

  nets = networks.parse("10.0.0.0/8, ::1", "CHAT_INTERNAL_NETWORKS")   raises on a bad entry
  networks.contains(nets, "10.1.2.3") -> boolean   (false for anything not an address) ]]

local chat = require "chat.core"

local crypto = chat.crypto
local fmt, type, tointeger = string.format, type, math.tointeger

local M = {}

-- "10.0.0.0/8,::1" -> { { bytes = "\10\0\0\0", bits = 8 }, { bytes = <16 bytes>, bits = 128 } }
function M.parse(list, variable)
  local nets = {}
  for item in (list or ""):gmatch("[^,%s]+") do
    local addr, bits = item:match("^([^/]+)/(%d+)$")
    addr = addr or item
    local bytes = crypto.inet_pton(addr)
    bits = tointeger(tonumber(bits or (bytes and #bytes * 8)))
    if not bytes or not bits or bits > #bytes * 8 then
      error(fmt("%s: '%s' is not an address or address/prefix", variable, item), 0)
    end
    nets[#nets + 1] = { bytes = bytes, bits = bits }
  end
  return nets
end

local function in_network(bytes, net)
  if #bytes ~= #net.bytes then return false end
  local whole, rest = net.bits // 8, net.bits % 8
  if bytes:sub(1, whole) ~= net.bytes:sub(1, whole) then return false end
  if rest == 0 then return true end
  local mask = (0xff << (8 - rest)) & 0xff
  return (bytes:byte(whole + 1) & mask) == (net.bytes:byte(whole + 1) & mask)
end

function M.contains(nets, addr)
  local bytes = type(addr) == "string" and crypto.inet_pton(addr)
  if not bytes then return false end
  for _, net in ipairs(nets) do
    if in_network(bytes, net) then return true end
  end
  return false
end

return M
