--[[ The keys bearer tokens are checked with (CHAT_AUTH=jwt), in the shape chat/auth/jwt.lua's
verify takes: the HS256 secret, a PEM RSA key, the RSA keys of a JWKS file, and those of
the identity provider's set that the C core fetches from CHAT_JWT_JWKS_URL.

  keys = jwt_keys.current()         rebuilt when a new set arrived from the URL
  up, details = jwt_keys.health()   nil when no URL is configured

The files are read when the scripts load (start and every reload, so SIGHUP picks up a
rotated file); an unusable one raises, naming the variable, which rejects the scripts. A
set from the URL that does not parse is logged and the previous keys stay. ]]

local chat = require "chat.core"
local json = require "chat.lib.json"

local crypto = chat.crypto
local fmt, type, tostring = string.format, type, tostring

local M = {}

local config = chat.config.access or {}

local function read_file(path, variable)
  local f, err = io.open(path, "rb")
  if not f then error(fmt("%s: cannot read %s", variable, tostring(err)), 0) end
  local text = f:read("a")
  f:close()
  return text
end

-- The RSA signing keys of a JSON Web Key Set's text: { [kid] = key }, and how many there
-- are. Raises, naming `source`, when the set is unusable.
local function parse_key_set(text, source)
  local set = json.decode(text)
  if type(set) ~= "table" or type(set.keys) ~= "table" then
    error(source .. ": not a JSON Web Key Set (an object with \"keys\")", 0)
  end
  local rsa, count = {}, 0
  for i, jwk in ipairs(set.keys) do
    if type(jwk) == "table" and jwk.kty == "RSA" and (jwk.use == nil or jwk.use == "sig") then
      local key, why = crypto.public_key_jwk(tostring(jwk.n), tostring(jwk.e))
      if not key then error(fmt("%s: key %d: %s", source, i, tostring(why)), 0) end
      rsa[type(jwk.kid) == "string" and jwk.kid or ("#" .. i)] = key
      count = count + 1
    end
  end
  if count == 0 then error(source .. ": no RSA signing key in the set", 0) end
  return rsa, count
end

-- The configuration's secret and files (read now), plus the set from the URL (nil until
-- one arrived).
local function build(remote_rsa)
  local keys = { secret = config.jwt_secret, rsa = {}, rsa_pending = config.jwt_jwks_url ~= nil }
  if config.jwt_public_key_file then
    local key, why = crypto.public_key_pem(read_file(config.jwt_public_key_file, "CHAT_JWT_PUBLIC_KEY_FILE"))
    if not key then error("CHAT_JWT_PUBLIC_KEY_FILE: " .. tostring(why), 0) end
    keys.pem, keys.rsa_default = key, key
  end
  local sets = { remote_rsa }
  if config.jwt_jwks_file then
    sets[#sets + 1] = parse_key_set(read_file(config.jwt_jwks_file, "CHAT_JWT_JWKS_FILE"), "CHAT_JWT_JWKS_FILE")
  end
  local total, only = 0, nil
  for _, rsa in pairs(sets) do
    for kid, key in pairs(rsa) do keys.rsa[kid], total, only = key, total + 1, key end
  end
  -- A token without a kid is fine while there is one key in all.
  if total == 1 and not keys.rsa_default then keys.rsa_default = only end
  return keys
end

local keys = config.auth == "jwt" and build() or nil
local remote_version -- of the CHAT_JWT_JWKS_URL text last looked at
local remote_keys = 0 -- keys in the last set from the URL that parsed

function M.current()
  if not config.jwt_jwks_url then return keys end
  local text, version = chat.jwks(remote_version)
  if text then
    remote_version = version
    local ok, rsa, count = pcall(parse_key_set, text, "CHAT_JWT_JWKS_URL")
    if ok then
      keys, remote_keys = build(rsa), count
    else
      chat.log.warn("%s; keeping the previous keys", rsa)
    end
  end
  return keys
end

-- For /actuator/health: up once a usable set arrived from the URL, and the details.
function M.health()
  if config.auth ~= "jwt" or not config.jwt_jwks_url then return nil end
  M.current()
  local details = json.object { "url", config.jwt_jwks_url, "keys", remote_keys }
  if remote_keys == 0 then json.put(details, "error", "no usable key set fetched yet") end
  return remote_keys > 0, details
end

return M
