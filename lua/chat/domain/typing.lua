--[[ Typing indicators (a chatd addition, docs/protocol.md; issue 17). Nothing is stored in
PostgreSQL: a member typing is published on Redis chat:typing as
{"chatRoomId","memberId","nickname","typing"} and every instance pushes
{"memberId","nickname","typing"} to its subscribers of /topic/chatroom/{id}/typing (this
instance's own subscribers only when Redis cannot publish).

  typing.start(session_id, room_id, member_id, nickname) -> true (pushed) | false (dropped)
  typing.stop(session_id, room_id, member_id)   the member left the room
  typing.session_closed(session_id)             the STOMP session dropped
  typing.on_redis_message(payload)

Rate limit, per instance: at most one push per member and room per second; extra ones are
dropped silently. The same in-memory table, keyed by session, remembers the rooms a session
typed in, so that leaving the room or dropping the session pushes typing:false once for each
room typed in during the last CLEAR_WINDOW seconds. Entries older than that are pruned. ]]

local chat = require "chat.core"
local json = require "chat.lib.json"
local throttled_log = require "chat.lib.throttled_log"

local fmt, mtype = string.format, math.type

local M = {}

M.CHANNEL = "chat:typing"
M.MIN_INTERVAL = 1      -- seconds between two pushes of one member in one room
M.CLEAR_WINDOW = 10     -- seconds: typing this recent is cleared on leave or disconnect

-- last_push["room:member"] = chat.now() of the last push
-- sessions[session_id][room_id] = { member = id, nickname = text|nil, at = chat.now() }
local last_push, sessions = {}, {}
local last_prune = 0

local function prune(now)
  if now - last_prune < M.MIN_INTERVAL then return end
  last_prune = now
  for key, at in pairs(last_push) do
    if now - at >= M.MIN_INTERVAL then last_push[key] = nil end
  end
  for sid, rooms in pairs(sessions) do
    for room, e in pairs(rooms) do
      if now - e.at > M.CLEAR_WINDOW then rooms[room] = nil end
    end
    if next(rooms) == nil then sessions[sid] = nil end
  end
end


local function topic(room_id) return fmt("/topic/chatroom/%d/typing", room_id) end
local function nick_json(nickname)
  if nickname == nil or nickname == json.null then return "null" end
  return json.quote(nickname)
end
local function update_json(member_id, nickname, typing)
  return fmt('{"memberId":%d,"nickname":%s,"typing":%s}', member_id, nick_json(nickname), tostring(typing))
end

local log_publish_failed = throttled_log.new("warn")

local function publish(room_id, member_id, nickname, typing)
  local payload = fmt('{"chatRoomId":%d,"memberId":%d,"nickname":%s,"typing":%s}', room_id, member_id,
    nick_json(nickname), tostring(typing))
  local ok, err = chat.redis.publish_room(M.CHANNEL, room_id, payload)
  if not ok then
    log_publish_failed("cannot publish a typing indicator (%s); pushing it to this instance's subscribers only",
      tostring(err))
    chat.stomp.broadcast(topic(room_id), update_json(member_id, nickname, typing))
  end
end

function M.start(session_id, room_id, member_id, nickname)
  local now = chat.now()
  prune(now)
  local rooms = sessions[session_id]
  if not rooms then rooms = {}; sessions[session_id] = rooms end
  rooms[room_id] = { member = member_id, nickname = nickname, at = now }
  local key = room_id .. ":" .. member_id
  local last = last_push[key]
  if last and now - last < M.MIN_INTERVAL then return false end
  last_push[key] = now
  publish(room_id, member_id, nickname, true)
  return true
end

local function clear(rooms, room_id, now)
  local e = rooms[room_id]
  rooms[room_id] = nil
  if e and now - e.at <= M.CLEAR_WINDOW then
    last_push[room_id .. ":" .. e.member] = nil
    publish(room_id, e.member, e.nickname, false)
  end
end

function M.stop(session_id, room_id, member_id)
  local rooms = sessions[session_id]
  if not rooms or not rooms[room_id] or rooms[room_id].member ~= member_id then return end
  clear(rooms, room_id, chat.now())
  if next(rooms) == nil then sessions[session_id] = nil end
end

function M.session_closed(session_id)
  local rooms = sessions[session_id]
  if not rooms then return end
  sessions[session_id] = nil
  local now = chat.now()
  local ids = {}
  for room_id in pairs(rooms) do ids[#ids + 1] = room_id end
  table.sort(ids)
  for _, room_id in ipairs(ids) do clear(rooms, room_id, now) end
end

local log_malformed = throttled_log.new("warn")

-- A typing indicator from any instance: deliver it to this instance's subscribers.
function M.on_redis_message(payload)
  local msg = json.decode(payload)
  if type(msg) ~= "table" or mtype(msg.chatRoomId) ~= "integer" or mtype(msg.memberId) ~= "integer"
      or type(msg.typing) ~= "boolean"
      or (msg.nickname ~= nil and msg.nickname ~= json.null and type(msg.nickname) ~= "string") then
    log_malformed("ignoring a malformed typing indicator on %s: %s", M.CHANNEL, tostring(payload):sub(1, 200))
    return
  end
  chat.stomp.broadcast(topic(msg.chatRoomId), update_json(msg.memberId, msg.nickname, msg.typing))
end

return M
