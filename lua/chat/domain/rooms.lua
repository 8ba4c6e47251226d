--[[ Chat rooms and their members (CONTRACT §3 endpoints 1-5 and 9, §7).

Functions return a value, or nil and an error value of chat/errors.lua: room_not_found,
study_room_not_found, room_not_in_study, study_has_room, not_a_member, or the database's
(chat/lib/db.lua). Every membership change bumps the room's unread generation after it
committed (see read_marks.lua). Used by the REST routes and by the Kafka handler
(events/study_member_created.lua). ]]

local db = require "chat.lib.db"
local errors = require "chat.errors"
local json = require "chat.lib.json"
local read_marks = require "chat.domain.read_marks"

local new = errors.new

local M = {}

M.NAME_MAX = 100
M.NICKNAME_MAX = 255

-- memberCount counts active members only (fix: the original counted those who left).
local ROOM_SELECT = [[
SELECT r.id, r.study_id, r.name, r.is_active, ]] .. db.timestamp("r.created_at", "created_at") .. [[,
       (SELECT count(*) FROM chat_room_members m
         WHERE m.chat_room_id = r.id AND m.left_at IS NULL) AS member_count
FROM chat_rooms r]]

local SELECT_BY_ID = ROOM_SELECT .. " WHERE r.id = $1"
local SELECT_BY_STUDY = ROOM_SELECT .. " WHERE r.study_id = $1"

-- A new room has no members yet, so the row comes back complete in one round trip.
local INSERT_ROOM = [[
INSERT INTO chat_rooms (study_id, name, is_active, created_at)
VALUES ($1, $2, true, $3::timestamp)
ON CONFLICT (study_id) DO NOTHING
RETURNING id, study_id, name, is_active, ]] .. db.timestamp("created_at", "created_at") .. [[, 0 AS member_count]]

-- Adds a member, or brings a former one back (fix: the original hit the unique key).
-- An active member keeps its joined_at; a returning one gets a new one. A given nickname
-- replaces the stored one, none keeps it. With $5 (a study id) the row is written only if
-- the room belongs to that study: check and write are one statement.
local UPSERT_MEMBER = [[
INSERT INTO chat_room_members (chat_room_id, member_id, sender_nickname, joined_at)
SELECT $1::bigint, $2::bigint, $3::varchar, $4::timestamp
WHERE $5::bigint IS NULL OR EXISTS (SELECT 1 FROM chat_rooms WHERE id = $1 AND study_id = $5)
ON CONFLICT (chat_room_id, member_id) DO UPDATE SET
  sender_nickname = coalesce(excluded.sender_nickname, chat_room_members.sender_nickname),
  joined_at = CASE WHEN chat_room_members.left_at IS NULL THEN chat_room_members.joined_at
                   ELSE excluded.joined_at END,
  left_at = NULL
RETURNING id]]

local LEAVE = [[
UPDATE chat_room_members SET left_at = $3::timestamp
WHERE chat_room_id = $1 AND member_id = $2 AND left_at IS NULL
RETURNING id]]

local ROOM_STUDY = "SELECT study_id FROM chat_rooms WHERE id = $1"

M.now = db.now

-- ChatRoomResponse, fields in the order of the original's record.
function M.response(row)
  return json.object {
    "id", row.id, "studyId", row.study_id, "name", row.name, "isActive", row.is_active,
    "memberCount", row.member_count, "createdAt", db.iso(row.created_at),
  }
end

function M.find(room_id)
  local row, err = db.one(SELECT_BY_ID, room_id)
  if row == nil then return nil, err end
  if not row then return nil, new(errors.ROOM_NOT_FOUND, room_id) end
  return row
end

function M.find_by_study(study_id)
  local row, err = db.one(SELECT_BY_STUDY, study_id)
  if row == nil then return nil, err end
  if not row then return nil, new(errors.STUDY_ROOM_NOT_FOUND, study_id) end
  return row
end

-- Endpoint 1 (study_has_room when the study has a room) and, with `reuse`, endpoint 9's
-- find-or-create (an existing room is returned, whatever its name).
function M.create(study_id, name, reuse)
  local rows, err = db.query(INSERT_ROOM, study_id, name, db.now())
  -- A concurrent insert of the study's room: as if ON CONFLICT had skipped this one.
  if not rows and not errors.is(err, errors.DB_UNIQUE_VIOLATION) then return nil, err end
  if rows and rows[1] then return rows[1] end
  if reuse then return M.find_by_study(study_id) end
  return nil, new(errors.STUDY_HAS_ROOM, study_id)
end

-- Endpoints 2 and 4 (and 9): adds or reactivates a member; with study_id only if the room
-- belongs to that study. The room row (with the new memberCount), or nil and an error.
function M.add_member(room_id, member_id, nickname, study_id)
  local rows, err = db.query(UPSERT_MEMBER, room_id, member_id, nickname, db.now(), study_id)
  if not rows then
    -- The foreign key: no such room.
    if errors.is(err, errors.DB_FOREIGN_KEY_VIOLATION) then return nil, new(errors.ROOM_NOT_FOUND, room_id) end
    return nil, err
  end
  if not rows[1] then
    -- Only the study check stops the write.
    local room, rerr = db.one(ROOM_STUDY, room_id)
    if room == nil then return nil, rerr end
    if not room then return nil, new(errors.ROOM_NOT_FOUND, room_id) end
    return nil, new(errors.ROOM_NOT_IN_STUDY, room_id, study_id)
  end
  read_marks.invalidate(room_id, member_id)
  return M.find(room_id)
end

-- Endpoint 5: true, or nil and room_not_found / not_a_member when the member is not
-- active in an existing room.
function M.leave(room_id, member_id)
  local rows, err = db.query(LEAVE, room_id, member_id, db.now())
  if not rows then return nil, err end
  if not rows[1] then
    local room, rerr = db.one(ROOM_STUDY, room_id)
    if room == nil then return nil, rerr end
    if not room then return nil, new(errors.ROOM_NOT_FOUND, room_id) end
    return nil, new(errors.NOT_A_MEMBER, "member", member_id, room_id)
  end
  read_marks.invalidate(room_id, member_id)
  return true
end

return M
