--[[ Chat messages: storing them (STOMP) and paging through history (REST). ]]

local chat = require "chat.core"
local json = require "chat.json"
local read_marks = require "chat.read_marks"
local web = require "chat.web"

local fmt = string.format

local M = {}

M.NOT_A_MEMBER = "not an active member"
M.ROOM_NOT_FOUND = "chat room %d does not exist"
M.MAX_PAGE_SIZE = 2000
M.DEFAULT_PAGE_SIZE = 50
M.INT_MAX = 2147483647

-- With $7 set, the insert happens only if that sender is an active member: the check
-- and the write are one statement, so a member leaving cannot slip between them.
local INSERT_MESSAGE = [[
INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
SELECT $1, $2, $3, $4, $5, $6::timestamp
WHERE $7::bigint IS NULL OR EXISTS (
  SELECT 1 FROM chat_room_members
  WHERE chat_room_id = $1 AND member_id = $7 AND left_at IS NULL)
RETURNING id, created_at::text AS created_at]]

local ACTIVE_MEMBER = [[
SELECT 1 AS ok FROM chat_room_members
WHERE chat_room_id = $1 AND member_id = $2 AND left_at IS NULL]]

local function iso(ts) return ts and (ts:gsub(" ", "T", 1)) or nil end

-- Stores a message; returns it as ChatMessagePublish fields, or nil and a reason.
function M.store(room_id, sender_id, nickname, content, kind, member_check)
  local rows, err, state = chat.pg.query(INSERT_MESSAGE, room_id, sender_id, nickname, content, kind,
                                         chat.localtime(chat.now()), member_check)
  if not rows then
    if state == "23503" then return nil, fmt(M.ROOM_NOT_FOUND, room_id) end
    if state and state:sub(1, 2) == "08" then return nil, "database unavailable" end
    chat.log.error("storing a message failed: %s (%s)", tostring(err), tostring(state))
    return nil, "internal error"
  end
  if not rows[1] then return nil, M.NOT_A_MEMBER end
  read_marks.invalidate(room_id)
  return {
    chatRoomId = room_id, id = rows[1].id, senderId = sender_id, senderNickname = nickname,
    content = content, messageType = kind, createdAt = iso(rows[1].created_at),
  }
end

function M.is_active_member(room_id, member_id)
  local rows = chat.pg.query(ACTIVE_MEMBER, room_id, member_id)
  return rows ~= nil and rows[1] ~= nil
end

local SORT_COLUMNS = { id = "id", createdAt = "created_at" }

-- Spring's `sort` parameters: "property[,asc|desc]", several allowed.
function M.parse_sort(values)
  values = values or { "createdAt,desc" }
  local order = {}
  local last_dir = "DESC"
  for _, v in ipairs(values) do
    local prop, dir = v:match("^([^,]+),?(.*)$")
    local column = SORT_COLUMNS[prop or ""]
    if not column then
      return nil, fmt("cannot sort by '%s': use id or createdAt", tostring(prop))
    end
    dir = dir:lower()
    if dir == "" then dir = "asc" end
    if dir ~= "asc" and dir ~= "desc" then
      return nil, fmt("sort direction must be asc or desc, got '%s'", dir)
    end
    last_dir = dir:upper()
    order[#order + 1] = column .. " " .. last_dir
  end
  -- id breaks ties between equal timestamps, so pages never overlap or skip.
  order[#order + 1] = "id " .. last_dir
  return table.concat(order, ", ")
end

local SORT_STATE = json.object { "empty", false, "sorted", true, "unsorted", false }

function M.response(row, room_id)
  return json.object {
    "id", row.id, "chatRoomId", room_id, "senderId", row.sender_id,
    "senderNickname", row.sender_nickname, "content", row.content,
    "messageType", row.message_type, "createdAt", iso(row.created_at),
  }
end

-- The Spring Data Page JSON of a room's history.
function M.page(room_id, page, size, order_by)
  local rows, err, state = chat.pg.query([[
    SELECT id, sender_id, sender_nickname, content, message_type, created_at::text AS created_at,
           count(*) OVER () AS total
    FROM chat_messages WHERE chat_room_id = $1
    ORDER BY ]] .. order_by .. " LIMIT $2 OFFSET $3", room_id, size, page * size)
  if not rows then return nil, web.db_failure(err, state) end
  local total = rows[1] and rows[1].total
  if not total then
    -- An empty page (or past the end) still needs the total.
    local counted, cerr, cstate = chat.pg.query(
      "SELECT count(*) AS n FROM chat_messages WHERE chat_room_id = $1", room_id)
    if not counted then return nil, web.db_failure(cerr, cstate) end
    total = counted[1].n
  end
  local content = {}
  for i, row in ipairs(rows) do content[i] = M.response(row, room_id) end
  local total_pages = (total + size - 1) // size
  return json.object {
    "content", json.array(content),
    "pageable", json.object {
      "pageNumber", page, "pageSize", size, "sort", SORT_STATE,
      "offset", page * size, "paged", true, "unpaged", false,
    },
    "last", page + 1 >= total_pages, "totalElements", total, "totalPages", total_pages,
    "size", size, "number", page, "sort", SORT_STATE, "first", page == 0,
    "numberOfElements", #content, "empty", #content == 0,
  }
end

return M
