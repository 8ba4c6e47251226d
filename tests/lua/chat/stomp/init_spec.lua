-- STOMP (chat/stomp/): what may be subscribed, SEND to the application destinations and
-- the sender's error queues, publishing a stored message, join, leave and disconnect.
describe("chat.stomp", function()
  local fake, stomp, json
  local CLASS = "com.grow.chat.dto.ChatMessagePublish"
  -- Presence entries as they sit in the room's hash: the original's (and chatd's) JSON
  -- string form, and the plain object earlier chatd versions wrote.
  local E41 = '{"memberId":41,"nickname":"n41","sessionId":"s41","joinedAt":"2025-01-09T05:29:00"}'
  local E7 = '{"memberId":7,"nickname":"홍길동","sessionId":"s1","joinedAt":"2025-01-09T05:30:00.5"}'

  before_each(function()
    fake = require("fake_chat").install()
    stomp = require "chat.stomp"
    json = require "chat.lib.json"
  end)

  local function with_presence(room)
    fake.redis_data["chatroom:presence:" .. room] = { "7", E7, "41", json.quote(E41) }
  end

  it("allows only the contract's destinations", function()
    assert.is_true(stomp.subscribe("s", "/topic/chatroom/1"))
    assert.is_true(stomp.subscribe("s", "/topic/chatroom/1/presence"))
    assert.is_true(stomp.subscribe("s", "/topic/chatroom/1/read"))
    assert.is_nil((stomp.subscribe("s", "/topic/chatroom/1/read/x")))
    assert.is_true(stomp.subscribe("s", "/user/queue/errors"))
    assert.is_true(stomp.subscribe("s", "/user/42/queue/errors"))
    local ok, why = stomp.subscribe("s", "/topic/other")
    assert.is_nil(ok)
    assert.matches("unknown destination", why)
  end)

  it("reports malformed and invalid messages to the sender's error queues", function()
    assert.is_nil(stomp.send("s1", "/app/chat.sendMessage", {}, "{nope"))
    assert.equal("/user/queue/errors", fake.session_sends[1].dest)
    assert.equal("s1", fake.session_sends[1].sid)
    assert.matches("^메시지 전송에 실패했습니다: ", fake.session_sends[1].body)
    assert.equal("text/plain;charset=UTF-8", fake.session_sends[1].headers["content-type"])

    assert.is_nil(stomp.send("s1", "/app/chat.sendMessage", {}, '{"chatRoomId":1,"senderId":7,"content":"  "}'))
    assert.matches("blank", fake.session_sends[2].body)
    assert.equal("/user/7/queue/errors", fake.broadcasts[#fake.broadcasts].dest)
  end)

  describe("publishing", function()
    it("stores, then publishes the original's wrapper array: the class name, then the object", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 5, created_at = 1736400600 } } end)
      assert.is_true(stomp.send("s1", "/app/chat.sendMessage", {},
        '{"chatRoomId":1,"senderId":7,"senderNickname":"홍길동","content":"안녕 \\"you\\""}'))
      assert.same({ '["com.grow.chat.dto.ChatMessagePublish",{"chatRoomId":1,"id":5,"senderId":7,'
        .. '"senderNickname":"홍길동","content":"안녕 \\"you\\"","messageType":"CHAT","createdAt":"2025-01-09T05:30:00"}]' },
        fake.published("chat:messages"))
      assert.equal(0, #fake.broadcasts, "subscribers get it back through Redis")
    end)

    it("writes null for an absent nickname or content", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 6, created_at = 1736400600.25 } } end)
      assert.is_true(stomp.send("s1", "/app/chat.sendMessage", {}, '{"chatRoomId":2,"senderId":7,"content":"hi"}'))
      assert.equal('["' .. CLASS .. '",{"chatRoomId":2,"id":6,"senderId":7,"senderNickname":null,"content":"hi",'
        .. '"messageType":"CHAT","createdAt":"2025-01-09T05:30:00.25"}]', fake.published("chat:messages")[1])
    end)

    it("delivers to this instance's subscribers only, as the plain object, when Redis cannot publish", function()
      fake.redis_fail.PUBLISH = true
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 5, created_at = 1736400600 } } end)
      assert.is_true(stomp.send("s1", "/app/chat.sendMessage", {}, '{"chatRoomId":1,"senderId":7,"content":"hi"}'))
      assert.equal(1, #fake.broadcasts, "a CHAT message brings no presence list")
      assert.equal("/topic/chatroom/1", fake.broadcasts[1].dest)
      assert.equal('{"chatRoomId":1,"id":5,"senderId":7,"senderNickname":null,"content":"hi","messageType":"CHAT",'
        .. '"createdAt":"2025-01-09T05:30:00"}', fake.broadcasts[1].body)
      assert.is_false(fake.redis_called("HGETALL"))
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)
  end)

  describe("join, leave and disconnect", function()
    before_each(function()
      fake.on_sql("SELECT 1 AS ok FROM chat_room_members", function() return { { ok = 1 } } end)
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 9, created_at = 1736400600 } } end)
    end)

    local function eval_args(i)
      local c = fake.redis_calls[i]
      assert.equal("EVAL", c[1])
      return { table.unpack(c, 3) }
    end

    it("join: adds the presence entry, stores and publishes the JOIN, publishes no presence update", function()
      assert.is_true(stomp.send("s1", "/app/chat.join", {}, '{"chatRoomId":1,"senderId":7,"senderNickname":"홍길동"}'))
      assert.same({ 1, "chatroom:presence:1", "7", json.quote(E7), 86400 }, eval_args(1))
      assert.same({ 1, "chatroom:session:s1", "1", "7", 86400 }, eval_args(2))
      local join = '{"chatRoomId":1,"id":9,"senderId":0,"senderNickname":"홍길동","content":"홍길동님이 입장하셨습니다.",'
        .. '"messageType":"JOIN","createdAt":"2025-01-09T05:30:00"}'
      assert.same({ '["' .. CLASS .. '",' .. join .. ']' }, fake.published("chat:messages"))
      assert.same({}, fake.published("chat:presence"))
      assert.equal(0, #fake.broadcasts)

      -- Every instance, this one included, gets the JOIN back and pushes the list after it.
      with_presence(1)
      stomp.redis_message("chat:messages", fake.published("chat:messages")[1])
      assert.same({ { dest = "/topic/chatroom/1", body = join },
                    { dest = "/topic/chatroom/1/presence", body = "[" .. E41 .. "," .. E7 .. "]" } }, fake.broadcasts)
    end)

    it("join without Redis Pub/Sub: the JOIN and the presence list go to this instance's subscribers", function()
      fake.redis_fail.PUBLISH = true
      with_presence(1)
      assert.is_true(stomp.send("s1", "/app/chat.join", {}, '{"chatRoomId":1,"senderId":7,"senderNickname":"홍길동"}'))
      assert.equal(2, #fake.broadcasts)
      assert.equal("/topic/chatroom/1", fake.broadcasts[1].dest)
      assert.matches('^{"chatRoomId":1,"id":9,.*"messageType":"JOIN"', fake.broadcasts[1].body)
      assert.same({ dest = "/topic/chatroom/1/presence", body = "[" .. E41 .. "," .. E7 .. "]" }, fake.broadcasts[2])
    end)

    it("leave: removes this session's entry, stores and publishes the LEAVE, publishes no presence update", function()
      fake.redis_data["chatroom:session:s1"] = { "1", "7" }
      assert.is_true(stomp.send("s1", "/app/chat.leave", {}, '{"chatRoomId":1,"senderId":7,"senderNickname":"홍길동"}'))
      local remove
      for i, c in ipairs(fake.redis_calls) do if c[1] == "EVAL" then remove = eval_args(i) end end
      assert.same({ 1, "chatroom:presence:1", "7", '"sessionId":"s1"', '\\"sessionId\\":\\"s1\\"' }, remove)
      assert.is_true(fake.redis_called("HDEL"), "the session's record of the room goes")
      local payload = fake.published("chat:messages")
      assert.equal(1, #payload)
      assert.matches('"content":"홍길동님이 퇴장하셨습니다%.","messageType":"LEAVE"', payload[1])
      assert.same({}, fake.published("chat:presence"))
      assert.equal(0, #fake.broadcasts)
    end)

    it("disconnect: removes the session's entries and publishes each room's list on chat:presence", function()
      fake.redis_data["chatroom:session:s1"] = { "1", "7" }
      fake.redis_data["chatroom:presence:1"] = { "41", json.quote(E41) }
      stomp.disconnect("s1")
      local remove
      for i, c in ipairs(fake.redis_calls) do if c[1] == "EVAL" then remove = eval_args(i) end end
      assert.same({ 1, "chatroom:presence:1", "7", '"sessionId":"s1"', '\\"sessionId\\":\\"s1\\"' }, remove)
      assert.same({ '{"chatRoomId":1,"members":[' .. E41 .. ']}' }, fake.published("chat:presence"))
      assert.same({}, fake.published("chat:messages"))
      assert.is_nil(fake.redis_data["chatroom:session:s1"])
    end)
  end)
end)
