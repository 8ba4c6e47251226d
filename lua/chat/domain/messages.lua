--[[ Chat messages: storing them (STOMP, chat/stomp/handlers.lua) and paging through a room's
history as Spring Data's Page JSON (REST endpoint 6). Failures are error values of
chat/errors.lua. ]]

local chat = require "chat.core"
local db = require "chat.lib.db"
local errors = require "chat.errors"
local group_commit = require "chat.lib.group_commit"
local json = require "chat.lib.json"
local history_cache = require "chat.domain.history_cache"
local read_marks = require "chat.domain.read_marks"

local fmt, concat = string.format, table.concat
local new = errors.new

local M = {}

M.MAX_PAGE_SIZE = 2000
M.DEFAULT_PAGE_SIZE = 50
M.DEFAULT_SORT = { "createdAt,desc" }

-- With $7 set, the insert happens only if that sender is an active member: the check
-- and the write are one statement, so a member leaving cannot slip between them.
local INSERT_MESSAGE = [[
INSERT INTO chat_messages (chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
SELECT $1::bigint, $2::bigint, $3::varchar, $4::text, $5::varchar, $6::timestamp
WHERE $7::bigint IS NULL OR EXISTS (
  SELECT 1 FROM chat_room_members
  WHERE chat_room_id = $1 AND member_id = $7 AND left_at IS NULL)
RETURNING id, ]] .. db.timestamp("created_at", "created_at")

-- Many messages in one statement (group commit, see chat/lib/group_commit.lua): the same
-- insert and membership check as INSERT_MESSAGE, row by row, with each stored row's id
-- tied back to its place in the batch (ids are drawn first, so the join is exact).
local INSERT_MESSAGES = [[
WITH input AS (
  SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::varchar[], $4::text[], $5::varchar[],
                       $6::timestamp[], $7::bigint[])
    WITH ORDINALITY AS i(room, sender, nickname, content, kind, created, member_check, ord)
), allowed AS (
  SELECT i.*, nextval(pg_get_serial_sequence('chat_messages', 'id')) AS id
  FROM input i
  WHERE i.member_check IS NULL OR EXISTS (
    SELECT 1 FROM chat_room_members m
    WHERE m.chat_room_id = i.room AND m.member_id = i.member_check AND m.left_at IS NULL)
), stored AS (
  INSERT INTO chat_messages (id, chat_room_id, sender_id, sender_nickname, content, message_type, created_at)
  SELECT id, room, sender, nickname, content, kind, created FROM allowed
  RETURNING id, created_at
)
SELECT a.ord, s.id, ]] .. db.timestamp("s.created_at", "created_at") .. [[

FROM stored s JOIN allowed a USING (id)]]

local function stored_message(m, id, created_at)
  return {
    chatRoomId = m.room_id, id = id, senderId = m.sender_id, senderNickname = m.nickname,
    content = m.content, messageType = m.kind, createdAt = db.iso(created_at),
  }
end

-- What a failed insert means for the sender: the room's foreign key is "no such room", an
-- unavailable database stays itself, anything else (logged by chat/lib/db.lua) is
-- message_not_stored.
local function store_error(err, room_id)
  if errors.is(err, errors.DB_FOREIGN_KEY_VIOLATION) then return new(errors.ROOM_NOT_FOUND, room_id) end
  if errors.is(err, errors.DB_UNAVAILABLE) then return err end
  return new(errors.MESSAGE_NOT_STORED):with(err.details)
end

local function not_a_member(m) return new(errors.NOT_A_MEMBER, "user", m.member_check, m.room_id) end

-- One message, one statement. Returns the stored message or nil and an error.
local function store_one(m)
  local rows, err = db.query(INSERT_MESSAGE, m.room_id, m.sender_id, m.nickname, m.content,
                             m.kind, m.created_at, m.member_check)
  if not rows then return nil, store_error(err, m.room_id) end
  if not rows[1] then return nil, not_a_member(m) end
  return stored_message(m, rows[1].id, rows[1].created_at)
end

-- A PostgreSQL array literal of the items' field (nil is NULL), written in C.
local pg_array = chat.pg.array

