--[[ JSON Web Tokens (RFC 7519) in compact form, signed HS256 or RS256: everything chatd
checks before it believes one. The crypto is C's (chat.crypto); this module decides what
a valid token is, so operators can read and change it.

  claims, reason = jwt.verify(token, keys, opts)
      keys = { secret = "..." (HS256), rsa = { [kid] = key, ... } (a key set),
               pem = key (a key without a kid), rsa_default = key (for tokens without a kid),
               rsa_pending = true (keys are expected from a URL but none arrived yet) }
      opts = { issuer = "...", audience = "...", leeway = seconds, now = seconds }
  Refused: any alg but the two (never "none"), HS256 without a secret, RS256 without a
  matching RSA key (so an RSA public key can never be used as an HMAC secret), a bad
  signature, exp/nbf outside the leeway, a different iss or aud when they are configured. ]]

local chat = require "chat.core"
local json = require "chat.lib.json"

local crypto = chat.crypto
local type, mtype = type, math.type

local M = {}

M.MALFORMED = "malformed token"
M.ALGORITHM = "token algorithm is not accepted"
M.UNKNOWN_KEY = "token key is unknown"
M.SIGNATURE = "token signature is invalid"
M.EXPIRED = "token expired"
M.NOT_YET = "token not valid yet"
M.ISSUER = "token issuer is not accepted"
M.AUDIENCE = "token audience is not accepted"
M.KEYS_UNAVAILABLE = "token signing keys are not available yet"

-- Tokens are small; a huge one is an attack on the decoder, refused before any work.
local MAX_TOKEN_BYTES = 8192

local function decode_part(part)
  local raw = crypto.b64url_decode(part)
  if not raw then return nil end
  local value = json.decode(raw)
  if type(value) ~= "table" or json.is_array(value) then return nil end
  return value
end

-- A token's kid must name a key of the set; a PEM key has no kid and serves any token;
-- a token without a kid gets the default (the PEM key, or a set's only key).
local function rsa_key(keys, kid)
  if kid == nil then return keys.rsa_default end
  return type(kid) == "string" and keys.rsa and keys.rsa[kid] or keys.pem
end

-- true, or nil and why the signature does not hold.
local function signature_ok(header, signed, signature, keys)
  local valid
  if header.alg == "HS256" then
    if not keys.secret then return nil, M.ALGORITHM end
    valid = crypto.equal(crypto.hmac_sha256(keys.secret, signed), signature)
  elseif header.alg == "RS256" then
    -- (rsa_default is set whenever there is a PEM key or a set of one.)
    if not keys.rsa_default and not next(keys.rsa or {}) then
      return nil, keys.rsa_pending and M.KEYS_UNAVAILABLE or M.ALGORITHM
    end
    local key = rsa_key(keys, header.kid)
    if not key then return nil, M.UNKNOWN_KEY end
    valid = crypto.verify_rs256(key, signed, signature)
  else
    return nil, M.ALGORITHM
  end
  if valid then return true end
  return nil, M.SIGNATURE
end

local function is_time(v) return mtype(v) ~= nil end

local function audience_ok(aud, wanted)
  if aud == wanted then return true end
  if type(aud) == "table" then
    for _, a in ipairs(aud) do if a == wanted then return true end end
  end
  return false
end

local function claims_ok(claims, opts)
  local now, leeway = opts.now or chat.now(), opts.leeway or 0
  if claims.exp ~= nil and (not is_time(claims.exp) or now - leeway > claims.exp) then
    return nil, is_time(claims.exp) and M.EXPIRED or M.MALFORMED
  end
  if claims.nbf ~= nil and (not is_time(claims.nbf) or now + leeway < claims.nbf) then
    return nil, is_time(claims.nbf) and M.NOT_YET or M.MALFORMED
  end
  if opts.issuer and claims.iss ~= opts.issuer then return nil, M.ISSUER end
  if opts.audience and not audience_ok(claims.aud, opts.audience) then return nil, M.AUDIENCE end
  return true
end

function M.verify(token, keys, opts)
  if type(token) ~= "string" or #token > MAX_TOKEN_BYTES then return nil, M.MALFORMED end
  local h64, p64, s64 = token:match("^([%w_%-]+)%.([%w_%-]+)%.([%w_%-]*)$")
  if not h64 then return nil, M.MALFORMED end
  local header, claims, signature = decode_part(h64), decode_part(p64), crypto.b64url_decode(s64)
  if not header or not claims or not signature then return nil, M.MALFORMED end
  local ok, why = signature_ok(header, h64 .. "." .. p64, signature, keys)
  if not ok then return nil, why end
  ok, why = claims_ok(claims, opts or {})
  if not ok then return nil, why end
  return claims
end

return M
