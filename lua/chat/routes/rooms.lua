--[[ Room endpoints of CONTRACT §3: create (1), add a member (2), find by study (3), join
(4), leave (5), the internal idempotent add (9), and the inbox (a chatd addition, issue 17:
docs/protocol.md). A handler returns status, body
(a JSON value or a string) and headers, or nil and an error value (chat/errors.lua) that
the REST layer answers (chat/routes/error_response.lua). ]]

local access = require "chat.auth.access"
local inbox = require "chat.domain.inbox"
local rooms = require "chat.domain.rooms"
local web = require "chat.lib.web"

local function room_result(room, err)
  if not room then return nil, err end
  return 200, rooms.response(room)
end

-- 1. POST /api/chat/rooms?studyId=&roomName=
local function create_room(req)
  local study_id, err = web.long_param(req.params, "studyId")
  if err then return nil, err end
  local name
  name, err = web.string_param(req.params, "roomName")
  if err then return nil, err end
  name, err = web.check_text(name, "roomName", rooms.NAME_MAX, "parameter")
  if err then return nil, err end
  return room_result(rooms.create(study_id, name, false))
end

-- The JSON body of endpoints 2 and 9: a table of checked fields, or nil and an error.
local function member_body(req, long_fields, with_room_name)
  local body, err = web.json_body(req)
  if err then return nil, err end
  local out = {}
  for _, f in ipairs(long_fields) do
    out[f], err = web.long_field(body, f, true)
    if err then return nil, err end
  end
  if with_room_name then
    local name
    name, err = web.string_field(body, "roomName", true)
    if err then return nil, err end
    out.roomName, err = web.check_text(name, "roomName", rooms.NAME_MAX, "field")
    if err then return nil, err end
  end
  out.nickname, err = web.string_field(body, "nickname", false, rooms.NICKNAME_MAX)
  if err then return nil, err end
  return out
end

-- The memberId query parameter, which must be the caller's own id.
local function own_member_id(req)
  local member_id, err = web.long_param(req.params, "memberId")
  if err then return nil, err end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return nil, denied end
  return member_id
end

-- 2. POST /api/chat/rooms/member {"studyId","roomId","userId","nickname"}
local function add_member(req)
  local b, err = member_body(req, { "studyId", "roomId", "userId" }, false)
  if not b then return nil, err end
  local denied = access.own_id(req, b.userId, "userId")
  if denied then return nil, denied end
  return room_result(rooms.add_member(b.roomId, b.userId, b.nickname, b.studyId))
end

-- 9. POST /api/chat/internal/rooms/member {"studyId","roomName","userId","nickname"}
local function internal_add_member(req)
  local b, err = member_body(req, { "studyId", "userId" }, true)
  if not b then return nil, err end
  local room
  room, err = rooms.create(b.studyId, b.roomName, true)
  if not room then return nil, err end
  return room_result(rooms.add_member(room.id, b.userId, b.nickname, nil))
end

-- 3. GET /api/chat/rooms/study/{studyId}
local function by_study(req)
  return room_result(rooms.find_by_study(req.path_params.studyId))
end

-- 4. POST /api/chat/rooms/{chatRoomId}/join?memberId=
local function join(req)
  local member_id, err = own_member_id(req)
  if not member_id then return nil, err end
  return room_result(rooms.add_member(req.path_params.chatRoomId, member_id, nil, nil))
end

-- 5. POST /api/chat/rooms/{chatRoomId}/leave?memberId=  (empty body)
local function leave(req)
  local member_id, err = own_member_id(req)
  if not member_id then return nil, err end
  local ok
  ok, err = rooms.leave(req.path_params.chatRoomId, member_id)
  if not ok then return nil, err end
  return 200, ""
end

-- GET /api/chat/rooms?memberId=&page=&size=  (the inbox: the member's active rooms, newest
-- activity first, with unread counts and last messages, as a Page). Parameters are read as
-- the history reads them (size defaults to 20, Spring's default); memberId must be the
-- caller's own, as on the other member endpoints.
local function inbox_page(req)
  local member_id, err = web.long_param(req.params, "memberId")
  if err then return nil, err end
  local page
  page, err = web.int_param(req.params, "page", 0, 0)
  if err then return nil, err end
  local size
  size, err = web.page_size(req.params, inbox.DEFAULT_PAGE_SIZE, inbox.MAX_PAGE_SIZE)
  if err then return nil, err end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return nil, denied end
  local body
  body, err = inbox.page(member_id, page, size)
  if not body then return nil, err end
  return 200, body
end

return {
  ["/api/chat/rooms"] = { POST = create_room, GET = inbox_page },
  ["/api/chat/rooms/member"] = { POST = add_member },
  ["/api/chat/rooms/study/{studyId}"] = { GET = by_study },
  ["/api/chat/rooms/{chatRoomId}/join"] = { POST = join },
  ["/api/chat/rooms/{chatRoomId}/leave"] = { POST = leave },
  ["/api/chat/internal/rooms/member"] = { POST = internal_add_member },
}
