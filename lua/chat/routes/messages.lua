--[[ History (6), read marks (7) and unread counts (8) of CONTRACT §3. ]]

local access = require "chat.access"
local errors = require "chat.errors"
local json = require "chat.json"
local messages = require "chat.messages"
local read_marks = require "chat.read_marks"
local web = require "chat.web"

local fmt = string.format
local fail, is_failure = web.fail, web.is_failure

-- `size`: default 50, at least 1; larger than the maximum is served with the maximum,
-- as Spring's max-page-size does (and the Page JSON shows the maximum).
local function page_size(params)
  local list = params.size
  if not list or list[1] == "" then return messages.DEFAULT_PAGE_SIZE end
  local n = web.parse_long(list[1])
  if n == nil then return fail(400, fmt(errors.PARAM_NOT_INT, "size") .. fmt(", got '%s'", list[1]:sub(1, 40))) end
  if n < 1 then return fail(400, fmt(errors.PARAM_TOO_SMALL, "size", 1)) end
  if n > messages.MAX_PAGE_SIZE then return messages.MAX_PAGE_SIZE end
  return n
end

-- 6. GET /api/chat/rooms/{chatRoomId}/messages?page=&size=&sort=
local function history(req)
  local page = web.int_param(req.params, "page", 0, 0)
  if is_failure(page) then return page end
  local size = page_size(req.params)
  if is_failure(size) then return size end
  local orders, why = messages.parse_sort(req.params.sort)
  if not orders then return fail(400, why) end
  local denied = access.may_read_room(req, req.path_params.chatRoomId)
  if denied then return denied end
  local body, failure = messages.page(req.path_params.chatRoomId, page, size, orders)
  if not body then return failure end
  return 200, body
end

-- 7. POST /api/chat/rooms/{chatRoomId}/read?memberId=&lastMessageId=  (empty body)
local function mark_read(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return denied end
  local message_id = web.long_param(req.params, "lastMessageId")
  if is_failure(message_id) then return message_id end
  local ok, failure = read_marks.mark(req.path_params.chatRoomId, member_id, message_id)
  if not ok then return failure end
  return 200, ""
end

-- 8. GET /api/chat/rooms/{chatRoomId}/unread?memberId=
local function unread(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return denied end
  local room_id = req.path_params.chatRoomId
  local count, failure = read_marks.unread(room_id, member_id)
  if not count then return failure end
  return 200, json.object { "chatRoomId", room_id, "unreadCount", count }
end

return {
  ["/api/chat/rooms/{chatRoomId}/messages"] = { GET = history },
  ["/api/chat/rooms/{chatRoomId}/read"] = { POST = mark_read },
  ["/api/chat/rooms/{chatRoomId}/unread"] = { GET = unread },
}
