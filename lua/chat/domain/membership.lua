--[[ Whether a user is an active member of a room.

  membership.is_active(room_id, member_id) -> boolean (false too when the database cannot say)
  row, err = membership.of(room_id, member_id)
      row = { room = boolean, member = boolean }, in one round trip, for the answers that
      must tell "no such room" from "not a member": read marks (chat/domain/read_marks.lua)
      and access control (chat/auth/access.lua); nil and the database's error value
      (chat/lib/db.lua) when the database cannot say ]]

local chat = require "chat.core"
local db = require "chat.lib.db"

local M = {}

local ROOM_AND_MEMBER = [[
SELECT EXISTS (SELECT 1 FROM chat_rooms WHERE id = $1) AS room,
       EXISTS (SELECT 1 FROM chat_room_members
                WHERE chat_room_id = $1 AND member_id = $2 AND left_at IS NULL) AS member]]

local ACTIVE_MEMBER = [[
SELECT 1 AS ok FROM chat_room_members
WHERE chat_room_id = $1 AND member_id = $2 AND left_at IS NULL]]

function M.is_active(room_id, member_id)
  local rows = chat.pg.query(ACTIVE_MEMBER, room_id, member_id)
  return rows ~= nil and rows[1] ~= nil
end

function M.of(room_id, member_id)
  return db.one(ROOM_AND_MEMBER, room_id, member_id)
end

return M
