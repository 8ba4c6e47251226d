describe("chat.messaging (STOMP)", function()
  local fake, messaging
  before_each(function()
    fake = require("fake_chat").install()
    messaging = require "chat.messaging"
  end)

  it("allows only the contract's destinations", function()
    assert.is_true(messaging.subscribe("s", "/topic/chatroom/1"))
    assert.is_true(messaging.subscribe("s", "/topic/chatroom/1/presence"))
    assert.is_true(messaging.subscribe("s", "/user/queue/errors"))
    assert.is_true(messaging.subscribe("s", "/user/42/queue/errors"))
    local ok, why = messaging.subscribe("s", "/topic/other")
    assert.is_nil(ok)
    assert.matches("unknown destination", why)
  end)

  it("reports malformed and invalid messages to the sender's error queues", function()
    assert.is_nil(messaging.send("s1", "/app/chat.sendMessage", {}, "{nope"))
    assert.equal("/user/queue/errors", fake.session_sends[1].dest)
    assert.equal("s1", fake.session_sends[1].sid)
    assert.matches("^메시지 전송에 실패했습니다: ", fake.session_sends[1].body)
    assert.equal("text/plain;charset=UTF-8", fake.session_sends[1].headers["content-type"])

    assert.is_nil(messaging.send("s1", "/app/chat.sendMessage", {}, '{"chatRoomId":1,"senderId":7,"content":"  "}'))
    assert.matches("blank", fake.session_sends[2].body)
    assert.equal("/user/7/queue/errors", fake.broadcasts[#fake.broadcasts].dest)
  end)

  it("stores, then publishes with @class first", function()
    fake.on_sql("INSERT INTO chat_messages", function() return { { id = 5, created_at = "2025-01-09 14:30:00" } } end)
    assert.is_true(messaging.send("s1", "/app/chat.sendMessage", {},
      '{"chatRoomId":1,"senderId":7,"senderNickname":"홍길동","content":"안녕하세요!"}'))
    local publish = fake.redis_calls[#fake.redis_calls]
    assert.equal("PUBLISH", publish[1])
    assert.equal("chat:messages", publish[2])
    assert.equal('{"@class":"com.grow.chat.dto.ChatMessagePublish","chatRoomId":1,"id":5,"senderId":7,'
      .. '"senderNickname":"홍길동","content":"안녕하세요!","messageType":"CHAT","createdAt":"2025-01-09T14:30:00"}', publish[3])
  end)

  it("delivers Redis messages to the room's topic without @class", function()
    messaging.redis_message("chat:messages", '{"@class":"com.grow.chat.dto.ChatMessagePublish","chatRoomId":3,"id":1}')
    assert.equal("/topic/chatroom/3", fake.broadcasts[1].dest)
    assert.equal('{"chatRoomId":3,"id":1}', fake.broadcasts[1].body)
    messaging.redis_message("chat:messages", "garbage")
    assert.equal(1, #fake.broadcasts)
    assert.equal("warn", fake.logs[#fake.logs][1])
  end)
end)
