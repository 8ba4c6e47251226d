-- Typing indicators (chat/domain/typing.lua and /app/chat.typing): the payload on
-- chat:typing, the per-instance rate limit, membership, clearing on leave and disconnect,
-- subscribing, and the channel handler.
describe("typing indicators", function()
  local fake, stomp, delivery

  before_each(function()
    fake = require("fake_chat").install()
    stomp = require "chat.stomp"
    delivery = require "chat.stomp.delivery"
  end)

  local function member(yes)
    fake.on_sql("SELECT 1 AS ok FROM chat_room_members", function() return yes and { { ok = 1 } } or {} end)
  end

  local BODY = '{"chatRoomId":3,"senderId":7,"senderNickname":"홍길동","content":"ignored"}'

  it("publishes the member's indicator on chat:typing and stores nothing", function()
    member(true)
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.same({ '{"chatRoomId":3,"memberId":7,"nickname":"홍길동","typing":true}' }, fake.published("chat:typing"))
    for _, q in ipairs(fake.sql_log()) do
      local sql = type(q) == "table" and (q.sql or q[1]) or q
      assert.is_nil(tostring(sql):find("INSERT", 1, true))
      assert.is_nil(tostring(sql):find("UPDATE", 1, true))
    end
    assert.equal(0, #fake.session_sends)
  end)

  it("pushes locally when Redis cannot publish", function()
    member(true)
    fake.redis_fail.PUBLISH = true
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.equal("/topic/chatroom/3/typing", fake.broadcasts[1].dest)
    assert.equal('{"memberId":7,"nickname":"홍길동","typing":true}', fake.broadcasts[1].body)
  end)

  it("pushes at most once per member and room per second, dropping the rest silently", function()
    member(true)
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    fake.clock = fake.clock + 0.5
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.equal(1, #fake.published("chat:typing"))
    assert.equal(0, #fake.session_sends, "no error for a dropped one")
    -- another room is limited on its own
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, '{"chatRoomId":4,"senderId":7}', "7"))
    assert.equal(2, #fake.published("chat:typing"))
    fake.clock = fake.clock + 0.6
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.equal(3, #fake.published("chat:typing"))
  end)

  it("refuses a non-member on the error queue", function()
    member(false)
    assert.is_nil(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.equal(0, #fake.published("chat:typing"))
    assert.equal("/user/queue/errors", fake.session_sends[1].dest)
    assert.matches("not an active member", fake.session_sends[1].body)
  end)

  it("refuses a senderId that is not the session's user", function()
    member(true)
    assert.is_nil(stomp.send("s1", "/app/chat.typing", {}, BODY, "8"))
    assert.equal(0, #fake.published("chat:typing"))
    assert.equal("/user/queue/errors", fake.session_sends[1].dest)
  end)

  it("pushes typing:false when the member leaves the room", function()
    member(true)
    fake.on_sql("INSERT INTO chat_messages", function() return { { id = 9, created_at = 1736400600 } } end)
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.is_true(stomp.send("s1", "/app/chat.leave", {}, BODY, "7"))
    assert.same({ '{"chatRoomId":3,"memberId":7,"nickname":"홍길동","typing":true}',
                  '{"chatRoomId":3,"memberId":7,"nickname":"홍길동","typing":false}' }, fake.published("chat:typing"))
    stomp.disconnect("s1")
    assert.equal(2, #fake.published("chat:typing"), "cleared once")
  end)

  it("pushes typing:false for each room typed in during the last 10 s when the session drops", function()
    member(true)
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, '{"chatRoomId":1,"senderId":7}', "7"))
    fake.clock = fake.clock + 20
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, '{"chatRoomId":2,"senderId":7}', "7"))
    assert.is_true(stomp.send("s1", "/app/chat.typing", {}, BODY, "7"))
    assert.is_true(stomp.send("s2", "/app/chat.typing", {}, '{"chatRoomId":5,"senderId":7}', "7"))
    stomp.disconnect("s1")
    local got = fake.published("chat:typing")
    assert.same({ '{"chatRoomId":2,"memberId":7,"nickname":null,"typing":false}',
                  '{"chatRoomId":3,"memberId":7,"nickname":"홍길동","typing":false}' }, { got[5], got[6] })
    assert.equal(6, #got)
  end)

  it("lets members subscribe to the typing topic, as the room's topic", function()
    fake.on_sql("SELECT EXISTS", function() return { { room = true, member = true } } end)
    assert.is_true(stomp.subscribe("s", "/topic/chatroom/3/typing", "7"))
    fake.on_sql("SELECT EXISTS", function() return { { room = true, member = false } } end)
    assert.is_nil((stomp.subscribe("s", "/topic/chatroom/3/typing", "7")))
    assert.is_nil((stomp.subscribe("s", "/topic/chatroom/3/typing/x", "7")))
  end)

  it("broadcasts what any instance published and ignores malformed payloads with a throttled warning", function()
    local found = false
    for _, ch in ipairs(delivery.redis_channels) do found = found or ch == "chat:typing" end
    assert.is_true(found)
    delivery.redis_message("chat:typing", '{"chatRoomId":3,"memberId":7,"nickname":"a\\"b","typing":false}')
    assert.equal("/topic/chatroom/3/typing", fake.broadcasts[1].dest)
    assert.equal('{"memberId":7,"nickname":"a\\"b","typing":false}', fake.broadcasts[1].body)
    local bads = { "{nope", '{"chatRoomId":"3","memberId":7,"typing":true}',
                   '{"chatRoomId":3,"memberId":7,"typing":"yes"}', "[]" }
    for i = 1, 30 do delivery.redis_message("chat:typing", bads[i % #bads + 1]) end
    assert.equal(1, #fake.broadcasts)
    local warns = 0
    for _, l in ipairs(fake.logs) do
      if l[1] == "warn" and l[2]:find("malformed typing", 1, true) then warns = warns + 1 end
    end
    assert.equal(20, warns, "throttled: a burst per window, the rest only counted")
  end)
end)
