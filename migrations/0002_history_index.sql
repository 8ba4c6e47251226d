-- chatd: no transaction
-- History pages (newest first: created_at DESC, then id) read a room's rows in index order
-- and stop after the page, instead of sorting the room for every page. Built CONCURRENTLY,
-- so the original's live table keeps taking writes meanwhile. A build interrupted by a
-- crash leaves an INVALID index of this name: it is dropped and built again.
DROP INDEX CONCURRENTLY IF EXISTS idx_chat_messages_room_created;
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_chat_messages_room_created
  ON chat_messages (chat_room_id, created_at DESC, id DESC);
