--[[ study.member.created: a member joined a study, so they join the study's chat room.
Value: {"userId":1,"studyId":2,"orderName":"…","amount":null,"nickname":"…"} (a
__TypeId__ header may be present and is ignored). Idempotent: a redelivery re-adds an
existing member, which changes nothing.

Returns true, or nil and an error value: invalid ones (a malformed event) are dead-lettered
at once, the rest retried (chat/events/init.lua): study_room_not_found among them, since
the room may be created a moment later (the study service's own flow). ]]

local errors = require "chat.errors"
local json = require "chat.lib.json"
local rooms = require "chat.domain.rooms"
local text = require "chat.lib.text"

local mtype = math.type
local new = errors.new

local M = {}

function M.handle(record)
  local event, derr = json.decode(record.value)
  if type(event) ~= "table" or event[1] ~= nil then
    return nil, new(errors.EVENT_MALFORMED, tostring(derr or "not an object"))
  end
  if mtype(event.userId) ~= "integer" or mtype(event.studyId) ~= "integer" then
    return nil, new(errors.EVENT_IDS_MISSING)
  end
  local nickname = event.nickname
  if nickname == json.null or type(nickname) ~= "string" then nickname = nil end
  local problem = nickname and text.problem(nickname)
  if problem then return nil, new(errors.VALUE_UNSTORABLE, "nickname", problem) end
  local room, err = rooms.find_by_study(event.studyId)
  if not room then return nil, err end
  local added
  added, err = rooms.add_member(room.id, event.userId, nickname, nil)
  if not added then return nil, err end
  return true
end

return M
