--[[ Read marks and unread counts (CONTRACT §3).

The count is cached in Redis under chat:unread:{room}:{member} for 5 minutes, and is
never stale after a commit (fix: the original deleted keys with KEYS, before commit):
every write that can change a room's counts (a message, a read mark, a member joining
or leaving) increments chat:unread:gen:{room} after it committed. A cached value is
"<gen>:<count>" and only served while the room's generation is still <gen>. A reader
takes the generation before it counts, so a write that commits during the count leaves
a value already outdated by the time it is stored: never served. ]]

local chat = require "chat.core"
local web = require "chat.web"

local fmt, tointeger = string.format, math.tointeger

local M = {}

M.CACHE_TTL_SECONDS = 300

local COUNT_UNREAD = [[
SELECT (SELECT count(*) FROM chat_messages c
         WHERE c.chat_room_id = m.chat_room_id
           AND c.id > coalesce(m.last_read_message_id, 0)
           AND c.message_type = 'CHAT'
           AND c.sender_id <> m.member_id) AS unread
FROM chat_room_members m
WHERE m.chat_room_id = $1 AND m.member_id = $2 AND m.left_at IS NULL]]

-- The mark only moves forward, and only to a message of this room (fix).
local MARK_READ = [[
UPDATE chat_room_members m
SET last_read_message_id = greatest(coalesce(m.last_read_message_id, 0), $3)
WHERE m.chat_room_id = $1 AND m.member_id = $2 AND m.left_at IS NULL
  AND EXISTS (SELECT 1 FROM chat_messages c WHERE c.id = $3 AND c.chat_room_id = $1)]]

local ROOM_EXISTS = "SELECT 1 AS ok FROM chat_rooms WHERE id = $1"
local ACTIVE_MEMBER = [[
SELECT 1 AS ok FROM chat_room_members
WHERE chat_room_id = $1 AND member_id = $2 AND left_at IS NULL]]

local NOT_A_MEMBER = "member %d is not an active member of chat room %d"
local ROOM_NOT_FOUND = "chat room %d does not exist"
local MESSAGE_NOT_IN_ROOM = "message %d does not exist in chat room %d"

local function cache_key(room_id, member_id) return fmt("chat:unread:%d:%d", room_id, member_id) end
local function gen_key(room_id) return fmt("chat:unread:gen:%d", room_id) end

-- After a committed change to the room: every cached count of it is outdated.
function M.invalidate(room_id)
  local ok, err = chat.redis.call("INCR", gen_key(room_id))
  if not ok then
    chat.log.warn("cannot invalidate unread counts of room %d: %s", room_id, tostring(err))
  end
end

-- Tells apart "no such room" and "not a member" for a 404 message.
local function membership_failure(room_id, member_id)
  local rows, err, state = chat.pg.query(ROOM_EXISTS, room_id)
  if not rows then return web.db_failure(err, state) end
  if not rows[1] then return web.fail(404, fmt(ROOM_NOT_FOUND, room_id)) end
  return web.fail(404, fmt(NOT_A_MEMBER, member_id, room_id))
end

function M.mark(room_id, member_id, message_id)
  local rows, err, state = chat.pg.query(MARK_READ, room_id, member_id, message_id)
  if not rows then return nil, web.db_failure(err, state) end
  if (rows.affected or 0) == 0 then
    local members, merr, mstate = chat.pg.query(ACTIVE_MEMBER, room_id, member_id)
    if not members then return nil, web.db_failure(merr, mstate) end
    if not members[1] then return nil, membership_failure(room_id, member_id) end
    return nil, web.fail(404, fmt(MESSAGE_NOT_IN_ROOM, message_id, room_id))
  end
  M.invalidate(room_id)
  return true
end

-- Returns the cached count for the current generation, plus the generation seen.
local function cached(room_id, member_id)
  local reply, err = chat.redis.call("MGET", cache_key(room_id, member_id), gen_key(room_id))
  if not reply then
    chat.log.warn("unread cache unavailable: %s", tostring(err))
    return nil, nil
  end
  local value, gen = reply[1], reply[2]
  if gen == chat.null then gen = "0" end
  if value ~= chat.null then
    local vgen, count = value:match("^(%d+):(%d+)$")
    if vgen == gen then return tointeger(tonumber(count)), gen end
  end
  return nil, gen
end

function M.unread(room_id, member_id)
  local count, gen = cached(room_id, member_id)
  if count then return count end
  local rows, err, state = chat.pg.query(COUNT_UNREAD, room_id, member_id)
  if not rows then return nil, web.db_failure(err, state) end
  if not rows[1] then return nil, membership_failure(room_id, member_id) end
  count = rows[1].unread
  if gen then
    chat.redis.call("SET", cache_key(room_id, member_id), gen .. ":" .. count, "EX", M.CACHE_TTL_SECONDS)
  end
  return count
end

return M
