--[[ Real-time messaging over STOMP (CONTRACT §4, §5): the application destinations, which
subscriptions are allowed, delivery across instances through Redis, and the errors a
sender sees. The C core calls these through the app table (see init.lua):

  stomp_connect(session_id, headers, handshake)        -> true, user | nil, reason (ERROR frame)
  stomp_subscribe(session_id, destination, user)      -> true | nil, reason (ERROR frame)
  stomp_send(session_id, destination, headers, body, user)
                                                      -> true once stored (RECEIPT) | nil, reason
      user: the session's identity from chat/access.lua (a decimal string), nil when none
  stomp_disconnect(session_id)                        presence clean-up
  redis_message(channel, payload)                     a message from any instance ]]

local access = require "chat.access"
local chat = require "chat.core"
local json = require "chat.json"
local membership = require "chat.membership"
local messages = require "chat.messages"
local presence = require "chat.presence"
local text = require "chat.text"
local throttled_log = require "chat.throttled_log"

local fmt = string.format
local mtype = math.type

local M = {}

M.MESSAGES_CHANNEL = "chat:messages"
M.PUBLISH_CLASS = "com.grow.chat.dto.ChatMessagePublish"

local SEND_FAILED = "메시지 전송에 실패했습니다: %s"
local JOIN_TEXT = "%s님이 입장하셨습니다."
local LEAVE_TEXT = "%s님이 퇴장하셨습니다."
local NOT_A_MEMBER = "user %d is not an active member of chat room %d"
local MALFORMED_JSON = "the message body is not valid JSON"
local INTERNAL_ERROR = "internal error"
local MESSAGE_TYPES = { CHAT = true, JOIN = true, LEAVE = true }

-- ---- subscriptions ----

local SUBSCRIBABLE = {
  "^/topic/chatroom/%d+$",
  "^/topic/chatroom/%d+/presence$",
  "^/user/queue/errors$",
  "^/user/%d+/queue/errors$",
}

function M.connect(_session_id, headers, handshake)
  return access.connect(headers, handshake)
end

function M.subscribe(_session_id, destination, user)
  for _, pattern in ipairs(SUBSCRIBABLE) do
    if destination:match(pattern) then return access.may_subscribe(user, destination) end
  end
  return nil, "unknown destination: " .. destination
end

-- ---- errors to the sender ----

local function report_failure(session_id, sender_id, reason)
  local body = fmt(SEND_FAILED, reason)
  local headers = { ["content-type"] = "text/plain;charset=UTF-8" }
  chat.stomp.send_to_session(session_id, "/user/queue/errors", body, headers)
  if mtype(sender_id) == "integer" then
    chat.stomp.broadcast(fmt("/user/%d/queue/errors", sender_id), body, headers)
  end
  return nil, reason
end

-- ---- the request body ----

local function parse_request(body)
  local req = json.decode(body)
  if type(req) ~= "table" then return nil, MALFORMED_JSON end
  if mtype(req.chatRoomId) ~= "integer" then return nil, "chatRoomId is required and must be an integer", req end
  if mtype(req.senderId) ~= "integer" then return nil, "senderId is required and must be an integer", req end
  local kind = req.messageType
  if kind == nil or kind == json.null then kind = "CHAT" end
  if not MESSAGE_TYPES[kind] then return nil, "messageType must be CHAT, JOIN or LEAVE", req end
  req.messageType = kind
  local nick = req.senderNickname
  if nick == json.null then nick = nil end
  if nick ~= nil and type(nick) ~= "string" then return nil, "senderNickname must be a string", req end
  local problem = nick and text.problem(nick)
  if problem then return nil, "senderNickname " .. problem, req end
  req.senderNickname = nick
  local content = req.content
  if content == json.null then content = nil end
  if content ~= nil and type(content) ~= "string" then return nil, "content must be a string", req end
  problem = content and text.problem(content)
  if problem then return nil, "content " .. problem, req end
  req.content = content
  return req
end

-- ---- delivery ----

-- ChatMessagePublish on chat:messages as the original writes it (CONTRACT §5): Jackson's
-- default typing wraps the object in an array after its class name. Fields in the
-- original's order, written in one format (the generic encoder was a quarter of a stored
-- message's Lua work).
local PUBLISH_FORMAT = '["' .. M.PUBLISH_CLASS .. '",{"chatRoomId":%d,"id":%d,"senderId":%d,'
  .. '"senderNickname":%s,"content":%s,"messageType":%s,"createdAt":%s}]'

local function string_or_null(s) return s == nil and "null" or json.quote(s) end

local function publish_json(msg)
  return fmt(PUBLISH_FORMAT, msg.chatRoomId, msg.id, msg.senderId, string_or_null(msg.senderNickname),
    string_or_null(msg.content), json.quote(msg.messageType), json.quote(msg.createdAt))
end

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

-- The room a plain message is for, and whether it is a JOIN or LEAVE. Every instance reads
-- every message, so the common shape (chatRoomId first, as both services write it) is read
-- without a full JSON decode; anything else is decoded. Nil for a malformed message.
local function room_of(message)
  local room = message:match('^{"chatRoomId":(%d+),')
  if room then return math.tointeger(tonumber(room)) end
  local msg = json.decode(message)
  if type(msg) == "table" and mtype(msg.chatRoomId) == "integer" then return msg.chatRoomId end
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
local function deliver_locally(room, message)
  chat.stomp.broadcast(fmt("/topic/chatroom/%d", room), message)
  if changes_presence(message) then presence.push_local(room) end
