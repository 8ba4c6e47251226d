--[[ Delivery of stored messages across instances (CONTRACT §5): every instance publishes
what it stored on Redis chat:messages, as the original's Jackson writes it, and delivers
what any instance published to its own subscribers of the room.

  delivery.deliver(msg)                a stored message (chat/domain/messages.lua's table)
  delivery.redis_message(channel, payload), delivery.redis_channels,
  delivery.redis_room_channels, delivery.redis_room_prefix
  delivery.unwrap(payload)             the plain ChatMessagePublish object of a payload
  delivery.message_json(msg)           that plain object for a stored message (what
                                       subscribers get, live or replayed)
  delivery.topic(room_id)              the room's STOMP destination
  delivery.flush_unpublished()         publishes what could not be published (redis_restored)

With CHAT_REDIS_PUBSUB=sharded a room's events go on its own channels instead
(chat:messages:{7}, chat:presence:{7}, ...: redis_room_channels), which the core subscribes
to while this instance has subscribers to one of the room's destinations (under
redis_room_prefix), on the Redis Cluster shard owning the room (docs/redis-cluster.md).

Each chat message is broadcast with its id, so the C core gives a destination each message
once, and can hold live ones while missed ones are replayed (chat/stomp/resume.lua). ]]

local chat = require "chat.core"
local json = require "chat.lib.json"
local presence = require "chat.domain.presence"
local read_marks = require "chat.domain.read_marks"
local throttled_log = require "chat.lib.throttled_log"
local typing = require "chat.domain.typing"

local fmt = string.format
local mtype = math.type

local M = {}

M.MESSAGES_CHANNEL = "chat:messages"
M.PUBLISH_CLASS = "com.grow.chat.dto.ChatMessagePublish"

-- ChatMessagePublish, fields in the original's order, written in one format (the generic
-- encoder was a quarter of a stored message's Lua work). On chat:messages it goes as the
-- original writes it (CONTRACT §5): Jackson's default typing wraps the object in an array
-- after its class name.
local MESSAGE_FORMAT = '{"chatRoomId":%d,"id":%d,"senderId":%d,'
  .. '"senderNickname":%s,"content":%s,"messageType":%s,"createdAt":%s}'
local PUBLISH_PREFIX = '["' .. M.PUBLISH_CLASS .. '",'

function M.message_json(msg)
  return fmt(MESSAGE_FORMAT, msg.chatRoomId, msg.id, msg.senderId, json.quote_or_null(msg.senderNickname),
    json.quote_or_null(msg.content), json.quote(msg.messageType), json.quote(msg.createdAt))
end

function M.topic(room_id) return fmt("/topic/chatroom/%d", room_id) end

-- The plain ChatMessagePublish object of a message published in any form a pod of the fleet
-- uses: the wrapper array (the original, and chatd now), an object with "@class" first
-- (earlier chatd), or a plain object. STOMP clients always get the plain object.
function M.unwrap(payload)
  local inner = payload:match('^%[%s*"[%w_%.%$]+"%s*,%s*({.*})%s*%]%s*$')
  if inner then return inner end
  local rest = payload:match('^{%s*"@class"%s*:%s*"[^"]*"%s*,%s*(.*)$')
  if rest then return "{" .. rest end
  return payload
end

-- The room a plain message is for and its id. Every instance reads every message, so the
-- common shape (chatRoomId then id first, as both services write it) is read without a
-- full JSON decode; anything else is decoded. Nil for a malformed message; the id is nil
-- when the message has none (it is then delivered without the once-only guard).
local function room_and_id(message)
  local room, id = message:match('^{"chatRoomId":(%d+),"id":(%d+),')
  if room then return math.tointeger(tonumber(room)), math.tointeger(tonumber(id)) end
  local msg = json.decode(message)
  if type(msg) == "table" and mtype(msg.chatRoomId) == "integer" then
    return msg.chatRoomId, mtype(msg.id) == "integer" and msg.id > 0 and msg.id or nil
  end
end

-- A JOIN or LEAVE changes who is present. A quoted key cannot occur inside a JSON string
-- (its quotes would be escaped there), so a plain search is exact for both services' output.
local function changes_presence(message)
  return message:find('"messageType":"JOIN"', 1, true) ~= nil or message:find('"messageType":"LEAVE"', 1, true) ~= nil
end

-- Delivers a plain message to this instance's subscribers of its room. After a JOIN or
-- LEAVE, whichever kind of pod stored it, the room's presence list follows it (the
-- original pushes its list only to its own subscribers, so this is how chatd's learn
-- of joins on original pods).
local function deliver_locally(room, id, message)
  local delivered = chat.stomp.broadcast(M.topic(room), message, nil, id)
  if changes_presence(message) then presence.push_local(room) end
  return delivered
end

