--[[ Who is speaking and what they may do: every access rule of chatd, in one module that
operators can change with a reload (docs/access-control.md). The C core only carries the
credentials here (REST headers, the WebSocket/SockJS handshake, STOMP CONNECT headers) and
keeps the identity this module gives a STOMP session.

CHAT_AUTH (chat.config.access.auth):
  none     no identity: senderId/memberId are taken as sent (the original's behaviour);
           membership rules that need only those ids still hold
  gateway  X-User-Id, believed only from CHAT_TRUSTED_PROXIES
  jwt      a bearer token (Authorization header, STOMP CONNECT header, access_token on the
           handshake URL) verified by chat/auth/jwt.lua

With an identity, ids in requests must be the caller's own, and only active members may
read a room's history, post to it, or subscribe to its topic and presence.
/api/chat/internal/** is for internal networks or CHAT_INTERNAL_TOKEN, in every mode.

The configuration is read when the scripts load (start and every reload); a malformed one
raises, which rejects the scripts. Keys: chat/auth/jwt_keys.lua; address lists:
chat/auth/networks.lua.

A refusal is an error value of chat/errors.lua (unauthenticated, forbidden, or unavailable
when the answer cannot be known yet); the protocol layers word it: REST 401/403/503
(chat/routes/error_response.lua), STOMP "unauthorized: ..." / "forbidden: ..."
(chat/stomp/error_report.lua). ]]

local chat = require "chat.core"
local errors = require "chat.errors"
local jwt = require "chat.auth.jwt"
local jwt_keys = require "chat.auth.jwt_keys"
local membership = require "chat.domain.membership"
local networks = require "chat.auth.networks"
local throttled_log = require "chat.lib.throttled_log"

local crypto = chat.crypto
local type, tostring, tointeger = type, tostring, math.tointeger
local new = errors.new

local M = {}

-- ---- configuration ----

local config = chat.config.access or {}

M.MODE = config.auth or "none"

local TRUSTED_PROXIES = networks.parse(config.trusted_proxies, "CHAT_TRUSTED_PROXIES")
local INTERNAL_NETWORKS = networks.parse(config.internal_networks, "CHAT_INTERNAL_NETWORKS")
local TOKEN_OPTS = {
  issuer = config.jwt_issuer, audience = config.jwt_audience, leeway = config.jwt_leeway_s or 30,
}
local USER_CLAIM = config.jwt_user_claim or "sub"

-- Every refusal is counted (chatd_access_denied_total{reason}); returns its arguments.
local function denied(reason, ...)
  chat.metrics.access_denied(reason)
  return ...
end

-- ---- identities ----

-- A user id as the C core keeps it: decimal digits of a positive 64-bit integer.
local function user_id(v)
  if math.type(v) == "integer" and v > 0 then return tostring(v) end
  if type(v) == "string" and v:match("^%d+$") and #v <= 19 then
    local n = tointeger(tonumber(v))
    if n and n > 0 then return tostring(n) end
  end
  return nil
end

local function bearer(authorization)
  return type(authorization) == "string" and authorization:match("^[Bb]earer%s+(%S+)%s*$") or nil
end

-- user, nil, expires_at (exp plus the leeway; nil when the token has no exp), or nil, err
local function from_token(token)
  local claims, why = jwt.verify(token, jwt_keys.current(), TOKEN_OPTS)
  -- A key the set does not have yet may have been published since the last fetch.
  if why == jwt.UNKNOWN_KEY and config.jwt_jwks_url then chat.jwks_refresh() end
  if not claims then
    -- Not the client's fault: the provider's keys have not been fetched yet.
    if why == jwt.KEYS_UNAVAILABLE then return nil, new(errors.SIGNING_KEYS_UNAVAILABLE, why) end
    return nil, new(errors.TOKEN_REFUSED, why)
  end
  local user = user_id(claims[USER_CLAIM])
  if not user then return nil, new(errors.NO_USER_CLAIM, USER_CLAIM) end
  return user, nil, claims.exp and claims.exp + TOKEN_OPTS.leeway
end

local function from_gateway(header, peer)
  if not header then return nil, new(errors.AUTH_REQUIRED) end
  if not networks.contains(TRUSTED_PROXIES, peer) then return nil, new(errors.UNTRUSTED_GATEWAY) end
  local user = user_id(header)
  if not user then return nil, new(errors.BAD_USER_ID) end
  return user
end

-- The caller of a REST request: user (a decimal string), or nil and why it has none.
-- Never called in mode none.
local function identify_request(req)
  if M.MODE == "gateway" then return from_gateway(req.headers["x-user-id"], req.remote_addr) end
  local token = bearer(req.headers.authorization)
  if not token then return nil, new(errors.AUTH_REQUIRED) end
  return from_token(token)
end

-- STOMP CONNECT (app.stomp_connect): true, the user (nil in mode none) and when the
-- session must end (a token's expiry: the core closes it then with ERROR "unauthorized:
-- token expired"), or nil and the refusal. `handshake`: what the opening HTTP request
-- carried.
local log_refused_connect = throttled_log.new("info")

function M.connect(headers, handshake)
  if M.MODE == "none" then return true, nil end
  local user, err, expires_at
  if M.MODE == "gateway" then
    user, err = from_gateway(handshake.user_id, handshake.peer)
  else
    local token = bearer(headers.Authorization or headers.authorization)
      or bearer(handshake.authorization) or handshake.access_token
    if token then user, err, expires_at = from_token(token) else err = new(errors.AUTH_REQUIRED) end
  end
  if not user then
    -- REST refusals are logged by init.lua; a CONNECT's here, with the peer it came from.
    log_refused_connect("STOMP CONNECT from %s refused: %s", tostring(handshake.peer), err.text)
    return denied("unauthenticated", nil, err)
  end
  return true, user, expires_at
end

-- ---- REST ----

local INTERNAL_PREFIX = "/api/chat/internal/"
local API_PREFIX = "/api/chat/"

local function internal_allowed(req)
  local token = req.headers["x-internal-token"]
  if config.internal_token and token then return crypto.equal(token, config.internal_token) end
  -- Through an ingress or gateway the peer is the proxy, inside the cluster: a request it
  -- forwarded came from outside, whatever the peer address says.
  if req.headers["x-forwarded-for"] or req.headers.forwarded then return false end
  return networks.contains(INTERNAL_NETWORKS, req.remote_addr)
end

-- A bearer token's refusal names the scheme (RFC 6750); REST sends it as WWW-Authenticate.
local BEARER_CHALLENGE = 'Bearer error="invalid_token"'

local function unauthorized(err)
  if M.MODE == "jwt" and err.kind == "unauthenticated" then err:with({ challenge = BEARER_CHALLENGE }) end
  return err
end

-- Before any /api/chat handler: nil when the request may go on (req.user set when there
-- is an identity), or the refusal.
function M.check_request(req)
  local path = req.path or ""
  if path:sub(1, #INTERNAL_PREFIX) == INTERNAL_PREFIX then
    if internal_allowed(req) then return nil end
    return denied("internal", new(errors.INTERNAL_ONLY))
  end
  if M.MODE == "none" or path:sub(1, #API_PREFIX) ~= API_PREFIX then return nil end
  local user, err = identify_request(req)
  if not user then return denied("unauthenticated", unauthorized(err)) end
  req.user = tointeger(tonumber(user))
  return nil
end

-- An id a request names (memberId, userId) must be the caller's own: nil, or a refusal.
function M.own_id(req, id, name)
  if req.user == nil or id == req.user then return nil end
  return denied("forbidden", new(errors.NOT_YOU, name, id, req.user))
end

-- A room's history is for its active members: nil, or room_not_found, a refusal
-- (members_only), or the database's error.
function M.may_read_room(req, room_id)
  if req.user == nil then return nil end
  local row, err = membership.of(room_id, req.user)
  if not row then return err end
  if not row.room then return new(errors.ROOM_NOT_FOUND, room_id) end
  if not row.member then return denied("forbidden", new(errors.MEMBERS_ONLY, "user", req.user, room_id)) end
  return nil
end

-- ---- CORS for the REST API (CHAT_ALLOWED_ORIGINS) ----

-- Headers to add to a REST answer, or nil and a refusal for an origin not allowed.
function M.cors_headers(req)
  local origin = req.headers.origin
  if origin == nil then return {} end
  if not chat.origin_allowed(origin) then return denied("origin", nil, new(errors.CORS_REFUSED)) end
  return { ["Access-Control-Allow-Origin"] = origin, ["Vary"] = "Origin" }
end

-- ---- STOMP ----

-- The id a STOMP frame names (senderId) must be the session's user: nil, or a refusal.
function M.own_sender(user, sender_id)
  if user == nil or tostring(sender_id) == user then return nil end
  return denied("forbidden", new(errors.NOT_YOU, "senderId", tostring(sender_id), user))
end

-- SUBSCRIBE: true, or nil and a refusal (or the database's error). Without a user (mode
-- none) every known destination is open, as in the original.
function M.may_subscribe(user, destination)
  if user == nil then return true end
  local room = destination:match("^/topic/chatroom/(%d+)$") or destination:match("^/topic/chatroom/(%d+)/presence$")
    or destination:match("^/topic/chatroom/(%d+)/read$") or destination:match("^/topic/chatroom/(%d+)/typing$")
  if room then
    room = tointeger(tonumber(room)) or 0
    local member = tointeger(tonumber(user))
    local row, err = membership.of(room, member)
    if not row then return nil, err end
    if row.member then return true end
    return denied("forbidden", nil, new(errors.MEMBERS_ONLY, "user", member, room))
  end
  local other = destination:match("^/user/(%d+)/queue/errors$")
  if other and other ~= user then
    return denied("forbidden", nil, new(errors.FOREIGN_ERROR_QUEUE, user, other))
  end
  return true
end

return M
