--[[ History (6), read marks (7) and unread counts (8) of CONTRACT §3. ]]

local json = require "chat.json"
local messages = require "chat.messages"
local read_marks = require "chat.read_marks"
local rooms = require "chat.rooms"
local web = require "chat.web"

local fail, is_failure = web.fail, web.is_failure

local function int_param(params, name, default, min)
  local v = web.long_param(params, name, default)
  if is_failure(v) then return v end
  if v < min then return fail(400, ("parameter '%s' must be at least %d"):format(name, min)) end
  if v > messages.INT_MAX then return fail(400, ("parameter '%s' is too large"):format(name)) end
  return v
end

local function history(req)
  local room_id = req.path_params.chatRoomId
  local page = int_param(req.params, "page", 0, 0)
  if is_failure(page) then return page end
  local size = int_param(req.params, "size", messages.DEFAULT_PAGE_SIZE, 1)
  if is_failure(size) then return size end
  -- As Spring's max-page-size: larger requests are served with the maximum.
  if size > messages.MAX_PAGE_SIZE then size = messages.MAX_PAGE_SIZE end
  local order_by, why = messages.parse_sort(req.params.sort)
  if not order_by then return fail(400, why) end
  local _, failure = rooms.find(room_id)
  if failure then return failure end
  local body, pfailure = messages.page(room_id, page, size, order_by)
  if not body then return pfailure end
  return 200, body
end

local function mark_read(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local message_id = web.long_param(req.params, "lastMessageId")
  if is_failure(message_id) then return message_id end
  local ok, failure = read_marks.mark(req.path_params.chatRoomId, member_id, message_id)
  if not ok then return failure end
  return 200, ""
end

local function unread(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local room_id = req.path_params.chatRoomId
  local count, failure = read_marks.unread(room_id, member_id)
  if not count then return failure end
  return 200, json.object { "chatRoomId", room_id, "unreadCount", count }
end

return {
  { "/api/chat/rooms/{chatRoomId}/messages", { GET = history } },
  { "/api/chat/rooms/{chatRoomId}/read", { POST = mark_read } },
  { "/api/chat/rooms/{chatRoomId}/unread", { GET = unread } },
}
