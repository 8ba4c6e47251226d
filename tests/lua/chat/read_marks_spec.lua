describe("chat.read_marks", function()
  local fake, read_marks, counted, unread_value
  local COUNT = "SELECT %(SELECT count%(%*%) FROM chat_messages c"

  before_each(function()
    fake = require("fake_chat").install()
    read_marks = require "chat.read_marks"
    counted, unread_value = 0, 3
    fake.on_sql(COUNT, function(params)
      counted = counted + 1
      assert.same({ 1, 2, n = 2 }, params)
      return { { unread = unread_value } }
    end)
  end)

  describe("unread counts", function()
    it("counts CHAT messages by others after the mark, for active members only", function()
      read_marks.unread(1, 2)
      local sql = fake.pg_calls[1].sql
      assert.matches("c%.id > coalesce%(m%.last_read_message_id, 0%)", sql)
      assert.matches("c%.message_type = 'CHAT'", sql)
      assert.matches("c%.sender_id <> m%.member_id", sql)
      assert.matches("m%.left_at IS NULL", sql)
    end)

    it("counts in PostgreSQL once, then serves the cached count of the same generation", function()
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal("0:3", fake.redis_data["chat:unread:1:2"])
      assert.equal(300, fake.redis_ttl["chat:unread:1:2"])
      unread_value = 42 -- would be seen if PostgreSQL were asked again
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(1, counted)
    end)

    it("reads the value and the generation in one MGET, without KEYS", function()
      read_marks.unread(1, 2)
      assert.same({ "MGET", "chat:unread:1:2", "chat:unread:gen:1" }, fake.redis_calls[1])
      for _, c in ipairs(fake.redis_calls) do assert.not_equal("KEYS", c[1]) end
    end)

    it("serves a hit matching an existing generation", function()
      fake.redis_data["chat:unread:gen:1"] = "17"
      fake.redis_data["chat:unread:1:2"] = "17:5"
      assert.equal(5, read_marks.unread(1, 2))
      assert.equal(0, counted)
    end)

    it("never serves a count from another generation", function()
      read_marks.unread(1, 2)
      assert.is_true(read_marks.invalidate(1)) -- a committed message or read mark
      unread_value = 4
      assert.equal(4, read_marks.unread(1, 2))
      assert.equal(2, counted)
      assert.equal("1:4", fake.redis_data["chat:unread:1:2"])
      -- a value stored under a generation that no longer exists is a miss too
      fake.redis_data["chat:unread:1:2"] = "9:1"
      assert.equal(4, read_marks.unread(1, 2))
      assert.equal(3, counted)
    end)

    it("ignores malformed cached values", function()
      fake.redis_data["chat:unread:1:2"] = "garbage"
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(1, counted)
    end)

    it("stores the generation read before counting, so a write during the count wins", function()
      fake.on_sql(COUNT, function()
        counted = counted + 1
        read_marks.invalidate(1) -- commits while we count
        return { { unread = 3 } }
      end)
      read_marks.unread(1, 2)
      assert.equal("0:3", fake.redis_data["chat:unread:1:2"])
      read_marks.unread(1, 2)
      assert.equal(2, counted, "the value stored during the write was not served")
    end)

    it("falls back to PostgreSQL and logs a warning when Redis is down", function()
      fake.redis_down = true
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(2, counted)
      assert.equal("warn", fake.logs[1][1])
      assert.matches("unread cache unavailable", fake.logs[1][2])
    end)

    it("still answers when only the cache write fails", function()
      fake.redis_fail.SET = true
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)

    it("answers 404 for a non-member and for an unknown room, 503 without PostgreSQL", function()
      fake.on_sql(COUNT, function() return {} end)
      fake.on_sql("SELECT EXISTS", function(params) return { { room = params[1] == 1, member = false } } end)
      local count, failure = read_marks.unread(1, 9)
      assert.is_nil(count)
      assert.equal(404, failure.status)
      assert.equal("member 9 is not an active member of chat room 1", failure.message)
      _, failure = read_marks.unread(5, 9)
      assert.equal("chat room 5 does not exist", failure.message)
      assert.is_nil(fake.redis_data["chat:unread:5:9"], "nothing cached for a failure")
      fake.pg_down("08006")
      _, failure = read_marks.unread(7, 9)
      assert.equal(503, failure.status)
    end)
  end)

  describe("read marks", function()
    local MARK = "UPDATE chat_room_members m"

    it("moves the mark forward only, to a message of the room, then bumps the generation", function()
      local seen
      fake.on_sql(MARK, function(params, sql)
        seen = { params = params, sql = sql }
        return { { last_read_message_id = 10 } }
      end)
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.same({ 1, 2, 10, n = 3 }, seen.params)
      assert.matches("greatest%(coalesce%(m%.last_read_message_id, 0%), %$3::bigint%)", seen.sql)
      assert.matches("c%.id = %$3 AND c%.chat_room_id = %$1", seen.sql)
      assert.matches("m%.left_at IS NULL", seen.sql)
      assert.equal("1", fake.redis_data["chat:unread:gen:1"])
    end)

    it("tells an unknown room, a non-member and a foreign message apart", function()
      fake.on_sql(MARK, function() return {} end)
      local state = { room = true, member = true }
      fake.on_sql("SELECT EXISTS", function() return { state } end)
      local ok, failure = read_marks.mark(1, 2, 99)
      assert.is_nil(ok)
      assert.equal(404, failure.status)
      assert.equal("message 99 does not exist in chat room 1", failure.message)
      state.member = false
      assert.equal("member 2 is not an active member of chat room 1", select(2, read_marks.mark(1, 2, 99)).message)
      state.room = false
      assert.equal("chat room 1 does not exist", select(2, read_marks.mark(1, 2, 99)).message)
      assert.is_nil(fake.redis_data["chat:unread:gen:1"], "nothing changed, nothing invalidated")
    end)

    it("maps an unavailable database to 503", function()
      fake.pg_down("57P01")
      assert.equal(503, select(2, read_marks.mark(1, 2, 3)).status)
    end)

    it("keeps the mark when Redis cannot be told (logged)", function()
      fake.on_sql(MARK, function() return { { last_read_message_id = 10 } } end)
      fake.redis_down = true
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)
  end)
end)
