--[[ study.member.created: a member joined a study, so they join the study's chat room.
Value: {"userId":1,"studyId":2,"orderName":"…","amount":null,"nickname":"…"} (a
__TypeId__ header may be present and is ignored). Idempotent: a redelivery re-adds an
existing member, which changes nothing. ]]

local json = require "chat.json"
local rooms = require "chat.rooms"
local text = require "chat.text"

local fmt, mtype = string.format, math.type

local M = {}

function M.handle(record)
  local event, err = json.decode(record.value)
  if type(event) ~= "table" or event[1] ~= nil then
    return nil, "malformed JSON: " .. tostring(err or "not an object"), "permanent"
  end
  if mtype(event.userId) ~= "integer" or mtype(event.studyId) ~= "integer" then
    return nil, "userId and studyId must be integers", "permanent"
  end
  local nickname = event.nickname
  if nickname == json.null or type(nickname) ~= "string" then nickname = nil end
  local problem = nickname and text.problem(nickname)
  if problem then return nil, "nickname " .. problem, "permanent" end
  local room, failure = rooms.find_by_study(event.studyId)
  if not room then
    -- The room may be created a moment later (the study service's own flow): retry.
    return nil, failure and failure.message or fmt("study %d has no chat room", event.studyId)
  end
  local _, add_failure = rooms.add_member(room.id, event.userId, nickname, nil)
  if add_failure then return nil, add_failure.message end
  return true
end

return M