local function store_batch(items)
  local results = {}
  if #items == 1 then
    results[1] = { store_one(items[1]) }
  else
    chat.log.debug("storing %d messages in one statement", #items)
    local rows, err = db.query(INSERT_MESSAGES, pg_array(items, "room_id"), pg_array(items, "sender_id"),
      pg_array(items, "nickname"), pg_array(items, "content"), pg_array(items, "kind"),
      pg_array(items, "created_at"), pg_array(items, "member_check"))
    if not rows and errors.is(err, errors.DB_FOREIGN_KEY_VIOLATION) then
      -- A room that does not exist fails the whole statement: find out which, one by one.
      for i, m in ipairs(items) do results[i] = { store_one(m) } end
    elseif not rows then
      local serr = store_error(err, items[1].room_id)
      for i = 1, #items do results[i] = { nil, serr } end
    else
      for _, row in ipairs(rows) do
        results[row.ord] = { stored_message(items[row.ord], row.id, row.created_at) }
      end
      for i, m in ipairs(items) do results[i] = results[i] or { nil, not_a_member(m) } end
    end
  end
  -- The room's generation moves once per room, after the commit and before anyone
  -- publishes: it outdates the unread counts (CHAT rows; a mixed fleet's original pods count
  -- every row) and the newest page kept by chat/domain/history_cache.lua (every row). Counted
  -- for the metrics here too: the one place every message is stored, whichever path (STOMP
  -- send, join, leave) asked.
  local seen, rooms = {}, {}
  for i, m in ipairs(items) do
    if results[i][1] then
      chat.metrics.message_stored(m.kind)
      if not seen[m.room_id] then
        seen[m.room_id] = true
        rooms[#rooms + 1] = m.room_id
      end
    end
  end
  read_marks.invalidate_rooms(rooms)
  return results
end

local batcher = group_commit.new(store_batch, { max_in_flight = 2, max_batch = 200 })

-- Stores a message (type "CHAT", "JOIN" or "LEAVE"); with member_check (a member id) only
-- if that member is active in the room. Returns the stored message as a table with the
-- ChatMessagePublish/Response fields (chatRoomId, id, senderId, senderNickname, content,
-- messageType, createdAt), or nil and an error: not_a_member ("user <member_check> ..."),
-- room_not_found, db_unavailable or message_not_stored. A stored CHAT message bumps the
-- room's unread generation after the commit. Concurrent calls share statements (group commit).
function M.store(room_id, sender_id, nickname, content, kind, member_check)
  return batcher:submit({
    room_id = room_id, sender_id = sender_id, nickname = nickname, content = content,
    kind = kind or "CHAT", created_at = db.now(), member_check = member_check,
  })
end

-- ---- sorting, as Spring's `sort` parameters ----

-- Sortable properties: the column inside the page query and in its outer query.
local SORT_COLUMNS = {
  id = { inner = "c.id", outer = "p.id" },
  createdAt = { inner = "c.created_at", outer = "p.created_at_sort" },
}

local DIRECTIONS = { asc = "ASC", desc = "DESC" }

-- values: the `sort` parameters, each "property[,property...][,asc|desc]" (the direction
-- applies to the properties of its parameter; asc when absent), several allowed, as
-- Spring's SortHandlerMethodArgumentResolver reads them. Empty ones are ignored; none at
-- all is the default createdAt,desc. `id` in the last direction is appended as a
-- tie-breaker (unless id is already sorted on), so pages never overlap or skip.
-- Returns a list of { property, "ASC"|"DESC" }, or nil and a sort_invalid error.
function M.parse_sort(values)
  local orders, seen = {}, {}
  for _, value in ipairs(values or {}) do
    local parts = {}
    for part in value:gmatch("[^,]+") do
      part = part:match("^%s*(.-)%s*$")
      if part ~= "" then parts[#parts + 1] = part end
    end
    local dir = parts[#parts] and DIRECTIONS[parts[#parts]:lower()]
    local last = dir and #parts - 1 or #parts
    for i = 1, last do
      local prop = parts[i]
      if not SORT_COLUMNS[prop] then return nil, new(errors.SORT_INVALID, prop) end
      if not seen[prop] then
        seen[prop] = true
        orders[#orders + 1] = { prop, dir or "ASC" }
      end
    end
  end
  if #orders == 0 then return M.default_orders() end
  if not seen.id then orders[#orders + 1] = { "id", orders[#orders][2] } end
  return orders
end

-- The orders of M.DEFAULT_SORT, parsed once: most requests ask for no other (a shared
-- table, read only).
local default_orders
function M.default_orders()
  default_orders = default_orders or M.parse_sort(M.DEFAULT_SORT)
  return default_orders
end

-- The original's query says ORDER BY createdAt DESC itself and Spring appends the `sort`
-- parameter after it, so its pages are always newest first and a requested order only
-- breaks ties (observed on the running original: sort=createdAt,asc still answers newest
-- first). Clients were built against that, so chatd pages the same way.
local ALWAYS_FIRST = { "createdAt", "DESC" }

-- ORDER BY text for the orders, after ALWAYS_FIRST; `which` is "inner" or "outer". Kept
-- per orders table (the default one is shared): building it was a tenth of a history
-- request's Lua instructions (CHAT_LUA_PROFILE).
local order_texts = setmetatable({}, { __mode = "k" })
function M.order_sql(orders, which)
  local texts = order_texts[orders]
  if texts and texts[which] then return texts[which] end
  local out = { SORT_COLUMNS[ALWAYS_FIRST[1]][which] .. " " .. ALWAYS_FIRST[2] }
  for _, o in ipairs(orders) do
    if o[1] ~= ALWAYS_FIRST[1] then out[#out + 1] = SORT_COLUMNS[o[1]][which] .. " " .. o[2] end
  end
  texts = texts or {}
  texts[which] = concat(out, ", ")
  order_texts[orders] = texts
  return texts[which]
end

-- ---- the Page JSON ----
-- Written in one pass: the messages by json.object_writer (in C), the page around them by
-- one string.format. History is what every client loads on every room open, and the
-- generic encoder (a table per field, a call per value) was three quarters of a page's cost.

-- ChatMessageResponse, fields in the order of the original's record, from a history row
-- (MESSAGE_COLUMNS).
local write_responses = json.object_writer {
  { "id", "id", "integer" },
  { "chatRoomId", "chat_room_id", "integer" },
  { "senderId", "sender_id", "integer" },
  { "senderNickname", "sender_nickname", "string" },
  { "content", "content", "string" },
  { "messageType", "message_type", "string" },
  { "createdAt", "created_at", "localtime" },
}

-- A history row (MESSAGE_COLUMNS, chat_room_id aside) of room `room_id` as
-- ChatMessageResponse JSON text.
function M.response_json(row, room_id)
  row.chat_room_id = room_id
  return (write_responses({ row }))
end

local SORT_STATE = '{"sorted":true,"empty":false,"unsorted":false}'

-- Spring Data 3.4's PageImpl JSON, keys in the order the running original (Spring Boot
-- 3.4.12) writes them (CONTRACT §3).
local PAGE_FORMAT = '{"content":[%s],"pageable":{"pageNumber":%d,"pageSize":%d,"sort":' .. SORT_STATE
  .. ',"offset":%d,"paged":true,"unpaged":false},"totalElements":%d,"totalPages":%d,"last":%s,'
  .. '"size":%d,"number":%d,"sort":' .. SORT_STATE .. ',"numberOfElements":%d,"first":%s,"empty":%s}'

-- The page of `size` at 0-based `page` whose content is `content` (its `count` elements'
-- JSON text joined by commas) out of `total`, as JSON text.
local function page_text(content, count, page, size, total)
  local total_pages = size > 0 and (total + size - 1) // size or 1
  return fmt(PAGE_FORMAT, content, page, size, page * size, total, total_pages,
    tostring(page + 1 >= total_pages), size, page, count, tostring(page == 0), tostring(count == 0))
end

-- The same, from a list of the elements' JSON texts.
function M.page_json(items, page, size, total)
  return page_text(concat(items, ","), #items, page, size, total)
end

-- ---- the page queries ----

-- A page's rows: their ids and sort keys found in the (chat_room_id, created_at DESC, id
-- DESC) index alone, the page's rows then read by id, so skipping rows skips index
-- entries, not table rows. %s: the inner and outer ORDER BY.
local PAGE_ROWS = [[

  SELECT c.id, c.created_at AS created_at_sort FROM chat_messages c
  WHERE c.chat_room_id = r.id
  ORDER BY %s
  LIMIT $2 OFFSET $3) p]]
local MESSAGE_COLUMNS = "m.id, m.chat_room_id, m.sender_id, m.sender_nickname, m.content, m.message_type, "
  .. db.timestamp("m.created_at", "created_at")

-- With the room's count: one round trip, one snapshot. No row: no such room; a row with a
-- null id: the room exists but the page is empty.
local COUNTED_PAGE_SQL = "SELECT t.total, " .. MESSAGE_COLUMNS .. [[

FROM chat_rooms r
CROSS JOIN LATERAL (SELECT count(*) AS total FROM chat_messages WHERE chat_room_id = r.id) t
LEFT JOIN LATERAL (]] .. PAGE_ROWS .. [[ ON true
LEFT JOIN chat_messages m ON m.id = p.id
WHERE r.id = $1
ORDER BY %s]]

-- The rows alone, when the count is known (the room exists, then).
local PAGE_SQL = "SELECT " .. MESSAGE_COLUMNS .. [[

FROM (SELECT $1::bigint AS id) r
CROSS JOIN LATERAL (]] .. PAGE_ROWS .. [[

JOIN chat_messages m ON m.id = p.id
ORDER BY %s]]

-- The order keyset pages are read in: the index's own, the default sort's.
local KEYSET_ORDER = "c.created_at DESC, c.id DESC"

-- The rows after message $3 in KEYSET_ORDER: the index is entered at that message's key
-- instead of walking every entry before it (an OFFSET of 900 reads 950 index entries for
-- 50 rows), and with nothing to skip the rows are read straight from the index scan,
-- without the join by id (9 buffers instead of 214 for a page of 50 here).
local KEYSET_PAGE_SQL = "SELECT " .. MESSAGE_COLUMNS .. [[

FROM chat_messages m
WHERE m.chat_room_id = $1
  AND (m.created_at, m.id) < (SELECT b.created_at, b.id FROM chat_messages b WHERE b.id = $3)
ORDER BY m.created_at DESC, m.id DESC
LIMIT $2]]

-- The rows a page of `size` at `page` holds out of `total`.
local function page_length(page, size, total)
  return math.max(0, math.min(size, total - page * size))
end

-- The room's history page as JSON text and the room's message count, or nil and an error
-- (room_not_found, or the database's). `orders` comes from M.parse_sort; `total`, when
-- known, spares the count; `after`, the id of the previous page's last message (known with
-- `total`, of the same snapshot of the room, and in KEYSET_ORDER), spares the walk to the
-- page. The third result is the page's last message id when a page may follow.
function M.page(room_id, page, size, orders, total, after)
  local inner = M.order_sql(orders, "inner")
  local rows, err
  if after and inner == KEYSET_ORDER then
    rows, err = db.query(KEYSET_PAGE_SQL, room_id, size, after)
    -- Its key read back nothing the count expects (a message deleted outside chatd):
    -- the offset then, which needs no key.
    if rows and #rows ~= page_length(page, size, total) then rows = nil end
  end
  if not rows and not err then
    rows, err = db.query(fmt(total and PAGE_SQL or COUNTED_PAGE_SQL, inner, M.order_sql(orders, "outer")),
      room_id, size, page * size)
  end
  if not rows then return nil, err end
  if not total then
    if not rows[1] then return nil, new(errors.ROOM_NOT_FOUND, room_id) end
    total = rows[1].total
    if rows[1].id == nil then rows = {} end -- the room's page is empty
  end
  local content, count = write_responses(rows)
  local last = count > 0 and count == size and rows[count].id or nil
  return page_text(content, count, page, size, total), total, last
end

-- History (REST endpoint 6): the same answers as M.page, with what the room's generation
-- still vouches for taken from chat/domain/history_cache.lua: the newest page itself, the
-- count, and where each page read so far ended, so the next one is read by keyset.
function M.history(room_id, page, size, orders)
  local gen = history_cache.generation(room_id)
  local inner = M.order_sql(orders, "inner")
  local variant = gen and page == 0 and size .. " " .. inner or nil
  local text = variant and history_cache.page(room_id, gen, variant)
  local total = not text and gen and history_cache.total(room_id, gen)
  local after = total and page > 0 and inner == KEYSET_ORDER and history_cache.bound(room_id, gen, size, page)
  chat.metrics.history_cache(text and "hit" or after and "keyset" or gen and "miss" or "bypass")
  if text then return text end
  local last
  text, total, last = M.page(room_id, page, size, orders, total, after or nil)
  if not text then return nil, total end -- the error, then
  if gen then
    history_cache.keep(room_id, gen, total, variant, text)
    if last and inner == KEYSET_ORDER then history_cache.keep_bound(room_id, gen, size, page + 1, last) end
  end
  return text
end

return M
