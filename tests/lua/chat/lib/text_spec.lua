-- Text a column can hold (chat/lib/text.lua), refused with a reason on every path that stores
-- client text: REST, STOMP and Kafka (issue 15: a NUL answered 500 before).
describe("chat.lib.text", function()
  local fake, text
  before_each(function()
    fake = require("fake_chat").install()
    text = require "chat.lib.text"
  end)

  it("accepts UTF-8 text and refuses invalid UTF-8 and NUL", function()
    assert.is_nil(text.problem("안녕하세요 hello"))
    assert.is_nil(text.problem(""))
    assert.equal("is not valid UTF-8", text.problem("\xff\xfe"))
    assert.equal("is not valid UTF-8", text.problem("\xc0\xaf")) -- an overlong '/'
    assert.equal("is not valid UTF-8", text.problem("\xed\xa0\x80")) -- a surrogate
    assert.equal("must not contain a NUL character", text.problem("a\0b"))
  end)

  it("REST: a roomName with an encoded NUL is 400 with the reason, and nothing is stored", function()
    local app = require "chat.init"
    local status, body = require("fake_chat").request(app, "POST", "/api/chat/rooms", "studyId=5&roomName=a%00b")
    assert.equal(400, status)
    assert.equal("parameter 'roomName' must not contain a NUL character", body.message)
    assert.equal(0, #fake.pg_calls)
  end)

  it("STOMP: content or a nickname with NUL or bad UTF-8 goes to the sender's error queue, unstored", function()
    local stomp = require "chat.stomp"
    assert.is_nil(stomp.send("s1", "/app/chat.sendMessage", {}, '{"chatRoomId":1,"senderId":7,"content":"a\\u0000b"}'))
    assert.equal("메시지 전송에 실패했습니다: content must not contain a NUL character", fake.session_sends[1].body)
    assert.is_nil(stomp.send("s1", "/app/chat.sendMessage", {},
      '{"chatRoomId":1,"senderId":7,"senderNickname":"\xff","content":"hi"}'))
    assert.matches("senderNickname is not valid UTF%-8", fake.session_sends[2].body)
    assert.equal(0, #fake.pg_calls)
  end)

  it("Kafka: a nickname with NUL is a permanent failure (dead-lettered at once, not retried)", function()
    local handler = require "chat.events.study_member_created"
    local ok, err = handler.handle({ value = '{"userId":1,"studyId":2,"nickname":"n\\u0000"}' })
    assert.is_nil(ok)
    assert.equal("nickname must not contain a NUL character", err.text)
    assert.equal("invalid", err.kind)
    assert.is_true(require("chat.events").PERMANENT[err.kind], "permanent")
    assert.equal(0, #fake.pg_calls)
  end)
end)
