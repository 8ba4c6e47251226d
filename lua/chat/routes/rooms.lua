--[[ Room endpoints of CONTRACT §3: create (1), add a member (2), find by study (3), join
(4), leave (5), and the internal idempotent add (9). A handler returns status, body
(a JSON value or a string) and headers, or a web failure. ]]

local access = require "chat.access"
local rooms = require "chat.rooms"
local web = require "chat.web"

local is_failure = web.is_failure

local function room_result(room, failure)
  if not room then return failure end
  return 200, rooms.response(room)
end

-- 1. POST /api/chat/rooms?studyId=&roomName=
local function create_room(req)
  local study_id = web.long_param(req.params, "studyId")
  if is_failure(study_id) then return study_id end
  local name = web.string_param(req.params, "roomName")
  if is_failure(name) then return name end
  name = web.check_text(name, "roomName", rooms.NAME_MAX, "parameter")
  if is_failure(name) then return name end
  return room_result(rooms.create(study_id, name, false))
end

-- The JSON body of endpoints 2 and 9: a table of checked fields, or a failure.
local function member_body(req, long_fields, with_room_name)
  local body = web.json_body(req)
  if is_failure(body) then return body end
  local out = {}
  for _, f in ipairs(long_fields) do
    local v = web.long_field(body, f, true)
    if is_failure(v) then return v end
    out[f] = v
  end
  if with_room_name then
    local name = web.string_field(body, "roomName", true)
    if is_failure(name) then return name end
    name = web.check_text(name, "roomName", rooms.NAME_MAX, "field")
    if is_failure(name) then return name end
    out.roomName = name
  end
  local nick = web.string_field(body, "nickname", false, rooms.NICKNAME_MAX)
  if is_failure(nick) then return nick end
  out.nickname = nick
  return out
end

-- 2. POST /api/chat/rooms/member {"studyId","roomId","userId","nickname"}
local function add_member(req)
  local b = member_body(req, { "studyId", "roomId", "userId" }, false)
  if is_failure(b) then return b end
  local denied = access.own_id(req, b.userId, "userId")
  if denied then return denied end
  return room_result(rooms.add_member(b.roomId, b.userId, b.nickname, b.studyId))
end

-- 9. POST /api/chat/internal/rooms/member {"studyId","roomName","userId","nickname"}
local function internal_add_member(req)
  local b = member_body(req, { "studyId", "userId" }, true)
  if is_failure(b) then return b end
  local room, failure = rooms.create(b.studyId, b.roomName, true)
  if not room then return failure end
  return room_result(rooms.add_member(room.id, b.userId, b.nickname, nil))
end

-- 3. GET /api/chat/rooms/study/{studyId}
local function by_study(req)
  return room_result(rooms.find_by_study(req.path_params.studyId))
end

-- 4. POST /api/chat/rooms/{chatRoomId}/join?memberId=
local function join(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return denied end
  return room_result(rooms.add_member(req.path_params.chatRoomId, member_id, nil, nil))
end

-- 5. POST /api/chat/rooms/{chatRoomId}/leave?memberId=  (empty body)
local function leave(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local denied = access.own_id(req, member_id, "memberId")
  if denied then return denied end
  local ok, failure = rooms.leave(req.path_params.chatRoomId, member_id)
  if not ok then return failure end
  return 200, ""
end

return {
  ["/api/chat/rooms"] = { POST = create_room },
  ["/api/chat/rooms/member"] = { POST = add_member },
  ["/api/chat/rooms/study/{studyId}"] = { GET = by_study },
  ["/api/chat/rooms/{chatRoomId}/join"] = { POST = join },
  ["/api/chat/rooms/{chatRoomId}/leave"] = { POST = leave },
  ["/api/chat/internal/rooms/member"] = { POST = internal_add_member },
}
