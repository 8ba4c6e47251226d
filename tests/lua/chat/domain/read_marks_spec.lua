describe("chat.domain.read_marks", function()
  local fake, read_marks, counted, unread_value
  local COUNT = "SELECT %(SELECT count%(%*%) FROM chat_messages c"

  before_each(function()
    fake = require("fake_chat").install()
    read_marks = require "chat.domain.read_marks"
    counted, unread_value = 0, 3
    fake.on_sql(COUNT, function(params)
      counted = counted + 1
      assert.same({ 1, 2, n = 2 }, params)
      return { { unread = unread_value } }
    end)
  end)

  it("tags a room's count and generation keys with its id on a Redis Cluster, so one MGET reads both", function()
    assert.equal("chat:unread:count:1:2", read_marks.cache_key(1, 2))
    assert.equal("chat:unread:gen:1", read_marks.gen_key(1))
    fake = require("fake_chat").install()
    fake.chat.config.redis_cluster = true
    read_marks = require "chat.domain.read_marks"
    assert.equal("chat:unread:count:{1}:2", read_marks.cache_key(1, 2))
    assert.equal("chat:unread:gen:{1}", read_marks.gen_key(1))
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
      assert.equal("0:3", fake.redis_data["chat:unread:count:1:2"])
      assert.equal(300, fake.redis_ttl["chat:unread:count:1:2"])
      assert.same({ "SET", "chat:unread:count:1:2", "0:3", "EX", 300 }, fake.redis_calls[2])
      unread_value = 42 -- would be seen if PostgreSQL were asked again
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(1, counted)
    end)

    it("reads the value and the generation in one MGET, without KEYS", function()
      read_marks.unread(1, 2)
      assert.same({ "MGET", "chat:unread:count:1:2", "chat:unread:gen:1" }, fake.redis_calls[1])
      for _, c in ipairs(fake.redis_calls) do assert.not_equal("KEYS", c[1]) end
    end)

    it("serves a hit matching an existing generation", function()
      fake.redis_data["chat:unread:gen:1"] = "17"
      fake.redis_data["chat:unread:count:1:2"] = "17:5"
      assert.equal(5, read_marks.unread(1, 2))
      assert.equal(0, counted)
    end)

    it("never serves a count from another generation", function()
      read_marks.unread(1, 2)
      assert.is_true(read_marks.invalidate(1)) -- a committed message or read mark
      unread_value = 4
      assert.equal(4, read_marks.unread(1, 2))
      assert.equal(2, counted)
      assert.equal("1:4", fake.redis_data["chat:unread:count:1:2"])
      -- a value stored under a generation that no longer exists is a miss too
      fake.redis_data["chat:unread:count:1:2"] = "9:1"
      assert.equal(4, read_marks.unread(1, 2))
      assert.equal(3, counted)
    end)

    it("ignores malformed cached values", function()
      fake.redis_data["chat:unread:count:1:2"] = "garbage"
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
      assert.equal("0:3", fake.redis_data["chat:unread:count:1:2"])
      read_marks.unread(1, 2)
      assert.equal(2, counted, "the value stored during the write was not served")
    end)

    it("leaves the original's key alone: never reads, writes or serves chat:unread:{room}:{member}", function()
      fake.redis_data["chat:unread:1:2"] = "7" -- an original pod's count, a JSON number
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(3, read_marks.unread(1, 2))
      assert.is_true(read_marks.invalidate(1, 2))
      assert.equal("7", fake.redis_data["chat:unread:1:2"])
      for _, c in ipairs(fake.redis_calls) do
        for i = 2, #c do assert.not_equal("chat:unread:1:2", c[i]) end
      end
    end)

    it("counts without the cache while a failed invalidation is pending, and retries it first", function()
      assert.equal(3, read_marks.unread(1, 2)) -- cached "0:3"
      fake.redis_fail.INCR = true
      assert.is_false(read_marks.invalidate(1))
      unread_value = 4
      assert.equal(4, read_marks.unread(1, 2), "the retry failed: counted, not served from the cache")
      assert.equal("0:3", fake.redis_data["chat:unread:count:1:2"], "and nothing cached")
      fake.redis_fail.INCR = nil
      assert.equal(4, read_marks.unread(1, 2))
      assert.equal("1", fake.redis_data["chat:unread:gen:1"], "the retry moved the generation")
      assert.equal("1:4", fake.redis_data["chat:unread:count:1:2"])
      assert.equal(1, #fake.logs, "the outage is logged once")
    end)

    it("invalidates a batch's rooms in one pipeline, each room settled by its own reply", function()
      assert.equal(3, read_marks.unread(1, 2))
      local calls = 0
      local pipeline = fake.chat.redis.pipeline
      fake.chat.redis.pipeline = function(commands)
        calls = calls + 1
        assert.same({ { "INCR", "chat:unread:gen:1" }, { "INCR", "chat:unread:gen:5" }, { "INCR", "chat:unread:gen:9" } }, commands)
        return {}, { [2] = "Redis is unavailable" } -- room 5's failed, the others went through
      end
      read_marks.invalidate_rooms { 1, 5, 9 }
      assert.equal(1, calls, "one round trip")
      assert.equal(1, #fake.logs, "room 5's failure is logged")
      assert.matches("chat room 5", fake.logs[1][2])
      fake.chat.redis.pipeline = pipeline
      assert.is_true(read_marks.settled(1))
      local before = #fake.redis_calls
      assert.is_true(read_marks.settled(5), "retried, and it went through now")
      assert.same({ "INCR", "chat:unread:gen:5" }, fake.redis_calls[before + 1])
      read_marks.invalidate_rooms {}
      assert.equal(1, calls, "nothing to send for no rooms")
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

    it("fails not_a_member for a non-member, room_not_found for an unknown room, db_unavailable without PostgreSQL", function()
      fake.on_sql(COUNT, function() return {} end)
      fake.on_sql("SELECT EXISTS", function(params) return { { room = params[1] == 1, member = false } } end)
      local count, failure = read_marks.unread(1, 9)
      assert.is_nil(count)
      assert.equal("not_a_member", failure.code)
      assert.equal("member 9 is not an active member of chat room 1", failure.text)
      count, failure = read_marks.unread(5, 9)
      assert.is_nil(count)
      assert.equal("chat room 5 does not exist", failure.text)
      assert.is_nil(fake.redis_data["chat:unread:count:5:9"], "nothing cached for a failure")
      fake.pg_down("08006")
      count, failure = read_marks.unread(7, 9)
      assert.is_nil(count)
      assert.equal("db_unavailable", failure.code)
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
      assert.same({ { "INCR", "chat:unread:gen:1" },
                    { "PUBLISH", "chat:read-marks", '{"chatRoomId":1,"memberId":2,"lastReadMessageId":10}' } },
                  fake.redis_calls, "one INCR outside a mixed fleet, after it the moved mark")
      assert.matches("AS previous", seen.sql)
      assert.same({}, fake.broadcasts, "the local push comes through the subscription")
    end)

    it("publishes a mark set for the first time, nothing when the mark did not move", function()
      local previous = nil
      fake.on_sql(MARK, function() return { { last_read_message_id = 10, previous = previous } } end)
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.same({ '{"chatRoomId":1,"memberId":2,"lastReadMessageId":10}' }, fake.published("chat:read-marks"))
      previous = 10
      assert.is_true(read_marks.mark(1, 2, 7))
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.equal(1, #fake.published("chat:read-marks"), "a mark that did not move is not published")
      previous = 4
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.equal(2, #fake.published("chat:read-marks"))
    end)

    it("pushes to this instance's subscribers when Redis cannot publish", function()
      fake.on_sql(MARK, function() return { { last_read_message_id = 12, previous = 3 } } end)
      fake.redis_fail.PUBLISH = true
      assert.is_true(read_marks.mark(5, 2, 12))
      assert.same({ { dest = "/topic/chatroom/5/read", body = '{"memberId":2,"lastReadMessageId":12}' } },
                  fake.broadcasts)
    end)

    it("broadcasts a mark from the channel to the room's read topic; ignores malformed ones", function()
      read_marks.on_redis_message('{"chatRoomId":7,"memberId":3,"lastReadMessageId":42}')
      assert.same({ { dest = "/topic/chatroom/7/read", body = '{"memberId":3,"lastReadMessageId":42}' } },
                  fake.broadcasts)
      for _, bad in ipairs { "", "nope", "[]", '{"chatRoomId":"7","memberId":3,"lastReadMessageId":42}',
                             '{"chatRoomId":7,"memberId":3}', '{"chatRoomId":7,"memberId":3,"lastReadMessageId":1.5}' } do
        read_marks.on_redis_message(bad)
      end
      assert.equal(1, #fake.broadcasts)
      local warned = false
      for _, l in ipairs(fake.logs) do warned = warned or (l[1] == "warn" and l[2]:find("malformed read mark") ~= nil) end
      assert.is_true(warned, "a malformed mark leaves a warning")
    end)

    it("lists every active member's mark by member id, null when none, 404 for an unknown room", function()
      local seen
      fake.on_sql("FROM chat_rooms r", function(params, sql)
        seen = sql
        if params[1] == 1 then
          return { { member_id = 2, last_read_message_id = 42 }, { member_id = 5 } }
        elseif params[1] == 2 then
          return { {} }
        end
        return {}
      end)
      local json = require "chat.lib.json"
      assert.equal('[{"memberId":2,"lastReadMessageId":42},{"memberId":5,"lastReadMessageId":null}]',
                   json.encode(read_marks.list(1)))
      assert.matches("ORDER BY m%.member_id", seen)
      assert.matches("m%.left_at IS NULL", seen)
      assert.equal("[]", json.encode(read_marks.list(2)))
      local list, err = read_marks.list(3)
      assert.is_nil(list)
      assert.equal("room_not_found", err.code)
    end)

    it("tells an unknown room, a non-member and a foreign message apart", function()
      fake.on_sql(MARK, function() return {} end)
      local state = { room = true, member = true }
      fake.on_sql("SELECT EXISTS", function() return { state } end)
      local ok, failure = read_marks.mark(1, 2, 99)
      assert.is_nil(ok)
      assert.equal("message_not_in_room", failure.code)
      assert.equal("message 99 does not exist in chat room 1", failure.text)
      state.member = false
      assert.equal("member 2 is not an active member of chat room 1", select(2, read_marks.mark(1, 2, 99)).text)
      state.room = false
      assert.equal("chat room 1 does not exist", select(2, read_marks.mark(1, 2, 99)).text)
      assert.is_nil(fake.redis_data["chat:unread:gen:1"], "nothing changed, nothing invalidated")
    end)

    it("passes an unavailable database on as db_unavailable", function()
      fake.pg_down("57P01")
      assert.equal("db_unavailable", select(2, read_marks.mark(1, 2, 3)).code)
    end)

    it("keeps the mark when Redis cannot be told (logged)", function()
      fake.on_sql(MARK, function() return { { last_read_message_id = 10 } } end)
      fake.redis_down = true
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)
  end)

  it("reads the mixed-fleet mode from chat.config.mixed_fleet when it loads, on unless false", function()
    assert.is_false(read_marks.MIXED_FLEET)
    for _, case in ipairs { { true, true }, { false, false }, { nil, true } } do
      fake.chat.config.mixed_fleet = case[1]
      package.loaded["chat.domain.read_marks"] = nil
      assert.equal(case[2], require("chat.domain.read_marks").MIXED_FLEET, tostring(case[1]))
    end
  end)

  describe("in a mixed fleet", function()
    before_each(function()
      fake.chat.config.mixed_fleet = true
      package.loaded["chat.domain.read_marks"] = nil
      read_marks = require "chat.domain.read_marks"
    end)

    -- The recorded EVALs without their script: numkeys, KEYS[1], ARGV[1], ARGV[2].
    local function evals()
      local out = {}
      for _, c in ipairs(fake.redis_calls) do
        assert.equal("EVAL", c[1])
        out[#out + 1] = { c[3], c[4], c[5], c[6] }
      end
      return out
    end

    -- Runs the invalidation script as Redis would, on plain string keys.
    local function run_script(call)
      local d = fake.redis_data
      local redis = { call = function(cmd, ...)
        local args = { ... }
        if cmd == "INCR" then d[args[1]] = tostring((tonumber(d[args[1]]) or 0) + 1); return tonumber(d[args[1]]) end
        if cmd == "KEYS" then
          local pattern, keys = "^" .. args[1]:gsub("%p", "%%%0"):gsub("%%%*", ".*") .. "$", {}
          for k in pairs(d) do if k:match(pattern) then keys[#keys + 1] = k end end
          return keys
        end
        assert(cmd == "DEL", cmd)
        for _, k in ipairs(args) do d[k] = nil end
        return #args
      end }
      local env = { redis = redis, KEYS = { call[4] }, ARGV = { call[5], call[6] }, unpack = table.unpack, math = math }
      return assert(load(call[2], "=script", "t", env))()
    end

    it("counts in PostgreSQL on every read and caches nothing", function()
      fake.redis_data["chat:unread:count:1:2"] = "0:9"
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(3, read_marks.unread(1, 2))
      assert.equal(2, counted)
      assert.same({}, fake.redis_calls, "no MGET, no SET")
      assert.equal("0:9", fake.redis_data["chat:unread:count:1:2"])
    end)

    it("retries a failed invalidation on the room's next read, room-wide, so original pods lose the outdated counts", function()
      fake.redis_fail.EVAL = true
      assert.is_false(read_marks.invalidate(1))
      fake.redis_fail.EVAL = nil
      fake.redis_calls = {}
      assert.equal(3, read_marks.unread(1, 2))
      assert.same({ { 1, "chat:unread:gen:1", "", "chat:unread:1:*" } }, evals())
      fake.redis_calls = {}
      assert.equal(3, read_marks.unread(1, 2))
      assert.same({}, evals(), "retried once, then nothing pending")
    end)

    it("invalidates a member's count: chatd's generation and the original's key of that member", function()
      assert.is_true(read_marks.invalidate(1, 2))
      assert.same({ { 1, "chat:unread:gen:1", "chat:unread:1:2", "chat:unread:1:*" } }, evals())
    end)

    it("invalidates a whole room: the generation and every original key of the room", function()
      assert.is_true(read_marks.invalidate(1))
      assert.same({ { 1, "chat:unread:gen:1", "", "chat:unread:1:*" } }, evals())
    end)

    it("forgets the reader's original count after a read mark", function()
      fake.on_sql("UPDATE chat_room_members m", function() return { { last_read_message_id = 10, previous = 10 } } end)
      assert.is_true(read_marks.mark(1, 2, 10))
      assert.same({ { 1, "chat:unread:gen:1", "chat:unread:1:2", "chat:unread:1:*" } }, evals())
    end)

    it("after a failed invalidation, invalidates the whole room on the next write", function()
      fake.redis_down = true
      assert.is_false(read_marks.invalidate(1, 2))
      fake.redis_down = false
      assert.is_true(read_marks.invalidate(1, 3))
      assert.is_true(read_marks.invalidate(1, 3))
      assert.same({ { 1, "chat:unread:gen:1", "chat:unread:1:2", "chat:unread:1:*" },
                    { 1, "chat:unread:gen:1", "", "chat:unread:1:*" },
                    { 1, "chat:unread:gen:1", "chat:unread:1:3", "chat:unread:1:*" } }, evals())
    end)

    it("runs a script that moves the generation and deletes only the outdated original keys", function()
      local d = fake.redis_data
      d["chat:unread:gen:1"], d["chat:unread:1:2"], d["chat:unread:1:3"] = "4", "5", "1"
      d["chat:unread:12:2"], d["chat:unread:count:1:2"] = "9", "4:3"
      read_marks.invalidate(1, 2)
      assert.equal(1, run_script(fake.redis_calls[1]))
      assert.same({ ["chat:unread:gen:1"] = "5", ["chat:unread:1:3"] = "1", ["chat:unread:12:2"] = "9",
                    ["chat:unread:count:1:2"] = "4:3" }, d)
      read_marks.invalidate(1)
      d["chat:unread:1:2"] = "5"
      assert.equal(2, run_script(fake.redis_calls[2]))
      assert.same({ ["chat:unread:gen:1"] = "6", ["chat:unread:12:2"] = "9", ["chat:unread:count:1:2"] = "4:3" }, d)
    end)

    it("deletes a large room's original keys in chunks, every one of them", function()
      for member = 1, 1201 do fake.redis_data["chat:unread:7:" .. member] = "1" end
      read_marks.invalidate(7)
      assert.equal(1201, run_script(fake.redis_calls[1]))
      assert.same({ ["chat:unread:gen:7"] = "1" }, fake.redis_data)
    end)
  end)
end)
