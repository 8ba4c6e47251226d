--[[ Who is in a room right now, across every chatd instance (CONTRACT §4, §5).

Redis holds it, so it outlives a reload and crosses pods:
  chatroom:presence:{roomId}   hash  memberId -> the entry {"memberId","nickname","sessionId","joinedAt"}
  chatroom:session:{sessionId} hash  roomId -> memberId   (what to clean when the session drops)
Both expire after 24 h so a crashed pod's sessions cannot haunt a room forever.

Each instance also remembers its own sessions' entries, so that after a Redis outage (a
restarted Redis has lost them) presence.restore() writes them back and pushes the lists.
That memory is per script generation: a reload starts it afresh, and sessions present
before the reload are restored only if Redis kept them.

The presence hash is shared with original pods in a mixed fleet (CONTRACT §5). Their Redis
serializer stores each entry as a JSON *string* holding the entry's JSON, and fails on
anything else, so chatd writes that form too and reads both. Session keys are private to
the pod that owns the session (the original keeps a string "room:member" there). ]]

local chat = require "chat.core"
local json = require "chat.lib.json"
local throttled_log = require "chat.lib.throttled_log"

local fmt = string.format

local M = {}

local TTL_SECONDS = 24 * 60 * 60
M.CHANNEL = "chat:presence"

-- mine[session_id][room_id] = { member = id, entry = the stored JSON string }
local mine = {}

local function remember(session_id, room_id, member_id, stored)
  local rooms = mine[session_id]
  if not rooms then
    rooms = {}
    mine[session_id] = rooms
  end
  rooms[room_id] = { member = member_id, entry = stored }
end

local function forget(session_id, room_id)
  local rooms = mine[session_id]
  if not rooms then return end
  rooms[room_id] = nil
  if next(rooms) == nil then mine[session_id] = nil end
end

-- On a Redis Cluster the room id is the presence key's hash tag, so a room's keys and its
-- channels share a shard; the original (never on a cluster) reads the plain name.
local PRESENCE_KEY = chat.config.redis_cluster and "chatroom:presence:{%d}" or "chatroom:presence:%d"
local function presence_key(room_id) return fmt(PRESENCE_KEY, room_id) end
local function session_key(session_id) return fmt("chatroom:session:%s", session_id) end

-- Every write touches one key per command, so a room's hash and a session's (on different
-- shards of a Redis Cluster) never meet in one script; the commands of one change go
-- together in one round trip (chat.redis.pipeline). An entry written without its session
-- record (a pod dying in between) expires with its TTL.

-- One hash field and the hash's expiry, atomically (no entry without TTL).
local SET_ONE = [[
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1]]

-- Removes a member's entry only if it still belongs to this session: the same member may
-- have joined again from another tab, and that newer entry must survive this one's close.
-- ARGV[2] and ARGV[3]: the owner's mark, plain and escaped.
local REMOVE_IF_OWNED = [[
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if cur and (string.find(cur, ARGV[2], 1, true) or string.find(cur, ARGV[3], 1, true)) then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0]]