end

-- Publishes a stored message to every instance; if Redis is down, this instance's own
-- subscribers still get it (the message is stored either way). An outage is logged when it
-- starts and when it ends with the number of messages it affected, not once per message.
local local_only = 0

local function deliver(msg)
  local payload = publish_json(msg)
  local ok, err = chat.redis.publish(M.MESSAGES_CHANNEL, payload)
  if ok then
    if local_only > 0 then
      chat.log.info("Redis publish works again; %d message(s) were delivered to this instance's subscribers only",
        local_only)
      local_only = 0
    end
    return
  end
  if local_only == 0 then
    chat.log.warn("Redis publish failed (%s); delivering locally only until it works again", tostring(err))
  end
  local_only = local_only + 1
  deliver_locally(msg.chatRoomId, M.unwrap(payload))
end

local function store_and_deliver(room_id, sender_id, nickname, content, kind, member_check)
  local msg, err = messages.store(room_id, sender_id, nickname, content, kind, member_check)
  if not msg then return nil, err end
  deliver(msg)
  return msg
end

-- ---- application destinations ----

local handlers = {}

handlers["/app/chat.sendMessage"] = function(_session_id, req)
  if req.messageType == "CHAT" and (req.content == nil or not req.content:find("%S")) then
    return nil, "content must not be blank"
  end
  local msg, err = store_and_deliver(req.chatRoomId, req.senderId, req.senderNickname, req.content,
                                     req.messageType, req.senderId)
  if not msg then
    if err == messages.NOT_A_MEMBER then return nil, fmt(NOT_A_MEMBER, req.senderId, req.chatRoomId) end
    return nil, err
  end
  return true
end

handlers["/app/chat.join"] = function(session_id, req)
  if not membership.is_active(req.chatRoomId, req.senderId) then
    return nil, fmt(NOT_A_MEMBER, req.senderId, req.chatRoomId)
  end
  local nick = req.senderNickname or tostring(req.senderId)
  local ok, err = presence.add(req.chatRoomId, req.senderId, req.senderNickname, session_id)
  if not ok then chat.log.warn("presence add failed: %s", tostring(err)) end
  -- System messages are stored with sender 0, as the original's clients expect.
  -- The presence list follows the JOIN on every instance (deliver_locally).
  local msg, serr = store_and_deliver(req.chatRoomId, 0, nick, fmt(JOIN_TEXT, nick), "JOIN", nil)
  if not msg then return nil, serr end
  return true
end

handlers["/app/chat.leave"] = function(session_id, req)
  -- Someone who left the room may still say goodbye from the session they were present in.
  local room, member = req.chatRoomId, req.senderId
  if not presence.is_present(session_id, room, member) and not membership.is_active(room, member) then
    return nil, fmt(NOT_A_MEMBER, member, room)
  end
  local nick = req.senderNickname or tostring(req.senderId)
  local ok, err = presence.remove(req.chatRoomId, req.senderId, session_id)
  if not ok then chat.log.warn("presence remove failed: %s", tostring(err)) end
  local msg, serr = store_and_deliver(req.chatRoomId, 0, nick, fmt(LEAVE_TEXT, nick), "LEAVE", nil)
  if not msg then return nil, serr end
  return true
end

-- Both are driven by what clients or other pods send: throttled (chat/throttled_log.lua).
local log_refused = throttled_log.new("warn")
local log_malformed = throttled_log.new("warn")

function M.send(session_id, destination, _headers, body, user)
  local handler = handlers[destination]
  if not handler then
    return report_failure(session_id, nil, "unknown destination " .. destination)
  end
  local req, err, partial = parse_request(body)
  if not req then
    return report_failure(session_id, partial and mtype(partial.senderId) == "integer" and partial.senderId or nil, err)
  end
  local forbidden = access.own_sender(user, req.senderId)
  if forbidden then
    log_refused("STOMP %s refused: %s", destination, forbidden)
    return report_failure(session_id, nil, forbidden)
  end
  -- A handler that raises (a bug in a script) fails this message only: logged with its
  -- traceback, reported to the sender like any failure, without the Lua error's text.
  local ran, ok, herr = xpcall(handler, debug.traceback, session_id, req)
  if not ran then
    chat.log.error("STOMP %s failed: %s", destination, tostring(ok))
    return report_failure(session_id, req.senderId, INTERNAL_ERROR)
  end
  if not ok then return report_failure(session_id, req.senderId, herr) end
  return true
end

function M.disconnect(session_id)
  local rooms = presence.session_rooms(session_id)
  if not rooms then return end
  for room_id, member_id in pairs(rooms) do
    presence.remove(room_id, member_id, session_id)
    presence.publish(room_id)
  end
end

-- ---- across instances ----

function M.redis_message(channel, payload)
  if channel == presence.CHANNEL then return presence.on_redis_message(payload) end
  if channel ~= M.MESSAGES_CHANNEL then return end
  local message = M.unwrap(payload)
  local room = room_of(message)
  if not room then
    log_malformed("ignoring a malformed message on %s: %s", channel, payload:sub(1, 200))
    return
  end
  deliver_locally(room, message)
end

M.redis_channels = { M.MESSAGES_CHANNEL, presence.CHANNEL }

return M
