-- What a resume replays and what a catch-up after a Redis outage reads
-- (chat/stomp/resume.lua); the C core's holding and exactly-once are tested end to end
-- (tests/e2e/resume.test.mjs, tests/e2e/redis_outage.test.mjs).
describe("chat.stomp.resume", function()
  local fake, resume

  before_each(function()
    fake = require("fake_chat").install()
    resume = require "chat.stomp.resume"
  end)

  local function row(id, room)
    return { id = id, chat_room_id = room or 3, sender_id = 7, sender_nickname = "n", content = "c" .. id,
             message_type = "CHAT", created_at = 1736400600 }
  end

  describe("replay", function()
    it("gives the messages after the id, in the query's id order, each marked resume:replay", function()
      fake.on_sql("m.id > %$2 ORDER BY m.id LIMIT %$3", function(p)
        assert.same({ 3, 40, resume.LIMIT + 1, n = 3 }, p)
        return { row(41), row(42) }
      end)
      local frames = resume.replay(3, "40")
      assert.equal(2, #frames)
      assert.same({ 41, 42 }, { frames[1].id, frames[2].id })
      assert.same({ resume = "replay" }, frames[1].headers)
      assert.matches('^{"chatRoomId":3,"id":41,"senderId":7,"senderNickname":"n","content":"c41","messageType":"CHAT",'
        .. '"createdAt":"[^"]+"}$', frames[1].body)
    end)

    it("answers one resume:gap frame when more than LIMIT wait", function()
      fake.on_sql("m.id > %$2", function()
        local rows = {}
        for i = 1, resume.LIMIT + 1 do rows[i] = row(i) end
        return rows
      end)
      local frames = resume.replay(3, "0")
      assert.same({ { body = '{"resume":"GAP","chatRoomId":3,"lastMessageId":0,"limit":' .. resume.LIMIT .. "}",
                      headers = { resume = "gap" } } }, frames)
    end)

    it("refuses an id that is not decimal digits of a 64-bit integer, asking nothing", function()
      for _, bad in ipairs { "abc", "-1", "1.5", "", " 1", "99999999999999999999" } do
        local frames, err = resume.replay(3, bad)
        assert.is_nil(frames, bad)
        assert.equal("resume_id_invalid", err.code)
      end
      assert.same({}, fake.sql_log())
    end)

    it("passes the database's failure on", function()
      fake.pg_down()
      local frames, err = resume.replay(3, "1")
      assert.is_nil(frames)
      assert.equal("db_unavailable", err.code)
    end)
  end)

  describe("catch_up", function()
    it("reads every room topic after its floor in one statement and ignores other destinations", function()
      fake.on_sql("unnest", function(p)
        assert.equal(resume.LIMIT + 1, p[3])
        local rooms, afters = {}, {}
        for r in p[1]:gmatch("%d+") do rooms[#rooms + 1] = tonumber(r) end
        for a in p[2]:gmatch("%d+") do afters[#afters + 1] = tonumber(a) end
        local floors = {}
        for i, r in ipairs(rooms) do floors[r] = afters[i] end
        assert.same({ [3] = 100, [4] = 200 }, floors)
        return { row(101, 3), row(201, 4) }
      end)
      local frames = resume.catch_up({ ["/topic/chatroom/3"] = 100, ["/topic/chatroom/4"] = 200,
                                       ["/topic/chatroom/3/presence"] = 0, ["/user/queue/errors#x"] = 0 }, 0)
      assert.same({ "/topic/chatroom/3", "/topic/chatroom/4" }, { frames[1].destination, frames[2].destination })
      assert.same({ 101, 201 }, { frames[1].id, frames[2].id })
    end)

    it("asks nothing when no room topic is served here", function()
      assert.same({}, resume.catch_up({ ["/topic/chatroom/3/typing"] = 0 }, 0))
      assert.same({}, fake.sql_log())
    end)

    it("starts a room with no floor after the newest message stored before the link was lost", function()
      fake.on_sql("created_at < %$1", function() return { { id = 90 } } end)
      fake.on_sql("unnest", function(p)
        assert.equal("{90}", p[2])
        return {}
      end)
      assert.same({}, resume.catch_up({ ["/topic/chatroom/3"] = 0 }, 1736400600))
    end)

    it("delivers at most LIMIT per room and names the rooms beyond it", function()
      fake.on_sql("unnest", function()
        local rows = {}
        for i = 1, resume.LIMIT + 1 do rows[i] = row(i, 3) end
        rows[#rows + 1] = row(5000, 4)
        return rows
      end)
      local frames = resume.catch_up({ ["/topic/chatroom/3"] = 1, ["/topic/chatroom/4"] = 1 }, 0)
      assert.equal(resume.LIMIT + 1, #frames)
      assert.equal("warn", fake.logs[#fake.logs][1])
      assert.matches("rooms 3 had more than", fake.logs[#fake.logs][2])
    end)

    it("retries while PostgreSQL is unavailable, then gives up with its error", function()
      fake.pg_down()
      local frames, err = resume.catch_up({ ["/topic/chatroom/3"] = 1 }, 0)
      assert.is_nil(frames)
      assert.equal("db_unavailable", err.code)
      assert.equal(3, #fake.sql_log())
    end)
  end)
end)
