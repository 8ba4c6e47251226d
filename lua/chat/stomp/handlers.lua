--[[ The application destinations of STOMP SEND (CONTRACT §4): /app/chat.sendMessage,
/app/chat.join, /app/chat.leave and /app/chat.typing (a chatd addition), and the request body they share.

  req, err, partial = handlers.parse(body)   the checked ChatMessageRequest, or nil, an
                                             error and whatever was decoded (for its senderId)
  handlers.DESTINATIONS[destination](session_id, req) -> true | nil, err

Failures are error values of chat/errors.lua; chat/stomp/init.lua reports them to the
sender (chat/stomp/error_report.lua). ]]

local chat = require "chat.core"
local delivery = require "chat.stomp.delivery"
local errors = require "chat.errors"
local json = require "chat.lib.json"
local membership = require "chat.domain.membership"
local messages = require "chat.domain.messages"
local presence = require "chat.domain.presence"
local text = require "chat.lib.text"
local typing = require "chat.domain.typing"

local fmt = string.format
local mtype = math.type
local new = errors.new

local M = {}

local JOIN_TEXT = "%s님이 입장하셨습니다."
local LEAVE_TEXT = "%s님이 퇴장하셨습니다."
local MESSAGE_TYPES = { CHAT = true, JOIN = true, LEAVE = true }

-- ---- the request body ----

-- An optional text field: absent (nil or null) is nil; anything else must be storable text.
local function optional_text(req, name)
  local v = req[name]
  if v == json.null then v = nil end
  if v ~= nil and type(v) ~= "string" then return nil, new(errors.MESSAGE_NOT_STRING, name) end
  local problem = v and text.problem(v)
  if problem then return nil, new(errors.VALUE_UNSTORABLE, name, problem) end
  req[name] = v
  return true
end

function M.parse(body)
  local req = json.decode(body)
  if type(req) ~= "table" then return nil, new(errors.MESSAGE_MALFORMED) end
  for _, name in ipairs { "chatRoomId", "senderId" } do
    if mtype(req[name]) ~= "integer" then return nil, new(errors.MESSAGE_ID_MISSING, name), req end
  end
  local kind = req.messageType
  if kind == nil or kind == json.null then kind = "CHAT" end
  if not MESSAGE_TYPES[kind] then return nil, new(errors.MESSAGE_TYPE_INVALID), req end
  req.messageType = kind
  for _, name in ipairs { "senderNickname", "content" } do
    local ok, err = optional_text(req, name)
    if not ok then return nil, err, req end
  end
  return req
end

-- ---- destinations ----

local function store_and_deliver(room_id, sender_id, nickname, content, kind, member_check)
  local msg, err = messages.store(room_id, sender_id, nickname, content, kind, member_check)
  if not msg then return nil, err end
  delivery.deliver(msg)
  return msg
end

local function not_a_member(req) return new(errors.NOT_A_MEMBER, "user", req.senderId, req.chatRoomId) end

M.DESTINATIONS = {}

M.DESTINATIONS["/app/chat.sendMessage"] = function(_session_id, req)
  if req.messageType == "CHAT" and (req.content == nil or not req.content:find("%S")) then
    return nil, new(errors.CONTENT_BLANK)
  end
  -- The sender must be an active member (messages.store checks it in the same statement).
  local msg, err = store_and_deliver(req.chatRoomId, req.senderId, req.senderNickname, req.content,
                                     req.messageType, req.senderId)
  if not msg then return nil, err end
  return true
end

M.DESTINATIONS["/app/chat.join"] = function(session_id, req)
  if not membership.is_active(req.chatRoomId, req.senderId) then return nil, not_a_member(req) end
  local nick = req.senderNickname or tostring(req.senderId)
  local ok, err = presence.add(req.chatRoomId, req.senderId, req.senderNickname, session_id)
  if not ok then chat.log.warn("presence add failed: %s", tostring(err)) end
  -- System messages are stored with sender 0, as the original's clients expect.
  -- The presence list follows the JOIN on every instance (chat/stomp/delivery.lua).
  local msg, serr = store_and_deliver(req.chatRoomId, 0, nick, fmt(JOIN_TEXT, nick), "JOIN", nil)
  if not msg then return nil, serr end
  return true
end

M.DESTINATIONS["/app/chat.leave"] = function(session_id, req)
  -- Someone who left the room may still say goodbye from the session they were present in.
  local room, member = req.chatRoomId, req.senderId
  if not presence.is_present(session_id, room, member) and not membership.is_active(room, member) then
    return nil, not_a_member(req)
  end
  local nick = req.senderNickname or tostring(req.senderId)
  local ok, err = presence.remove(req.chatRoomId, req.senderId, session_id)
  if not ok then chat.log.warn("presence remove failed: %s", tostring(err)) end
  typing.stop(session_id, req.chatRoomId, req.senderId)
  local msg, serr = store_and_deliver(req.chatRoomId, 0, nick, fmt(LEAVE_TEXT, nick), "LEAVE", nil)
  if not msg then return nil, serr end
  return true
end

-- Typing indicators (a chatd addition, chat/domain/typing.lua): nothing is stored; content
-- is ignored. Pushes beyond one per member and room per second are dropped without error.
M.DESTINATIONS["/app/chat.typing"] = function(session_id, req)
  if not membership.is_active(req.chatRoomId, req.senderId) then return nil, not_a_member(req) end
  typing.start(session_id, req.chatRoomId, req.senderId, req.senderNickname)
  return true
end

return M
