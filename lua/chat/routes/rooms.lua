--[[ Room endpoints of CONTRACT §3: create (1), add member (2), find by study (3),
join (4), leave (5), and the internal idempotent add (9). ]]

local rooms = require "chat.rooms"
local web = require "chat.web"

local fail, is_failure = web.fail, web.is_failure

local NAME_MAX = 100
local NICKNAME_MAX = 255

local function ok_room(room) return 200, rooms.response(room) end

-- Runs `fn` and turns a (nil, failure) result into the failure.
local function room_result(room, failure)
  if not room then return failure end
  return ok_room(room)
end

local function room_name(value)
  if is_failure(value) then return value end
  if not value:find("%S") then return fail(400, "parameter 'roomName' must not be blank") end
  if utf8.len(value) == nil then return fail(400, "parameter 'roomName' is not valid UTF-8") end
  if utf8.len(value) > NAME_MAX then
    return fail(400, ("parameter 'roomName' must be at most %d characters"):format(NAME_MAX))
  end
  return value
end

local function create_room(req)
  local study_id = web.long_param(req.params, "studyId")
  if is_failure(study_id) then return study_id end
  local name = room_name(web.string_param(req.params, "roomName"))
  if is_failure(name) then return name end
  return room_result(rooms.create(study_id, name, false))
end

-- Body fields shared by endpoints 2 and 9; returns a table or a failure.
local function member_body(req, with_room_id)
  local body = web.json_body(req)
  if is_failure(body) then return body end
  local out = {}
  local fields = with_room_id and { "studyId", "roomId", "userId" } or { "studyId", "userId" }
  for _, f in ipairs(fields) do
    local v = web.long_field(body, f, true)
    if is_failure(v) then return v end
    out[f] = v
  end
  local nick = web.string_field(body, "nickname", false, NICKNAME_MAX)
  if is_failure(nick) then return nick end
  out.nickname = nick
  if not with_room_id then
    local name = web.string_field(body, "roomName", true)
    if is_failure(name) then return name end
    name = room_name(name)
    if is_failure(name) then return name end
    out.roomName = name
  end
  return out
end

local function add_member(req)
  local b = member_body(req, true)
  if is_failure(b) then return b end
  return room_result(rooms.add_member(b.roomId, b.userId, b.nickname, b.studyId))
end

local function internal_add_member(req)
  local b = member_body(req, false)
  if is_failure(b) then return b end
  local room, failure = rooms.create(b.studyId, b.roomName, true)
  if not room then return failure end
  return room_result(rooms.add_member(room.id, b.userId, b.nickname, nil))
end

local function by_study(req)
  return room_result(rooms.find_by_study(req.path_params.studyId))
end

local function join(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  return room_result(rooms.add_member(req.path_params.chatRoomId, member_id, nil, nil))
end

local function leave(req)
  local member_id = web.long_param(req.params, "memberId")
  if is_failure(member_id) then return member_id end
  local ok, failure = rooms.leave(req.path_params.chatRoomId, member_id)
  if not ok then return failure end
  return 200, ""
end

return {
  { "/api/chat/rooms", { POST = create_room } },
  { "/api/chat/rooms/member", { POST = add_member } },
  { "/api/chat/rooms/study/{studyId}", { GET = by_study } },
  { "/api/chat/rooms/{chatRoomId}/join", { POST = join } },
  { "/api/chat/rooms/{chatRoomId}/leave", { POST = leave } },
  { "/api/chat/internal/rooms/member", { POST = internal_add_member } },
}