-- Messages whose publish failed (Redis down, or this instance cut off from it) were
-- delivered to this instance's subscribers only; they are published again, oldest first,
-- once Redis answers (the next publish that works, or redis_restored), so other instances
-- and original pods deliver them late rather than never. This instance's own copies that
-- then come back through its subscription are skipped: it delivered them already.
M.OUTBOX_MAX = 10000
local outbox, outbox_head, outbox_tail = {}, 1, 0
local flushing = false
local echoes, ECHO_TTL = {}, 60 -- id -> until when a copy coming back is this instance's own

local function queue_unpublished(id, room, payload)
  if outbox_tail - outbox_head + 1 >= M.OUTBOX_MAX then
    chat.log.warn("more than %d messages could not be published: message %d will not reach other instances live",
      M.OUTBOX_MAX, outbox[outbox_head].id)
    outbox[outbox_head] = nil
    outbox_head = outbox_head + 1
  end
  outbox_tail = outbox_tail + 1
  outbox[outbox_tail] = { id = id, room = room, payload = payload }
end

local function forget_old_echoes(now)
  for id, expires in pairs(echoes) do
    if expires < now then echoes[id] = nil end
  end
end

-- Publishes what could not be published, oldest first; stops at the first failure. One
-- task at a time. Returns how many are still waiting.
function M.flush_unpublished()
  if flushing then return outbox_tail - outbox_head + 1 end
  flushing = true
  local now, sent = chat.now(), 0
  forget_old_echoes(now)
  while outbox_head <= outbox_tail do
    local e = outbox[outbox_head]
    echoes[e.id] = now + ECHO_TTL
    if not chat.redis.publish_room(M.MESSAGES_CHANNEL, e.room, e.payload) then
      echoes[e.id] = nil
      break
    end
    outbox[outbox_head] = nil
    outbox_head = outbox_head + 1
    sent = sent + 1
  end
  flushing = false
  local waiting = outbox_tail - outbox_head + 1
  if sent > 0 then
    chat.log.info("published %d message(s) that could not be published while Redis was unavailable%s", sent,
      waiting > 0 and fmt(" (%d still waiting)", waiting) or "")
  end
  return waiting
end

-- Publishes a stored message to every instance; if Redis is down, this instance's own
-- subscribers still get it (the message is stored either way) and it is published later.
-- An outage is logged when it starts, not once per message.
local local_only = false

function M.deliver(msg)
  local message = M.message_json(msg)
  local payload = PUBLISH_PREFIX .. message .. "]"
  if outbox_tail >= outbox_head then M.flush_unpublished() end
  local ok, err = chat.redis.publish_room(M.MESSAGES_CHANNEL, msg.chatRoomId, payload)
  if ok then
    local_only = false
    return
  end
  if not local_only then
    chat.log.warn("Redis publish failed (%s); delivering locally and publishing later", tostring(err))
    local_only = true
  end
  queue_unpublished(msg.id, msg.chatRoomId, payload)
  deliver_locally(msg.chatRoomId, msg.id, message)
end

-- Driven by what other pods send: throttled (chat/lib/throttled_log.lua).
local log_malformed = throttled_log.new("warn")

-- A message from any instance (this one included, through its subscription), on a global
-- channel or a room's own one ("chat:messages:{7}": the same handlers, by the base name).
function M.redis_message(channel, payload)
  if channel:byte(-1) == 125 then channel = channel:match("^(.-):{%d+}$") or channel end -- "}"
  if channel == presence.CHANNEL then return presence.on_redis_message(payload) end
  if channel == read_marks.CHANNEL then return read_marks.on_redis_message(payload) end
  if channel == typing.CHANNEL then return typing.on_redis_message(payload) end
  if channel ~= M.MESSAGES_CHANNEL then return end
  local message = M.unwrap(payload)
  local room, id = room_and_id(message)
  if not room then
    log_malformed("ignoring a malformed message on %s: %s", channel, payload:sub(1, 200))
    return
  end
  if id and echoes[id] then
    echoes[id] = nil
    return
  end
  -- Counted: what sharded Pub/Sub spares an instance (with a global channel, every message
  -- of every room comes here).
  if deliver_locally(room, id, message) == 0 and not chat.stomp.has_subscribers(M.topic(room)) then
    chat.metrics.redis_unrouted()
  end
end

local channels = { M.MESSAGES_CHANNEL, presence.CHANNEL, read_marks.CHANNEL, typing.CHANNEL }
M.redis_room_prefix = "/topic/chatroom/"
if chat.redis.sharded then
  M.redis_channels = {}
  M.redis_room_channels = {}
  for i, ch in ipairs(channels) do M.redis_room_channels[i] = ch .. ":{}" end
else
  M.redis_channels = channels
  M.redis_room_channels = {}
end

return M
