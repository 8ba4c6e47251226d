--[[ Chat rooms and their members (CONTRACT §3, §7). Functions return a value, or nil
plus a web failure; every membership change bumps the room's unread generation. ]]

local chat = require "chat.core"
local json = require "chat.json"
local read_marks = require "chat.read_marks"
local web = require "chat.web"

local fmt = string.format

local M = {}

local ROOM_COLUMNS = [[
  r.id, r.study_id, r.name, r.is_active, r.created_at::text AS created_at,
  (SELECT count(*) FROM chat_room_members m
    WHERE m.chat_room_id = r.id AND m.left_at IS NULL) AS member_count]]

local SELECT_BY_ID = "SELECT" .. ROOM_COLUMNS .. " FROM chat_rooms r WHERE r.id = $1"
local SELECT_BY_STUDY = "SELECT" .. ROOM_COLUMNS .. " FROM chat_rooms r WHERE r.study_id = $1"

local INSERT_ROOM = [[
INSERT INTO chat_rooms (study_id, name, is_active, created_at)
VALUES ($1, $2, true, $3::timestamp)
ON CONFLICT (study_id) DO NOTHING
RETURNING id]]

-- Adds a member or brings a former one back (fix: the original hit the unique key).
-- A member who is already active keeps their joined_at.
local UPSERT_MEMBER = [[
INSERT INTO chat_room_members (chat_room_id, member_id, sender_nickname, joined_at)
SELECT $1, $2, $3, $4::timestamp
WHERE ($5::bigint IS NULL OR EXISTS (SELECT 1 FROM chat_rooms WHERE id = $1 AND study_id = $5))
ON CONFLICT (chat_room_id, member_id) DO UPDATE SET
  sender_nickname = coalesce(excluded.sender_nickname, chat_room_members.sender_nickname),
  joined_at = CASE WHEN chat_room_members.left_at IS NULL THEN chat_room_members.joined_at
                   ELSE excluded.joined_at END,
  left_at = NULL
RETURNING id]]

local LEAVE = [[
UPDATE chat_room_members SET left_at = $3::timestamp
WHERE chat_room_id = $1 AND member_id = $2 AND left_at IS NULL]]

M.ROOM_NOT_FOUND = "chat room %d does not exist"
M.STUDY_ROOM_NOT_FOUND = "study %d has no chat room"
M.ROOM_NOT_IN_STUDY = "chat room %d does not belong to study %d"
M.STUDY_HAS_ROOM = "study %d already has a chat room"
M.NOT_A_MEMBER = "member %d is not an active member of chat room %d"

function M.now() return chat.localtime(chat.now()) end

-- "2025-01-09 14:30:00.123456" (PostgreSQL) -> "2025-01-09T14:30:00.123456" (Jackson).
function M.iso(ts) return ts and (ts:gsub(" ", "T", 1)) or nil end

function M.response(row)
  return json.object {
    "id", row.id, "studyId", row.study_id, "name", row.name, "isActive", row.is_active,
    "memberCount", row.member_count, "createdAt", M.iso(row.created_at),
  }
end

local function one(sql, ...)
  local rows, err, state = chat.pg.query(sql, ...)
  if not rows then return nil, web.db_failure(err, state) end
  return rows[1] or false
end

function M.find(room_id)
  local row, failure = one(SELECT_BY_ID, room_id)
  if row == nil then return nil, failure end
  if not row then return nil, web.fail(404, fmt(M.ROOM_NOT_FOUND, room_id)) end
  return row
end

function M.find_by_study(study_id)
  local row, failure = one(SELECT_BY_STUDY, study_id)
  if row == nil then return nil, failure end
  if not row then return nil, web.fail(404, fmt(M.STUDY_ROOM_NOT_FOUND, study_id)) end
  return row
end

-- Creates the study's room; `reuse` returns an existing one instead of a 409.
function M.create(study_id, name, reuse)
  local rows, err, state = chat.pg.query(INSERT_ROOM, study_id, name, M.now())
  if not rows then return nil, web.db_failure(err, state) end
  if not rows[1] then
    if reuse then return M.find_by_study(study_id) end
    return nil, web.fail(409, fmt(M.STUDY_HAS_ROOM, study_id))
  end
  return M.find(rows[1].id)
end

-- Adds (or reactivates) a member; with study_id, only if the room belongs to that study.
function M.add_member(room_id, member_id, nickname, study_id)
  local rows, err, state = chat.pg.query(UPSERT_MEMBER, room_id, member_id, nickname, M.now(), study_id)
  if not rows then
    if state == "23503" then return nil, web.fail(404, fmt(M.ROOM_NOT_FOUND, room_id)) end
    return nil, web.db_failure(err, state)
  end
  if not rows[1] then
    -- Only the study check can stop the insert.
    local room = one(SELECT_BY_ID, room_id)
    if not room then return nil, web.fail(404, fmt(M.ROOM_NOT_FOUND, room_id)) end
    return nil, web.fail(404, fmt(M.ROOM_NOT_IN_STUDY, room_id, study_id))
  end
  read_marks.invalidate(room_id)
  return M.find(room_id)
end

function M.leave(room_id, member_id)
  local rows, err, state = chat.pg.query(LEAVE, room_id, member_id, M.now())
  if not rows then return nil, web.db_failure(err, state) end
  if (rows.affected or 0) == 0 then
    local _, failure = M.find(room_id)
    if failure then return nil, failure end
    return nil, web.fail(404, fmt(M.NOT_A_MEMBER, member_id, room_id))
  end
  read_marks.invalidate(room_id)
  return true
end

return M