-- The commands writing a room's entry and the session's record of it, appended to `out`.
local function put_commands(out, room_id, member_id, stored, session_id)
  out[#out + 1] = { "EVAL", SET_ONE, 1, presence_key(room_id), tostring(member_id), stored, TTL_SECONDS }
  out[#out + 1] = { "EVAL", SET_ONE, 1, session_key(session_id), tostring(room_id), tostring(member_id), TTL_SECONDS }
  return out
end

-- Runs the commands in one round trip: true, or nil and the first failure.
local function run(commands)
  local _, errors = chat.redis.pipeline(commands)
  if errors then return nil, errors[next(errors)] end
  return true
end

function M.add(room_id, member_id, nickname, session_id)
  local entry = json.encode_ordered({
    {"memberId", member_id}, {"nickname", nickname or json.null},
    {"sessionId", session_id}, {"joinedAt", chat.localtime(chat.now())},
  })
  local stored = json.quote(entry)
  remember(session_id, room_id, member_id, stored)
  return run(put_commands({}, room_id, member_id, stored, session_id))
end

function M.remove(room_id, member_id, session_id)
  forget(session_id, room_id)
  -- The owner's mark in an entry, as chatd and the original store it (a JSON string, so
  -- its quotes are escaped) and as earlier chatd versions did (a plain object).
  local owned = '"sessionId":"' .. session_id .. '"'
  local escaped = (owned:gsub('"', '\\"'))
  -- The session's record goes either way.
  return run {
    { "HDEL", session_key(session_id), tostring(room_id) },
    { "EVAL", REMOVE_IF_OWNED, 1, presence_key(room_id), tostring(member_id), owned, escaped },
  }
end

-- The presence list of a room as the JSON array clients receive, sorted by joinedAt.
function M.list_json(room_id)
  local flat, err = chat.redis.call("HGETALL", presence_key(room_id))
  if not flat then return nil, err end
  local entries = {}
  for i = 2, #flat, 2 do
    local raw = flat[i]
    if raw:sub(1, 1) == '"' then raw = json.decode(raw) end
    local entry = type(raw) == "string" and json.decode(raw)
    -- Only an object with a text joinedAt is an entry (what both kinds of pod write); anything
    -- else in the hash is left out rather than passed to clients or failing the sort.
    if type(entry) == "table" and entry ~= json.null and not json.is_array(entry)
        and type(entry.joinedAt) == "string" then
      entries[#entries + 1] = { raw = raw, at = entry.joinedAt }
    end
  end
  table.sort(entries, function(a, b) return a.at < b.at end)
  local parts = {}
  for i, e in ipairs(entries) do parts[i] = e.raw end
  return "[" .. table.concat(parts, ",") .. "]"
end

-- Whether this session made the member present in the room (and has not left it).
function M.is_present(session_id, room_id, member_id)
  local member = chat.redis.call("HGET", session_key(session_id), tostring(room_id))
  return member ~= nil and member ~= chat.null and math.tointeger(tonumber(member)) == member_id
end

-- Rooms a session had joined, for clean-up when it drops: { [room_id] = member_id }.
function M.session_rooms(session_id)
  local rooms = {}
  for room_id, e in pairs(mine[session_id] or {}) do rooms[room_id] = e.member end
  mine[session_id] = nil
  local flat, err = chat.redis.call("HGETALL", session_key(session_id))
  if not flat then return next(rooms) and rooms or nil, err end
  for i = 1, #flat, 2 do rooms[math.tointeger(tonumber(flat[i]))] = math.tointeger(tonumber(flat[i + 1])) end
  chat.redis.call("DEL", session_key(session_id))
  return rooms
end

-- Entries per round trip when restoring (two commands each; a pipeline takes 1,024).
local RESTORE_BATCH = 250

-- Writes this instance's sessions' entries back to Redis (they are unchanged if Redis kept
-- them) and pushes the lists of their rooms. Returns how many entries, or nil and an error.
function M.restore()
  -- A snapshot first: sessions may join or leave while the batches wait for Redis.
  local entries = {}
  for session_id, rooms in pairs(mine) do
    for room_id, e in pairs(rooms) do
      entries[#entries + 1] = { room = room_id, member = e.member, entry = e.entry, session = session_id }
    end
  end
  for first = 1, #entries, RESTORE_BATCH do
    local commands, rooms = {}, {}
    for i = first, math.min(first + RESTORE_BATCH - 1, #entries) do
      local e = entries[i]
      put_commands(commands, e.room, e.member, e.entry, e.session)
      rooms[e.room] = true
    end
    local ok, err = run(commands)
    if not ok then
      chat.log.warn("cannot restore presence after the Redis outage: %s", tostring(err))
      return nil, err
    end
    for room_id in pairs(rooms) do M.publish(room_id) end
  end
  if #entries > 0 then chat.log.info("restored %d presence entries after the Redis outage", #entries) end
  return #entries
end

-- Tells every instance (this one included, through its subscription) to push the list.
function M.publish(room_id)
  local list, err = M.list_json(room_id)
  if not list then return nil, err end
  local msg = fmt('{"chatRoomId":%d,"members":%s}', room_id, list)
  local ok = chat.redis.publish_room(M.CHANNEL, room_id, msg)
  if not ok then
    -- Redis Pub/Sub is down: at least this instance's subscribers see the change.
    chat.stomp.broadcast(fmt("/topic/chatroom/%d/presence", room_id), list)
  end
  return true
end

-- The room's list to this instance's subscribers only (every instance does this for the
-- JOIN or LEAVE message it delivers).
function M.push_local(room_id)
  local list, err = M.list_json(room_id)
  if not list then
    chat.log.warn("cannot read the presence of chat room %d: %s", room_id, tostring(err))
    return
  end
  chat.stomp.broadcast(fmt("/topic/chatroom/%d/presence", room_id), list)
end

local log_malformed = throttled_log.new("warn")

-- A presence update from any instance: deliver it to this instance's subscribers.
function M.on_redis_message(payload)
  local msg = json.decode(payload)
  if type(msg) ~= "table" or math.type(msg.chatRoomId) ~= "integer" then
    log_malformed("ignoring a malformed presence update: %s", payload:sub(1, 200))
    return
  end
  local list = payload:match('"members":(%b[])')
  chat.stomp.broadcast(fmt("/topic/chatroom/%d/presence", msg.chatRoomId), list or "[]")
end


return M
