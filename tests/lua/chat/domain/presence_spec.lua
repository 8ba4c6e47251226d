describe("chat.domain.presence", function()
  local fake, presence, json
  -- Entries as the original's PresenceMember JSON (and chatd's: the same fields and order).
  local E41 = '{"memberId":41,"nickname":"n41","sessionId":"s41","joinedAt":"2025-01-09T05:29:00"}'
  local E7 = '{"memberId":7,"nickname":"홍길동","sessionId":"s1","joinedAt":"2025-01-09T05:30:00.5"}'
  local E8 = '{"memberId":8,"nickname":null,"sessionId":"s8","joinedAt":"2025-01-09T05:30:00.25"}'

  before_each(function()
    fake = require("fake_chat").install()
    presence = require "chat.domain.presence"
    json = require "chat.lib.json"
  end)

  local function last_eval()
    for i = #fake.redis_calls, 1, -1 do
      if fake.redis_calls[i][1] == "EVAL" then return fake.redis_calls[i] end
    end
  end

  local function evals()
    local out = {}
    for _, c in ipairs(fake.redis_calls) do if c[1] == "EVAL" then out[#out + 1] = c end end
    return out
  end

  -- Runs a recorded EVAL's script as Redis would, on the fake's hashes (flat lists in
  -- fake.redis_data): the fake's own EVAL only records it.
  local function run_script(call)
    local KEYS, ARGV = {}, {}
    for i = 1, call[3] do KEYS[i] = call[3 + i] end
    for i = 4 + call[3], #call do ARGV[#ARGV + 1] = tostring(call[i]) end
    local redis = { call = function(cmd, key, field, value)
      if cmd == "EXPIRE" then return 1 end
      fake.redis_data[key] = fake.redis_data[key] or {}
      local h = fake.redis_data[key]
      for i = 1, #h, 2 do
        if h[i] == field then
          if cmd == "HGET" then return h[i + 1] end
          if cmd == "HSET" then h[i + 1] = value; return 0 end
          table.remove(h, i); table.remove(h, i) -- HDEL
          return 1
        end
      end
      if cmd == "HSET" then h[#h + 1] = field; h[#h + 1] = value; return 1 end
      return cmd == "HGET" and false or 0
    end }
    return assert(load(call[2], "=script", "t", { redis = redis, KEYS = KEYS, ARGV = ARGV, string = string }))()
  end

  describe("add", function()
    it("stores the entry as a JSON string holding its JSON, as the original's Redis serializer does", function()
      assert.is_true(presence.add(1, 7, "홍길동", "s1"))
      local call = evals()[1]
      assert.same({ 1, "chatroom:presence:1", "7",
        '"{\\"memberId\\":7,\\"nickname\\":\\"홍길동\\",\\"sessionId\\":\\"s1\\",\\"joinedAt\\":\\"2025-01-09T05:30:00.5\\"}"',
        86400 }, { table.unpack(call, 3) })
      assert.equal(E7, json.decode(call[6]), "the string is the entry's JSON")
      assert.same({ 1, "chatroom:session:s1", "1", "7", 86400 }, { table.unpack(last_eval(), 3) })
    end)

    it("writes a null nickname", function()
      fake.clock = 1736400600.25
      presence.add(1, 8, nil, "s8")
      assert.equal(json.quote(E8), evals()[1][6])
    end)

    it("writes both hashes, which the list then reads back", function()
      presence.add(1, 7, "홍길동", "s1")
      for _, c in ipairs(evals()) do assert.equal(1, run_script(c)) end
      assert.same({ "7", json.quote(E7) }, fake.redis_data["chatroom:presence:1"])
      assert.same({ "1", "7" }, fake.redis_data["chatroom:session:s1"])
      assert.equal("[" .. E7 .. "]", presence.list_json(1))
    end)

    it("reports a Redis failure", function()
      fake.redis_down = true
      local ok, err = presence.add(1, 7, "n", "s1")
      assert.is_nil(ok)
      assert.equal("Redis is unavailable", err)
    end)
  end)

  describe("list_json", function()
    it("reads the JSON string form and the plain object form, sorted by joinedAt", function()
      fake.redis_data["chatroom:presence:1"] = { "7", E7, "41", json.quote(E41), "8", json.quote(E8) }
      assert.equal("[" .. E41 .. "," .. E8 .. "," .. E7 .. "]", presence.list_json(1))
      assert.same({ "HGETALL", "chatroom:presence:1" }, fake.redis_calls[1])
    end)

    it("skips values that are not an entry", function()
      fake.redis_data["chatroom:presence:1"] = { "1", "garbage", "2", '"not json"', "3", '"{\\"memberId\\":', "41", json.quote(E41) }
      assert.equal("[" .. E41 .. "]", presence.list_json(1))
    end)

    it("skips JSON that is not an entry object, and a joinedAt that is not text, without failing the sort", function()
      fake.redis_data["chatroom:presence:1"] = { "1", "null", "2", '"null"', "3", "[1]", "4", '{"memberId":4,"joinedAt":[2026,11,29]}',
        "5", '{"memberId":5,"joinedAt":1764400000}', "41", json.quote(E41) }
      assert.equal("[" .. E41 .. "]", presence.list_json(1))
    end)

    it("is an empty array for an empty room, nil and the error without Redis", function()
      assert.equal("[]", presence.list_json(5))
      fake.redis_down = true
      local list, err = presence.list_json(5)
      assert.is_nil(list)
      assert.equal("Redis is unavailable", err)
    end)
  end)

  describe("on a Redis Cluster", function()
    before_each(function()
      fake = require("fake_chat").install()
      fake.chat.config.redis_cluster = true
      presence = require "chat.domain.presence"
    end)

    it("tags the room's key with its id and touches one key per command: no script spans two shards", function()
      assert.is_true(presence.add(1, 7, "홍길동", "s1"))
      local calls = evals()
      assert.equal(2, #calls)
      assert.same({ 1, "chatroom:presence:{1}", "7", json.quote(E7), 86400 }, { table.unpack(calls[1], 3) })
      assert.same({ 1, "chatroom:session:s1", "1", "7", 86400 }, { table.unpack(calls[2], 3) })
      for _, c in ipairs(calls) do run_script(c) end
      assert.equal("[" .. E7 .. "]", presence.list_json(1))
      assert.same({ "1", "7" }, fake.redis_data["chatroom:session:s1"])
    end)

    it("removes the session's record, then the entry only for the session that owns it", function()
      fake.redis_data["chatroom:presence:{1}"] = { "7", json.quote(E7), "41", json.quote(E41) }
      presence.remove(1, 7, "s10")
      assert.same({ "HDEL", "chatroom:session:s10", "1" }, fake.redis_calls[#fake.redis_calls - 1])
      local call = evals()[1]
      assert.same({ 1, "chatroom:presence:{1}", "7", '"sessionId":"s10"', '\\"sessionId\\":\\"s10\\"' },
        { table.unpack(call, 3) })
      assert.equal(0, run_script(call))
      presence.remove(1, 7, "s1")
      assert.equal(1, run_script(evals()[2]))
      assert.same({ "41", json.quote(E41) }, fake.redis_data["chatroom:presence:{1}"])
    end)

    it("restores entries after an outage one key per command", function()
      presence.add(1, 7, "홍길동", "s1")
      fake.redis_calls = {}
      assert.equal(1, presence.restore())
      local calls = evals()
      assert.equal("chatroom:presence:{1}", calls[1][4])
      assert.equal("chatroom:session:s1", calls[2][4])
      for _, c in ipairs(calls) do assert.equal(1, c[3]) end
    end)
  end)

  describe("remove", function()
    it("drops the session's record and asks for the owning session's mark in both forms: ARGV[2] plain, ARGV[3] escaped", function()
      assert.is_true(presence.remove(1, 7, "s1"))
      assert.same({ "HDEL", "chatroom:session:s1", "1" }, fake.redis_calls[#fake.redis_calls - 1])
      assert.same({ 1, "chatroom:presence:1", "7", '"sessionId":"s1"', '\\"sessionId\\":\\"s1\\"' },
        { table.unpack(last_eval(), 3) })
    end)

    it("removes an entry in the JSON string form only for the session that owns it", function()
      fake.redis_data["chatroom:presence:1"] = { "7", json.quote(E7), "41", json.quote(E41) }
      fake.redis_data["chatroom:session:s10"] = { "1", "7" }
      presence.remove(1, 7, "s10") -- the member rejoined from another tab: s1 owns the entry now
      assert.equal(0, run_script(last_eval()))
      assert.same({ "HDEL", "chatroom:session:s10", "1" }, fake.redis_calls[#fake.redis_calls - 1],
        "the closing session's record goes either way")
      assert.same({ "7", json.quote(E7), "41", json.quote(E41) }, fake.redis_data["chatroom:presence:1"])
      presence.remove(1, 7, "s1")
      assert.equal(1, run_script(last_eval()))
      assert.same({ "41", json.quote(E41) }, fake.redis_data["chatroom:presence:1"])
    end)

    it("removes an entry in the plain object form (earlier chatd) only for the session that owns it", function()
      fake.redis_data["chatroom:presence:1"] = { "7", E7 }
      presence.remove(1, 7, "s")
      assert.equal(0, run_script(last_eval()))
      presence.remove(1, 7, "s1")
      assert.equal(1, run_script(last_eval()))
      assert.same({}, fake.redis_data["chatroom:presence:1"])
    end)

    it("reports a Redis failure", function()
      fake.redis_down = true
      assert.is_nil(presence.remove(1, 7, "s1"))
    end)
  end)

  describe("across instances", function()
    before_each(function()
      fake.redis_data["chatroom:presence:1"] = { "7", json.quote(E7), "41", E41 }
    end)

    it("push_local sends the room's list to this instance's subscribers only", function()
      presence.push_local(1)
      assert.same({ { dest = "/topic/chatroom/1/presence", body = "[" .. E41 .. "," .. E7 .. "]" } }, fake.broadcasts)
      for _, c in ipairs(fake.redis_calls) do assert.not_equal("PUBLISH", c[1]) end
    end)

    it("push_local logs and sends nothing when the list cannot be read", function()
      fake.redis_fail.HGETALL = true
      presence.push_local(1)
      assert.same({}, fake.broadcasts)
      assert.same({ "warn", "cannot read the presence of chat room 1: Redis is unavailable" }, fake.logs[1])
    end)

    it("publish sends the list on chat:presence, or to this instance when Redis cannot publish", function()
      assert.is_true(presence.publish(1))
      assert.same({ "PUBLISH", "chat:presence", '{"chatRoomId":1,"members":[' .. E41 .. "," .. E7 .. "]}" },
        fake.redis_calls[#fake.redis_calls])
      assert.same({}, fake.broadcasts)
      fake.redis_fail.PUBLISH = true
      assert.is_true(presence.publish(1))
      assert.same({ { dest = "/topic/chatroom/1/presence", body = "[" .. E41 .. "," .. E7 .. "]" } }, fake.broadcasts)
    end)

    it("delivers a presence update from chat:presence, and drops a malformed one", function()
      presence.on_redis_message('{"chatRoomId":4,"members":[' .. E41 .. "]}")
      assert.same({ { dest = "/topic/chatroom/4/presence", body = "[" .. E41 .. "]" } }, fake.broadcasts)
      presence.on_redis_message('{"chatRoomId":"4","members":[]}')
      assert.equal(1, #fake.broadcasts)
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)
  end)
  describe("restore", function()
    it("writes this instance's sessions' entries back after Redis lost them, and pushes their rooms' lists", function()
      presence.add(1, 7, "홍길동", "s1")
      presence.add(2, 7, "홍길동", "s1")
      presence.add(1, 41, "n41", "s41")
      presence.add(2, 8, nil, "s8")
      presence.remove(2, 8, "s8")   -- left: not restored
      presence.session_rooms("s41") -- its session closed: not restored
      fake.redis_data = {}          -- a restarted Redis
      fake.redis_calls = {}

      assert.equal(2, presence.restore())
      local calls = evals()
      assert.equal(4, #calls, "an entry and a session record per present member, one key each")
      for _, c in ipairs(calls) do
        assert.equal(1, c[3])
        run_script(c)
      end
      local function members(room)
        local h, out = fake.redis_data["chatroom:presence:" .. room] or {}, {}
        for k = 1, #h, 2 do out[#out + 1] = h[k] end
        table.sort(out)
        return out
      end
      assert.same({ "7" }, members(1))
      assert.same({ "7" }, members(2))
      local session = fake.redis_data["chatroom:session:s1"]
      local rooms = {}
      for k = 1, #session, 2 do rooms[session[k]] = session[k + 1] end
      assert.same({ ["1"] = "7", ["2"] = "7" }, rooms)
      assert.equal(2, #fake.published("chat:presence"), "each room's list is pushed")
    end)

    it("reports Redis still failing, and restores nothing when nobody is present", function()
      assert.equal(0, presence.restore())
      presence.add(1, 7, "n", "s1")
      fake.redis_down = true
      local n, err = presence.restore()
      assert.is_nil(n)
      assert.truthy(err)
      assert.matches("^cannot restore presence", fake.logs[#fake.logs][2])
    end)
  end)
end)
