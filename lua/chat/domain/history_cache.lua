--[[ What a room's history pages need from PostgreSQL, kept in this process between writes
to the room: the newest page's text (what every client loads on every room open), the
room's message count (every page's totalElements) and where each page read so far ended.
A kept newest page costs one Redis GET instead of a query and fifty messages' JSON; a
deeper page skips the count, and starts after the previous page's last message instead of
walking the index to it. (A chatd addition; docs/performance.md "History pages".)

Never served stale after a commit, by the unread cache's mechanism (chat/domain/read_marks.lua):
every committed write to a room's messages moves the room's generation chat:unread:gen:{room}
in Redis, after the commit (read marks and membership changes move it too, which costs a
miss, never a wrong answer). What is kept is kept with the generation read BEFORE its query
and used only while Redis still says that generation: a write committing during the query
has moved it already, so such a value is never used.

Not used (M.generation answers nil, "bypass" in the metrics):
  * in a mixed fleet: original pods store messages without moving the generation;
  * while Redis does not answer, or while this instance could not move a room's generation
    (read_marks.settled retries that first);
  * after the command link to Redis comes back everything kept is dropped (M.clear, from
    chat/stomp/init.lua): a Redis restarted without its data counts generations from 0 again.

Bounded by CHAT_HISTORY_CACHE_MB (0 turns it off): the least recently read rooms go first. ]]

local chat = require "chat.core"
local read_marks = require "chat.domain.read_marks"
local throttled_log = require "chat.lib.throttled_log"

local M = {}

M.BUDGET_BYTES = (chat.config.history_cache_mb or 64) * 1024 * 1024

-- What a room costs besides its pages' text (the entry and its tables), for the budget.
local ENTRY_BYTES = 256

-- What a page boundary costs (an integer in a table slot, its share of the table).
local BOUND_BYTES = 32

-- Per room: { room =, gen =, total =, pages = { [variant] = text },
-- bounds = { [size] = { [page] = id of the previous page's last message } }, bytes =, newer =, older = },
-- in a list from the most recently read (head) to the least (tail).
local rooms, head, tail, used = {}, nil, nil, 0

local function unlink(e)
  if e.newer then e.newer.older = e.older else head = e.older end
  if e.older then e.older.newer = e.newer else tail = e.newer end
  e.newer, e.older = nil, nil
end

local function push_front(e)
  e.older = head
  if head then head.newer = e end
  head = e
  tail = tail or e
end

local function drop(e)
  unlink(e)
  rooms[e.room] = nil
  used = used - e.bytes
end

-- Everything kept goes.
function M.clear()
  rooms, head, tail, used = {}, nil, nil, 0
end

-- The bytes kept now (tests, sizing).
function M.bytes() return used end

local log_unavailable = throttled_log.new("warn")

-- The room's current generation, or nil when nothing may be kept or used for it now.
function M.generation(room_id)
  if read_marks.MIXED_FLEET or M.BUDGET_BYTES == 0 or not read_marks.settled(room_id) then return nil end
  local gen, err = chat.redis.call("GET", read_marks.gen_key(room_id))
  if gen == nil and err ~= nil then
    log_unavailable("history cache unavailable, reading pages from PostgreSQL: %s", tostring(err))
    return nil
  end
  return type(gen) == "string" and gen or "0"
end

-- The room's entry when it is of generation `gen`, made the most recently read.
local function current(room_id, gen)
  local e = rooms[room_id]
  if not e or e.gen ~= gen then return nil end
  if head ~= e then unlink(e); push_front(e) end
  return e
end

-- The kept page text of the room for `variant` (its size and order), if of generation `gen`.
function M.page(room_id, gen, variant)
  local e = current(room_id, gen)
  return e and e.pages[variant]
end

-- The room's kept message count, if of generation `gen`.
function M.total(room_id, gen)
  local e = current(room_id, gen)
  return e and e.total
end

-- Keeps what a query read after generation `gen` was current: the room's message count
-- and, when variant is given, the page text for it. Nothing older than what is kept.
function M.keep(room_id, gen, total, variant, text)
  local e = rooms[room_id]
  if e and e.gen ~= gen then
    if tonumber(gen) < tonumber(e.gen) then return end
    drop(e)
    e = nil
  end
  if not e then
    e = { room = room_id, gen = gen, pages = {}, bounds = {}, bytes = ENTRY_BYTES }
    rooms[room_id] = e
    used = used + ENTRY_BYTES
    push_front(e)
  end
  e.total = total
  if variant and #text <= M.BUDGET_BYTES // 4 then
    local before = e.pages[variant]
    e.pages[variant] = text
    local grown = #text - (before and #before or 0)
    e.bytes, used = e.bytes + grown, used + grown
  end
  while used > M.BUDGET_BYTES and tail do drop(tail) end
end

-- The id of the last message before page `page` of `size` (in the newest-first order of
-- the index), if learned in generation `gen`.
function M.bound(room_id, gen, size, page)
  local e = current(room_id, gen)
  local by_page = e and e.bounds[size]
  return by_page and by_page[page]
end

-- Keeps that page `page` of `size` starts after message `id`, in generation `gen` (after
-- M.keep made the room's entry of that generation; otherwise nothing is kept).
function M.keep_bound(room_id, gen, size, page, id)
  local e = rooms[room_id]
  if not e or e.gen ~= gen then return end
  local by_page = e.bounds[size]
  if not by_page then
    by_page = {}
    e.bounds[size] = by_page
  end
  if by_page[page] == nil then
    by_page[page] = id
    e.bytes, used = e.bytes + BOUND_BYTES, used + BOUND_BYTES
  end
  while used > M.BUDGET_BYTES and tail do drop(tail) end
end

return M
