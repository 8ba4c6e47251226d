--[[ Read marks and unread counts (CONTRACT §3, endpoints 7 and 8), and live read state
(a chatd addition, docs/protocol.md): GET .../read-marks lists every active member's mark,
and a mark that moved is pushed to /topic/chatroom/{id}/read on every instance through
Redis chat:read-marks.

Counted: CHAT messages of the room with id > last_read_message_id (null = 0) that the
reader did not send (fix: the original also counted the reader's own messages). Only an
active member has a count; anyone else is 404.

The count is cached in Redis under chat:unread:count:{room}:{member} for 5 minutes and is
never served stale after a commit (fix: the original deleted keys with KEYS, before commit):

  * every write that can change a room's counts (a stored message, a read mark, a member
    joining or leaving) calls M.invalidate(room) AFTER it committed: INCR of the room's
    generation chat:unread:gen:{room};
  * a cached value is "<gen>:<count>"; a reader fetches it and the generation in one
    MGET (a missing generation is "0") and serves it only when the generations match;
  * on a miss the reader counts in PostgreSQL and stores "<gen read BEFORE counting>:n".
    A write committing during the count bumps the generation, so that value is already
    outdated when it is stored and is never served.

No KEYS, no delete races. Redis failures never fail a request: the count comes from
PostgreSQL and a warning is logged. The same generation vouches for the history pages kept
in memory by chat/domain/history_cache.lua, so every stored message moves it, JOIN and
LEAVE included.

A mixed fleet (CHAT_MIXED_FLEET, on by default): original pods cache their own count (all
messages after the mark, theirs included) as a JSON number under chat:unread:{room}:{member}
and fail on anything else there, so chatd never writes that key. They invalidate with DEL
before their commit and never move chatd's generation, so while they are in the fleet chatd
counts in PostgreSQL on every read instead of caching, and after each of its own commits it
deletes the original's cached counts that the write outdated, as the original does (the
member's key, or every key of the room found with KEYS for a new message). ]]

local chat = require "chat.core"
local db = require "chat.lib.db"
local errors = require "chat.errors"
local json = require "chat.lib.json"
local membership = require "chat.domain.membership"
local throttled_log = require "chat.lib.throttled_log"

local fmt, tointeger, tonumber = string.format, math.tointeger, tonumber
local new = errors.new

local M = {}

local log_publish_failed = throttled_log.new("warn")

M.CACHE_TTL_SECONDS = 300

local COUNT_UNREAD = [[
SELECT (SELECT count(*) FROM chat_messages c
         WHERE c.chat_room_id = m.chat_room_id
           AND c.id > coalesce(m.last_read_message_id, 0)
           AND c.message_type = 'CHAT'
           AND c.sender_id <> m.member_id) AS unread
FROM chat_room_members m
WHERE m.chat_room_id = $1 AND m.member_id = $2 AND m.left_at IS NULL]]

-- The mark only moves forward, and only to a message of this room (fix). One statement:
-- the membership check and the write cannot be split by a concurrent leave. `previous` is
-- the mark before this statement (its snapshot: the statement does not see its own write),
-- so the caller can tell whether the mark moved. (Two concurrent marks of one member may
-- both say "moved" for the same value: at worst a live update is pushed twice.)
local MARK_READ = [[
UPDATE chat_room_members m
SET last_read_message_id = greatest(coalesce(m.last_read_message_id, 0), $3::bigint)
WHERE m.chat_room_id = $1 AND m.member_id = $2 AND m.left_at IS NULL
  AND EXISTS (SELECT 1 FROM chat_messages c WHERE c.id = $3 AND c.chat_room_id = $1)
RETURNING m.last_read_message_id,
  (SELECT o.last_read_message_id FROM chat_room_members o
    WHERE o.chat_room_id = $1 AND o.member_id = $2) AS previous]]

-- Every active member's mark, ordered by member id; the room row alone (member_id NULL)
-- when it has no active member, no row at all when there is no such room.
local LIST_MARKS = [[
SELECT m.member_id, m.last_read_message_id
FROM chat_rooms r
LEFT JOIN chat_room_members m ON m.chat_room_id = r.id AND m.left_at IS NULL
WHERE r.id = $1
ORDER BY m.member_id]]

-- Live read state (a chatd addition): a moved mark is published on this channel as
-- {"chatRoomId","memberId","lastReadMessageId"} and every instance pushes
-- {"memberId","lastReadMessageId"} to its subscribers of /topic/chatroom/{id}/read.
M.CHANNEL = "chat:read-marks"


M.MIXED_FLEET = chat.config.mixed_fleet ~= false

-- On a Redis Cluster the room id is their hash tag: a room's counts and generation are one
-- MGET on one shard (and beside the room's channels and presence).
local TAG = chat.config.redis_cluster and "{%d}" or "%d"
local COUNT_KEY, GEN_KEY = "chat:unread:count:" .. TAG .. ":%d", "chat:unread:gen:" .. TAG
function M.cache_key(room_id, member_id) return fmt(COUNT_KEY, room_id, member_id) end
function M.gen_key(room_id) return fmt(GEN_KEY, room_id) end
-- The original pods' cache (a JSON number), and the pattern of a room's keys there.
function M.original_key(room_id, member_id) return fmt("chat:unread:%d:%d", room_id, member_id) end
function M.original_pattern(room_id) return fmt("chat:unread:%d:*", room_id) end

-- The generation moves and the original's outdated counts go, in one round trip.
-- ARGV[1]: the one key to delete, or "" for every key matching ARGV[2].
local INVALIDATE_MIXED = [[
redis.call('INCR', KEYS[1])
local keys = ARGV[1] ~= '' and { ARGV[1] } or redis.call('KEYS', ARGV[2])
for i = 1, #keys, 500 do redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys))) end
return #keys]]

-- Call after a committed change to the room's messages, read marks or members: every
-- cached count of the room is outdated from now on. member_id: the change concerns that
-- member's count only (a read mark, a join or leave), which narrows what a mixed fleet's
-- original pods must forget.
--
-- When Redis cannot take it, the room is remembered here: this instance counts the room in
-- PostgreSQL without the cache, and tries again (for the whole room) on the room's next read
-- or write, so a count cached before the outage is not served again when Redis comes back
-- with its data (a restart that kept it, a network blip).
local pending = {}

-- The Redis command that invalidates the room (for member_id's change, if given).
local function invalidation(room_id, member_id)
  if M.MIXED_FLEET then
    local one = (member_id and not pending[room_id]) and M.original_key(room_id, member_id) or ""
    return { "EVAL", INVALIDATE_MIXED, 1, M.gen_key(room_id), one, M.original_pattern(room_id) }
  end
  return { "INCR", M.gen_key(room_id) }
end

-- Notes how the room's invalidation went (err: nil when it went through).
local function settle(room_id, err)
  if err == nil then
    pending[room_id] = nil
    return true
  end
  if not pending[room_id] then
    chat.log.warn("cannot invalidate the unread counts of chat room %d: %s", room_id, tostring(err))
  end
  pending[room_id] = true
  return false
end

function M.invalidate(room_id, member_id)
  local ok, err = chat.redis.call(table.unpack(invalidation(room_id, member_id)))
  return settle(room_id, not ok and (err or "no reply") or nil)
end

-- M.invalidate for every room of the list (whole rooms), in one round trip: a stored batch
-- of messages touches up to its size in rooms, and one command after another would hold
-- the batch's publishes back a loop turn per room.
function M.invalidate_rooms(room_ids)
  local commands = {}
  for i, room_id in ipairs(room_ids) do commands[i] = invalidation(room_id) end
  if #commands == 0 then return end
  local _, errs = chat.redis.pipeline(commands)
  for i, room_id in ipairs(room_ids) do settle(room_id, errs and errs[i]) end
end

-- Whether the room's generation can be trusted on this instance: no invalidation of it is
-- pending here, or the pending one has just gone through.
function M.settled(room_id)
  return not pending[room_id] or M.invalidate(room_id)
end

-- Every pending invalidation tried again (the command link to Redis is back); one that
-- still fails stays pending.
function M.retry_pending()
  for room_id in pairs(pending) do M.invalidate(room_id) end
end

-- Why a room/member pair matched nothing: no such room, or not an active member (or
-- the database's error when it cannot say). nil when the member is active.
local function membership_error(room_id, member_id)
  local row, err = membership.of(room_id, member_id)
  if row == nil then return err end
  if not row.room then return new(errors.ROOM_NOT_FOUND, room_id) end
  if not row.member then return new(errors.NOT_A_MEMBER, "member", member_id, room_id) end
  return nil
end

-- Endpoint 7. true, or nil and an error: room_not_found, not_a_member,
-- message_not_in_room or the database's.
function M.mark(room_id, member_id, message_id)
  local rows, err = db.query(MARK_READ, room_id, member_id, message_id)
  if not rows then return nil, err end
  if not rows[1] then
    return nil, membership_error(room_id, member_id) or new(errors.MESSAGE_NOT_IN_ROOM, message_id, room_id)
  end
  M.invalidate(room_id, member_id)
  local mark = tointeger(rows[1].last_read_message_id)
  if mark and mark ~= tointeger(rows[1].previous) then M.publish(room_id, member_id, mark) end
  return true
end

local function topic(room_id) return fmt("/topic/chatroom/%d/read", room_id) end
local function update_json(member_id, mark) return fmt('{"memberId":%d,"lastReadMessageId":%d}', member_id, mark) end

-- Tells every instance (this one included, through its subscription) that a member's mark
-- moved; if Redis cannot take it, this instance's own subscribers still learn of it.
function M.publish(room_id, member_id, mark)
  local payload = fmt('{"chatRoomId":%d,"memberId":%d,"lastReadMessageId":%d}', room_id, member_id, mark)
  local ok, err = chat.redis.publish_room(M.CHANNEL, room_id, payload)
  if not ok then
    log_publish_failed("cannot publish a read mark (%s); pushing it to this instance's subscribers only",
      tostring(err))
    chat.stomp.broadcast(topic(room_id), update_json(member_id, mark))
  end
end

local log_malformed = throttled_log.new("warn")

-- A moved mark from any instance: deliver it to this instance's subscribers of the room.
function M.on_redis_message(payload)
  local msg = json.decode(payload)
  if type(msg) ~= "table" or math.type(msg.chatRoomId) ~= "integer" or math.type(msg.memberId) ~= "integer"
      or math.type(msg.lastReadMessageId) ~= "integer" then
    log_malformed("ignoring a malformed read mark on %s: %s", M.CHANNEL, tostring(payload):sub(1, 200))
    return
  end
  chat.stomp.broadcast(topic(msg.chatRoomId), update_json(msg.memberId, msg.lastReadMessageId))
end

-- Every active member's mark as the JSON array clients get, ordered by member id (null
-- for a member who has not read yet), or nil and an error: room_not_found or the
-- database's.
function M.list(room_id)
  local rows, err = db.query(LIST_MARKS, room_id)
  if not rows then return nil, err end
  if not rows[1] then return nil, new(errors.ROOM_NOT_FOUND, room_id) end
  local marks = {}
  for _, row in ipairs(rows) do
    if row.member_id ~= nil then
      marks[#marks + 1] = json.object { "memberId", row.member_id,
        "lastReadMessageId", row.last_read_message_id == nil and json.null or row.last_read_message_id }
    end
  end
  return json.array(marks)
end

local log_cache_unavailable = throttled_log.new("warn")

-- The cached count when it belongs to the current generation; else nil and the current
-- generation (nil when Redis is unavailable: then nothing is stored either).
local function cached(room_id, member_id)
  local reply, err = chat.redis.call("MGET", M.cache_key(room_id, member_id), M.gen_key(room_id))
  if type(reply) ~= "table" then
    log_cache_unavailable("unread cache unavailable, counting in PostgreSQL: %s", tostring(err))
    return nil, nil
  end
  local value, gen = reply[1], reply[2]
  if type(gen) ~= "string" then gen = "0" end
  if type(value) == "string" then
    local vgen, count = value:match("^(%d+):(%d+)$")
    if vgen == gen then return tointeger(tonumber(count)), gen end
  end
  return nil, gen
end

-- Endpoint 8. The count, or nil and an error: room_not_found, not_a_member or the
-- database's.
function M.unread(room_id, member_id)
  local count, gen
  -- A failed invalidation is tried again first (in a mixed fleet too: the original pods'
  -- outdated counts go with it). While it fails, or while original pods may write (they
  -- never move the generation), the count comes from PostgreSQL and nothing is cached.
  if M.settled(room_id) and not M.MIXED_FLEET then count, gen = cached(room_id, member_id) end
  if count then return count end
  local row, err = db.one(COUNT_UNREAD, room_id, member_id)
  if row == nil then return nil, err end
  if not row then
    -- No active member row (a member who joined between the two statements is still
    -- answered not_a_member, as the count said).
    return nil, membership_error(room_id, member_id) or new(errors.NOT_A_MEMBER, "member", member_id, room_id)
  end
  count = tointeger(row.unread) or 0
  if gen then
    local ok, rerr = chat.redis.call("SET", M.cache_key(room_id, member_id), gen .. ":" .. count,
                                     "EX", M.CACHE_TTL_SECONDS)
    if not ok then chat.log.warn("cannot cache an unread count: %s", tostring(rerr)) end
  end
  return count
end

return M
