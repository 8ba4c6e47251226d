--[[ History (6), read marks (7) and unread counts (8) of CONTRACT §3, and every member's
read mark (a chatd addition). A handler returns
status, body and headers, or nil and an error value (chat/errors.lua). ]]

local access = require "chat.auth.access"
local json = require "chat.lib.json"
local messages = require "chat.domain.messages"
local read_marks = require "chat.domain.read_marks"
local web = require "chat.lib.web"

-- The memberId query parameter, which must be the caller's own id.
local function own_member_id(req)
  local member_id, err = web.long_param(req.params, "memberId")
  if err then return nil, err end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return nil, denied end
  return member_id
end

-- 6. GET /api/chat/rooms/{chatRoomId}/messages?page=&size=&sort=
local function history(req)
  local page, err = web.int_param(req.params, "page", 0, 0)
  if err then return nil, err end
  local size
  size, err = web.page_size(req.params, messages.DEFAULT_PAGE_SIZE, messages.MAX_PAGE_SIZE)
  if err then return nil, err end
  local orders
  orders, err = messages.parse_sort(req.params.sort)
  if not orders then return nil, err end
  local denied = access.may_read_room(req, req.path_params.chatRoomId)
  if denied then return nil, denied end
  local body
  body, err = messages.history(req.path_params.chatRoomId, page, size, orders)
  if not body then return nil, err end
  return 200, body
end

-- 7. POST /api/chat/rooms/{chatRoomId}/read?memberId=&lastMessageId=  (empty body)
local function mark_read(req)
  local member_id, err = own_member_id(req)
  if not member_id then return nil, err end
  local message_id
  message_id, err = web.long_param(req.params, "lastMessageId")
  if err then return nil, err end
  local ok
  ok, err = read_marks.mark(req.path_params.chatRoomId, member_id, message_id)
  if not ok then return nil, err end
  return 200, ""
end

-- GET /api/chat/rooms/{chatRoomId}/read-marks (a chatd addition): every active member's
-- mark; access as the history's.
local function marks(req)
  local room_id = req.path_params.chatRoomId
  local denied = access.may_read_room(req, room_id)
  if denied then return nil, denied end
  local list, err = read_marks.list(room_id)
  if not list then return nil, err end
  return 200, list
end

-- 8. GET /api/chat/rooms/{chatRoomId}/unread?memberId=
local function unread(req)
  local member_id, err = own_member_id(req)
  if not member_id then return nil, err end
  local room_id = req.path_params.chatRoomId
  local count
  count, err = read_marks.unread(room_id, member_id)
  if not count then return nil, err end
  return 200, json.object { "chatRoomId", room_id, "unreadCount", count }
end

return {
  ["/api/chat/rooms/{chatRoomId}/messages"] = { GET = history },
  ["/api/chat/rooms/{chatRoomId}/read"] = { POST = mark_read },
  ["/api/chat/rooms/{chatRoomId}/unread"] = { GET = unread },
  ["/api/chat/rooms/{chatRoomId}/read-marks"] = { GET = marks },
}
