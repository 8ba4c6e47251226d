--[[ The inbox (a chatd addition, issue 17; docs/protocol.md): the rooms a member is active
in, newest activity first, each with the member's unread count and the room's newest
message, as Spring Data's Page JSON (the history page's builder, domain/messages.lua).

Last activity: the newest message's created_at, or the room's created_at when it has none;
ties by room id, descending. The unread count is read_marks' (CHAT messages by others after
the mark), the last message the history page's first element (created_at desc, id desc).

One statement, one snapshot: the total and the page's rows come back together. The total
row is always there (a LEFT JOIN LATERAL on the page), so an empty page or one past the end
still knows the total; its room columns are null then. Returns the Page JSON, or nil and
the database's error (chat/lib/db.lua). ]]

local db = require "chat.lib.db"
local json = require "chat.lib.json"
local messages = require "chat.domain.messages"
local rooms = require "chat.domain.rooms"

local tointeger = math.tointeger

local M = {}

-- Spring's default page size; the maximum is the history's (Spring's max-page-size).
M.DEFAULT_PAGE_SIZE = 20
M.MAX_PAGE_SIZE = messages.MAX_PAGE_SIZE

-- $1 member id, $2 limit, $3 offset.
M.SQL = [[
SELECT t.total, p.id, p.study_id, p.name, p.is_active, ]] .. db.timestamp("p.created_at", "created_at") .. [[,
       mc.member_count, u.unread_count,
       p.last_id, p.last_sender_id, p.last_sender_nickname, p.last_content, p.last_message_type,
       ]] .. db.timestamp("p.last_created_at", "last_created_at") .. [[

FROM (SELECT count(*) AS total FROM chat_room_members
       WHERE member_id = $1 AND left_at IS NULL) t
LEFT JOIN LATERAL (
  SELECT r.id, r.study_id, r.name, r.is_active, r.created_at, m.member_id, m.last_read_message_id,
         l.id AS last_id, l.sender_id AS last_sender_id, l.sender_nickname AS last_sender_nickname,
         l.content AS last_content, l.message_type AS last_message_type, l.created_at AS last_created_at,
         coalesce(l.created_at, r.created_at) AS activity
  FROM chat_room_members m
  JOIN chat_rooms r ON r.id = m.chat_room_id
  LEFT JOIN LATERAL (
    SELECT c.id, c.sender_id, c.sender_nickname, c.content, c.message_type, c.created_at
    FROM chat_messages c
    WHERE c.chat_room_id = r.id
    ORDER BY c.created_at DESC, c.id DESC
    LIMIT 1) l ON true
  WHERE m.member_id = $1 AND m.left_at IS NULL
  ORDER BY activity DESC, r.id DESC
  LIMIT $2 OFFSET $3) p ON true
LEFT JOIN LATERAL (
  SELECT count(*) AS member_count FROM chat_room_members a
  WHERE a.chat_room_id = p.id AND a.left_at IS NULL) mc ON true
LEFT JOIN LATERAL (
  SELECT count(*) AS unread_count FROM chat_messages c
  WHERE c.chat_room_id = p.id
    AND c.id > coalesce(p.last_read_message_id, 0)
    AND c.message_type = 'CHAT'
    AND c.sender_id <> p.member_id) u ON true
ORDER BY p.activity DESC, p.id DESC]]

-- One inbox element: ChatRoomResponse's fields, then unreadCount and lastMessage.
function M.element(row)
  local last = json.null
  if row.last_id ~= nil then
    last = json.raw(messages.response_json({
      id = row.last_id, sender_id = row.last_sender_id, sender_nickname = row.last_sender_nickname,
      content = row.last_content, message_type = row.last_message_type, created_at = row.last_created_at,
    }, row.id))
  end
  local out = rooms.response(row)
  json.put(out, "unreadCount", tointeger(row.unread_count) or 0)
  json.put(out, "lastMessage", last)
  return out
end

-- The member's inbox page (0-based `page` of `size`) as JSON text, or nil and
-- the database's error. A member with no rooms has an empty page.
function M.page(member_id, page, size)
  local rows, err = db.query(M.SQL, member_id, size, page * size)
  if not rows then return nil, err end
  local items = {}
  for _, row in ipairs(rows) do
    if row.id ~= nil then items[#items + 1] = json.encode(M.element(row)) end
  end
  local total = rows[1] and tointeger(rows[1].total) or 0
  return messages.page_json(items, page, size, total)
end

return M
