--[[ Real-time messaging over STOMP (CONTRACT §4, §5): what the C core calls for STOMP
sessions, through the app table (see chat/init.lua):

  stomp_connect(session_id, headers, handshake)        -> true, user | nil, reason (ERROR frame)
  stomp_subscribe(session_id, destination, user, last_message_id)
                                                      -> true[, replay] | nil, reason (ERROR frame)
      last_message_id: the SUBSCRIBE header's text (a resume, chat/stomp/resume.lua), nil without
  stomp_catch_up(floors, since)                       -> frames | nil, err   after a Redis outage
  redis_restored()                                    the command link to Redis answers again
  stomp_send(session_id, destination, headers, body, user)
                                                      -> true once stored (RECEIPT) | nil, reason
      user: the session's identity from chat/auth/access.lua (a decimal string), nil when none
  stomp_disconnect(session_id)                        presence and typing clean-up
  redis_message(channel, payload), redis_channels     delivery across instances
  redis_room_channels, redis_room_prefix              (per room: CHAT_REDIS_PUBSUB=sharded)

The pieces: chat/stomp/handlers.lua (the /app destinations), chat/stomp/delivery.lua
(Redis chat:messages, or each room's channel, both ways), chat/stomp/error_report.lua (how an error value is worded
here, and the sender's error queues). ]]

local access = require "chat.auth.access"
local chat = require "chat.core"
local delivery = require "chat.stomp.delivery"
local error_report = require "chat.stomp.error_report"
local errors = require "chat.errors"
local handlers = require "chat.stomp.handlers"
local history_cache = require "chat.domain.history_cache"
local presence = require "chat.domain.presence"
local read_marks = require "chat.domain.read_marks"
local resume = require "chat.stomp.resume"
local throttled_log = require "chat.lib.throttled_log"
local typing = require "chat.domain.typing"

local mtype = math.type
local new = errors.new

local M = {}

-- ---- sessions and subscriptions ----

function M.connect(_session_id, headers, handshake)
  local ok, user, expires_at = access.connect(headers, handshake)
  if not ok then return nil, error_report.connect_refusal(user) end
  return true, user, expires_at
end

local SUBSCRIBABLE = {
  "^/topic/chatroom/%d+$",
  "^/topic/chatroom/%d+/presence$",
  "^/topic/chatroom/%d+/read$",
  "^/topic/chatroom/%d+/typing$",
  "^/user/queue/errors$",
  "^/user/%d+/queue/errors$",
}

-- A resume reads what the subscription would have delivered: the same access rule decides,
-- and only a room's message topic has messages to replay.
local function replay(destination, last_message_id)
  local room = math.tointeger(tonumber(destination:match("^/topic/chatroom/(%d+)$")))
  if not room then return nil, new(errors.RESUME_NOT_A_ROOM, destination) end
  return resume.replay(room, last_message_id)
end

function M.subscribe(_session_id, destination, user, last_message_id)
  for _, pattern in ipairs(SUBSCRIBABLE) do
    if destination:match(pattern) then
      local ok, err = access.may_subscribe(user, destination)
      if not ok then return nil, error_report.text(err) end
      if last_message_id == nil then return true end
      local frames, rerr = replay(destination, last_message_id)
      if not frames then return nil, error_report.text(rerr) end
      return true, frames
    end
  end
  return nil, error_report.text(new(errors.UNKNOWN_DESTINATION, destination))
end

-- After the Redis Pub/Sub link was down: what this instance's subscribers missed.
function M.catch_up(floors, since)
  local frames, err = resume.catch_up(floors, since)
  return frames, err and error_report.text(err)
end

-- The command link answers again: presence entries of this instance's sessions (a
-- restarted Redis no longer has them), and the messages it could not publish meanwhile.
function M.redis_restored()
  -- Redis may have restarted without its data, its generations counting from 0 again:
  -- pages kept under the old ones must go before any is read, and this instance's failed
  -- invalidations are made now, not on the room's next read or write.
  history_cache.clear()
  read_marks.retry_pending()
  presence.restore()
  delivery.flush_unpublished()
end

function M.disconnect(session_id)
  typing.session_closed(session_id)
  local rooms = presence.session_rooms(session_id)
  if not rooms then return end
  for room_id, member_id in pairs(rooms) do
    presence.remove(room_id, member_id, session_id)
    presence.publish(room_id)
  end
end

-- ---- SEND ----

-- Driven by what clients send: throttled (chat/lib/throttled_log.lua).
local log_refused = throttled_log.new("warn")

function M.send(session_id, destination, _headers, body, user)
  local handler = handlers.DESTINATIONS[destination]
  if not handler then
    return error_report.to_sender(session_id, nil, new(errors.UNKNOWN_APP_DESTINATION, destination))
  end
  local req, err, partial = handlers.parse(body)
  if not req then
    local sender_id = partial and mtype(partial.senderId) == "integer" and partial.senderId or nil
    return error_report.to_sender(session_id, sender_id, err)
  end
  local forbidden = access.own_sender(user, req.senderId)
  if forbidden then
    log_refused("STOMP %s refused: %s", destination, error_report.text(forbidden))
    return error_report.to_sender(session_id, nil, forbidden)
  end
  -- A handler that raises (a bug in a script) fails this message only: logged with its
  -- traceback, reported to the sender like any failure, without the Lua error's text.
  local ran, ok, herr = xpcall(handler, debug.traceback, session_id, req)
  if not ran then
    chat.log.error("STOMP %s failed: %s", destination, tostring(ok))
    return error_report.to_sender(session_id, req.senderId, new(errors.HANDLER_RAISED))
  end
  if not ok then return error_report.to_sender(session_id, req.senderId, herr) end
  return true
end

-- ---- across instances ----

M.redis_message = delivery.redis_message
M.redis_channels = delivery.redis_channels
M.redis_room_channels = delivery.redis_room_channels
M.redis_room_prefix = delivery.redis_room_prefix

return M
