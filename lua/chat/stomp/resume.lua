--[[ Messages a subscriber missed, read back from PostgreSQL (docs/protocol.md, "Resuming a
room"). The C core holds live messages while these are read and writes each message to a
subscriber once (core/stomp_resume.c, core/stomp_catch_up.c); this module decides what to
read and how a replay looks.

  frames | nil, err = resume.replay(room_id, last_id_text)
      SUBSCRIBE /topic/chatroom/{id} with last-message-id: the messages after it in id
      order, each with the header resume:replay; or, when more than LIMIT were stored
      since, one frame with resume:gap telling the client to load history instead.
  frames | nil, err = resume.catch_up(floors, since)
      after the Redis Pub/Sub link was down: for every room topic this instance serves, the
      messages after its floor id (at most LIMIT per room), as {destination, id, body}.

Frames are what the C core writes: { id = message id, body = JSON text, headers = {...} }. ]]

local chat = require "chat.core"
local db = require "chat.lib.db"
local delivery = require "chat.stomp.delivery"
local errors = require "chat.errors"

local fmt, concat, tointeger = string.format, table.concat, math.tointeger
local new = errors.new

local M = {}

M.LIMIT = chat.config.resume_max_messages or 1000
M.REPLAYED = { resume = "replay" }
M.GAP = { resume = "gap" }

local COLUMNS = "m.id, m.chat_room_id, m.sender_id, m.sender_nickname, m.content, m.message_type, "
  .. db.timestamp("m.created_at", "created_at")

-- The (chat_room_id, id) index answers both queries in id order and stops at the limit.
local AFTER_ID = "SELECT " .. COLUMNS .. [[
 FROM chat_messages m WHERE m.chat_room_id = $1 AND m.id > $2 ORDER BY m.id LIMIT $3]]

local AFTER_IDS = "SELECT " .. COLUMNS .. [[
 FROM unnest($1::bigint[], $2::bigint[]) AS f(room, after)
 CROSS JOIN LATERAL (
   SELECT * FROM chat_messages c WHERE c.chat_room_id = f.room AND c.id > f.after ORDER BY c.id LIMIT $3
 ) m
 ORDER BY m.id]]

-- For an instance that had seen no message before the link went down: the newest message
-- stored before then, found from the end of the primary key.
local LAST_BEFORE = "SELECT coalesce(max(id), 0) AS id FROM (SELECT id FROM chat_messages"
  .. " WHERE created_at < $1::timestamp ORDER BY id DESC LIMIT 1) last"

-- How long before the link's loss was noticed messages may have been lost: a silent Redis
-- is noticed only after CHAT_REDIS_TIMEOUT_MS.
local LOSS_MARGIN_S = 5

local function message_of(row)
  return {
    chatRoomId = row.chat_room_id, id = row.id, senderId = row.sender_id,
    senderNickname = row.sender_nickname, content = row.content, messageType = row.message_type,
    createdAt = db.iso(row.created_at),
  }
end

-- last-message-id: a message id as decimal digits (0 replays the room from its start).
local function parse_id(text)
  if type(text) ~= "string" or not text:match("^%d+$") or #text > 19 then return nil end
  return tointeger(tonumber(text))
end

function M.replay(room_id, last_id_text)
  local last_id = parse_id(last_id_text)
  if not last_id then return nil, new(errors.RESUME_ID_INVALID, tostring(last_id_text)) end
  local rows, err = db.query(AFTER_ID, room_id, last_id, M.LIMIT + 1)
  if not rows then return nil, err end
  if #rows > M.LIMIT then
    return { {
      body = fmt('{"resume":"GAP","chatRoomId":%d,"lastMessageId":%d,"limit":%d}', room_id, last_id, M.LIMIT),
      headers = M.GAP,
    } }
  end
  local frames = {}
  for i, row in ipairs(rows) do
    frames[i] = { id = row.id, body = delivery.message_json(message_of(row)), headers = M.REPLAYED }
  end
  return frames
end

local ATTEMPTS, RETRY_AFTER_S = 3, 1

local function query_retrying(sql, ...)
  local rows, err
  for attempt = 1, ATTEMPTS do
    rows, err = db.query(sql, ...)
    if rows or not errors.is(err, errors.DB_UNAVAILABLE) then break end
    if attempt < ATTEMPTS then chat.sleep(RETRY_AFTER_S) end
  end
  return rows, err
end

function M.catch_up(floors, since)
  local rooms, afters, unknown = {}, {}, nil
  for destination, floor in pairs(floors) do
    local room = tointeger(tonumber(destination:match("^/topic/chatroom/(%d+)$")))
    if room then
      rooms[#rooms + 1] = room
      afters[#afters + 1] = floor
      if floor == 0 then unknown = true end
    end
  end
  if #rooms == 0 then return {} end
  if unknown then
    local last, err = query_retrying(LAST_BEFORE, chat.localtime(since - LOSS_MARGIN_S, db.ZONE))
    if not last then return nil, err end
    for i, floor in ipairs(afters) do
      if floor == 0 then afters[i] = last[1].id end
    end
  end
  local rows, err = query_retrying(AFTER_IDS, "{" .. concat(rooms, ",") .. "}",
                                   "{" .. concat(afters, ",") .. "}", M.LIMIT + 1)
  if not rows then return nil, err end
  local frames, per_room, overflow = {}, {}, {}
  for _, row in ipairs(rows) do
    local room = row.chat_room_id
    per_room[room] = (per_room[room] or 0) + 1
    if per_room[room] <= M.LIMIT then
      frames[#frames + 1] = { destination = delivery.topic(room), id = row.id,
                              body = delivery.message_json(message_of(row)) }
    else
      overflow[#overflow + 1] = room
    end
  end
  if #overflow > 0 then
    chat.log.warn("after the Redis outage, rooms %s had more than %d messages to catch up; "
      .. "subscribers got the first %d (the rest are in history)", concat(overflow, ","), M.LIMIT, M.LIMIT)
  end
  return frames
end

return M
