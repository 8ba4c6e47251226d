-- Delivery across instances (chat/stomp/delivery.lua): the forms of chat:messages every pod
-- of a mixed fleet writes, what this instance's subscribers get, and the presence list that
-- follows a JOIN or LEAVE.
describe("chat.stomp.delivery", function()
  local fake, delivery, json
  local CLASS = "com.grow.chat.dto.ChatMessagePublish"
  local E41 = '{"memberId":41,"nickname":"n41","sessionId":"s41","joinedAt":"2025-01-09T05:29:00"}'
  local E7 = '{"memberId":7,"nickname":"홍길동","sessionId":"s1","joinedAt":"2025-01-09T05:30:00.5"}'

  before_each(function()
    fake = require("fake_chat").install()
    delivery = require "chat.stomp.delivery"
    json = require "chat.lib.json"
  end)

  local function with_presence(room)
    fake.redis_data["chatroom:presence:" .. room] = { "7", E7, "41", json.quote(E41) }
  end

  it("listens on chat:messages, chat:presence, chat:read-marks and chat:typing", function()
    assert.same({ "chat:messages", "chat:presence", "chat:read-marks", "chat:typing" }, delivery.redis_channels)
    assert.equal(delivery.redis_message, require("chat.stomp").redis_message)
  end)

  describe("unwrap", function()
    it("takes the object out of the wrapper array, drops a leading @class, leaves a plain object as it is", function()
      assert.equal('{"chatRoomId":1,"id":2}', delivery.unwrap('["' .. CLASS .. '",{"chatRoomId":1,"id":2}]'))
      assert.equal('{"chatRoomId":1,"id":2}', delivery.unwrap('[ "' .. CLASS .. '" , {"chatRoomId":1,"id":2} ]\n'))
      assert.equal('{"chatRoomId":1,"id":2}', delivery.unwrap('{"@class":"' .. CLASS .. '","chatRoomId":1,"id":2}'))
      assert.equal('{"chatRoomId":1,"id":2}', delivery.unwrap('{ "@class" : "x",  "chatRoomId":1,"id":2}'))
      assert.equal('{"chatRoomId":1,"id":2}', delivery.unwrap('{"chatRoomId":1,"id":2}'))
      assert.equal('{"id":2,"@class":"x","chatRoomId":1}', delivery.unwrap('{"id":2,"@class":"x","chatRoomId":1}'))
      assert.equal("garbage", delivery.unwrap("garbage"))
      assert.equal("[1,2]", delivery.unwrap("[1,2]"))
    end)
  end)

  describe("messages from Redis", function()
    local PLAIN = '{"chatRoomId":3,"id":1,"senderId":7,"senderNickname":"n","content":"hi","messageType":"CHAT",'
      .. '"createdAt":"2025-01-09T05:30:00"}'

    local function delivered(payload)
      delivery.redis_message("chat:messages", payload)
      assert.equal(1, #fake.broadcasts)
      return fake.broadcasts[1]
    end

    it("delivers the wrapper array (the original's and chatd's) as the plain object", function()
      assert.same({ dest = "/topic/chatroom/3", body = PLAIN }, delivered('["' .. CLASS .. '",' .. PLAIN .. ']'))
    end)

    it("delivers an object with @class first (earlier chatd) without @class", function()
      assert.same({ dest = "/topic/chatroom/3", body = PLAIN }, delivered('{"@class":"' .. CLASS .. '",' .. PLAIN:sub(2)))
    end)

    it("delivers a plain object as it is, chatRoomId anywhere", function()
      assert.same({ dest = "/topic/chatroom/3", body = PLAIN }, delivered(PLAIN))
      local moved = '{"id":2,"content":"\\"chatRoomId\\":9","chatRoomId":13}'
      delivery.redis_message("chat:messages", moved)
      assert.same({ dest = "/topic/chatroom/13", body = moved }, fake.broadcasts[2])
    end)

    it("drops malformed messages with a warning", function()
      for _, payload in ipairs {
        "garbage", "not json", "[]", '["' .. CLASS .. '"]', '["' .. CLASS .. '",{"id":1}]',
        '{"@class":"x","chatRoomId":"14","id":3}', '["' .. CLASS .. '",{"chatRoomId":1.5,"id":1}]', '{"id":1}',
      } do
        local logs = #fake.logs
        delivery.redis_message("chat:messages", payload)
        assert.equal(logs + 1, #fake.logs, payload)
        assert.equal("warn", fake.logs[#fake.logs][1])
        assert.equal("ignoring a malformed message on chat:messages: " .. payload, fake.logs[#fake.logs][2])
      end
      assert.equal(0, #fake.broadcasts)
    end)

    it("pushes a read mark from chat:read-marks to the room's read topic", function()
      delivery.redis_message("chat:read-marks", '{"chatRoomId":4,"memberId":9,"lastReadMessageId":77}')
      assert.same({ { dest = "/topic/chatroom/4/read", body = '{"memberId":9,"lastReadMessageId":77}' } },
                  fake.broadcasts)
      delivery.redis_message("chat:read-marks", '{"chatRoomId":4}')
      assert.equal(1, #fake.broadcasts)
      assert.equal("warn", fake.logs[#fake.logs][1])
      assert.matches("ignoring a malformed read mark on chat:read%-marks", fake.logs[#fake.logs][2])
    end)

    it("ignores other channels", function()
      delivery.redis_message("chat:other", PLAIN)
      assert.equal(0, #fake.broadcasts)
      assert.equal(0, #fake.logs)
    end)

    it("follows a JOIN or LEAVE, from any pod, with the room's presence list to this instance", function()
      with_presence(3)
      local join = '{"chatRoomId":3,"id":8,"senderId":0,"senderNickname":"n41","content":"n41님이 입장하셨습니다.",'
        .. '"messageType":"JOIN","createdAt":"2025-01-09T05:29:00"}'
      delivery.redis_message("chat:messages", '["' .. CLASS .. '",' .. join .. ']')
      assert.same({ { dest = "/topic/chatroom/3", body = join },
                    { dest = "/topic/chatroom/3/presence", body = "[" .. E41 .. "," .. E7 .. "]" } }, fake.broadcasts)
      assert.same({ "HGETALL", "chatroom:presence:3" }, fake.redis_calls[1])

      local leave = join:gsub("JOIN", "LEAVE")
      delivery.redis_message("chat:messages", leave)
      assert.equal(4, #fake.broadcasts)
      assert.same({ dest = "/topic/chatroom/3", body = leave }, fake.broadcasts[3])
      assert.same({ dest = "/topic/chatroom/3/presence", body = "[" .. E41 .. "," .. E7 .. "]" }, fake.broadcasts[4])
      assert.same({}, fake.published("chat:presence"), "this instance's subscribers only")
    end)

    it("pushes no presence list after a CHAT message, whatever its text says", function()
      with_presence(3)
      delivered(PLAIN)
      delivery.redis_message("chat:messages",
        '{"chatRoomId":3,"id":2,"content":"\\"messageType\\":\\"JOIN\\"","messageType":"CHAT"}')
      assert.equal(2, #fake.broadcasts)
      assert.equal("/topic/chatroom/3", fake.broadcasts[2].dest)
      assert.is_false(fake.redis_called("HGETALL"))
    end)

    it("still delivers the JOIN when the presence list cannot be read (logged)", function()
      fake.redis_fail.HGETALL = true
      delivery.redis_message("chat:messages", '{"chatRoomId":3,"id":8,"messageType":"JOIN"}')
      assert.equal(1, #fake.broadcasts)
      assert.equal("/topic/chatroom/3", fake.broadcasts[1].dest)
      assert.equal("warn", fake.logs[#fake.logs][1])
      assert.matches("^cannot read the presence of chat room 3: ", fake.logs[#fake.logs][2])
    end)
  end)

  describe("what could not be published", function()
    local function msg(id) return { chatRoomId = 5, id = id, senderId = 7, senderNickname = "n", content = "c" .. id,
                                    messageType = "CHAT", createdAt = "2025-01-09T05:30:00" } end
    local function payload(id) return '["' .. CLASS .. '",' .. delivery.message_json(msg(id)) .. "]" end

    it("broadcasts each chat message with its id, so a destination is given it once", function()
      delivery.redis_message("chat:messages", payload(11))
      assert.same({ 11 }, fake.broadcast_ids)
    end)

    it("is delivered here at once, published once Redis answers (oldest first), and its echo skipped", function()
      fake.redis_down = true
      delivery.deliver(msg(1))
      delivery.deliver(msg(2))
      assert.same({ 1, 2 }, fake.broadcast_ids, "this instance's subscribers got both")
      assert.equal("warn", fake.logs[1][1])
      assert.matches("^Redis publish failed", fake.logs[1][2])
      assert.equal(1, #fake.logs, "one warning per outage, not one per message")

      fake.redis_down = false
      fake.redis_calls = {}
      delivery.deliver(msg(3))
      assert.same({ payload(1), payload(2), payload(3) }, fake.published("chat:messages"))
      assert.matches("^published 2 message%(s%) that could not be published", fake.logs[#fake.logs][2])

      -- The copies of 1 and 2 coming back are this instance's own; 3 and anyone else's are new.
      delivery.redis_message("chat:messages", payload(1))
      delivery.redis_message("chat:messages", payload(2))
      delivery.redis_message("chat:messages", payload(3))
      delivery.redis_message("chat:messages", payload(4))
      assert.same({ 1, 2, 3, 4 }, fake.broadcast_ids)
      delivery.redis_message("chat:messages", payload(1))
      assert.same({ 1, 2, 3, 4, 1 }, fake.broadcast_ids, "an echo is skipped once (the C core dedupes the rest)")
    end)

    it("is published by redis_restored when no new message comes", function()
      fake.redis_down = true
      delivery.deliver(msg(21))
      fake.redis_down = false
      fake.redis_calls = {}
      require("chat.stomp").redis_restored()
      assert.same({ payload(21) }, fake.published("chat:messages"))
    end)

    it("stops at the first failure and keeps the rest for later", function()
      fake.redis_down = true
      delivery.deliver(msg(31))
      delivery.deliver(msg(32))
      assert.equal(2, delivery.flush_unpublished())
      fake.redis_down = false
      assert.equal(0, delivery.flush_unpublished())
    end)

    it("keeps at most OUTBOX_MAX, dropping the oldest with a warning", function()
      fake.redis_down = true
      local max = delivery.OUTBOX_MAX
      delivery.OUTBOX_MAX = 2
      delivery.deliver(msg(41))
      delivery.deliver(msg(42))
      delivery.deliver(msg(43))
      delivery.OUTBOX_MAX = max
      assert.matches("message 41 will not reach other instances live", fake.logs[#fake.logs][2])
      fake.redis_down = false
      fake.redis_calls = {}
      delivery.flush_unpublished()
      assert.same({ payload(42), payload(43) }, fake.published("chat:messages"))
    end)
  end)

  describe("with CHAT_REDIS_PUBSUB=sharded", function()
    local function msg(id) return { chatRoomId = 5, id = id, senderId = 7, senderNickname = "n", content = "c" .. id,
                                    messageType = "CHAT", createdAt = "2025-01-09T05:30:00" } end

    before_each(function()
      fake = require("fake_chat").install()
      fake.chat.redis.sharded = true
      delivery = require "chat.stomp.delivery"
    end)

    it("listens to no global channel, and to each room's own channels while it has subscribers there", function()
      assert.same({}, delivery.redis_channels)
      assert.same({ "chat:messages:{}", "chat:presence:{}", "chat:read-marks:{}", "chat:typing:{}" },
        delivery.redis_room_channels)
      assert.equal("/topic/chatroom/", delivery.redis_room_prefix)
    end)

    it("publishes a stored message on its room's channel, and on it again after an outage", function()
      delivery.deliver(msg(1))
      local payload = '["' .. CLASS .. '",' .. delivery.message_json(msg(1)) .. "]"
      assert.same({ "SPUBLISH", "chat:messages:{5}", payload }, fake.redis_calls[#fake.redis_calls])
      fake.redis_down = true
      delivery.deliver(msg(2))
      fake.redis_down = false
      delivery.flush_unpublished()
      assert.equal("chat:messages:{5}", fake.redis_calls[#fake.redis_calls][2])
    end)

    it("delivers what a room's channel carries by the channel's base name", function()
      delivery.redis_message("chat:messages:{5}", '["' .. CLASS .. '",' .. delivery.message_json(msg(9)) .. "]")
      assert.same({ 9 }, fake.broadcast_ids)
      delivery.redis_message("chat:read-marks:{5}", '{"chatRoomId":5,"memberId":7,"lastReadMessageId":9}')
      assert.same({ dest = "/topic/chatroom/5/read", body = '{"memberId":7,"lastReadMessageId":9}' },
        { dest = fake.broadcasts[2].dest, body = fake.broadcasts[2].body })
    end)

    it("counts a chat message for a room nobody here subscribes to", function()
      fake.unsubscribed = { ["/topic/chatroom/5"] = true }
      delivery.redis_message("chat:messages:{5}", delivery.message_json(msg(3)))
      assert.equal(1, fake.unrouted)
      fake.unsubscribed = nil
      delivery.redis_message("chat:messages:{5}", delivery.message_json(msg(4)))
      assert.equal(1, fake.unrouted, "delivered: not counted")
    end)
  end)
end)
