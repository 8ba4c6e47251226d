-- The SEND body (chat/stomp/handlers.lua): what a ChatMessageRequest must be, and the error
-- (code and text on the sender's error queue) for each way it is not.
describe("chat.stomp.handlers", function()
  local handlers
  before_each(function()
    require("fake_chat").install()
    handlers = require "chat.stomp.handlers"
  end)

  it("reads a request, CHAT by default, null texts as absent", function()
    local req = handlers.parse('{"chatRoomId":1,"senderId":7,"senderNickname":null,"content":"hi"}')
    assert.equal(1, req.chatRoomId)
    assert.equal(7, req.senderId)
    assert.equal("CHAT", req.messageType)
    assert.is_nil(req.senderNickname)
    assert.equal("hi", req.content)
    assert.equal("JOIN", handlers.parse('{"chatRoomId":1,"senderId":7,"messageType":"JOIN"}').messageType)
  end)

  it("refuses each malformed request with its own error, keeping what was decoded", function()
    local cases = {
      { "{nope", "message_malformed", "the message body is not valid JSON", false },
      { '{"senderId":7}', "message_id_missing", "chatRoomId is required and must be an integer", true },
      { '{"chatRoomId":1,"senderId":"7"}', "message_id_missing", "senderId is required and must be an integer", true },
      { '{"chatRoomId":1.5,"senderId":7}', "message_id_missing", "chatRoomId is required and must be an integer", true },
      { '{"chatRoomId":1,"senderId":7,"messageType":"SHOUT"}', "message_type_invalid",
        "messageType must be CHAT, JOIN or LEAVE", true },
      { '{"chatRoomId":1,"senderId":7,"senderNickname":5}', "message_not_string", "senderNickname must be a string", true },
      { '{"chatRoomId":1,"senderId":7,"content":{}}', "message_not_string", "content must be a string", true },
      { '{"chatRoomId":1,"senderId":7,"content":"a\\u0000"}', "value_unstorable",
        "content must not contain a NUL character", true },
    }
    for _, c in ipairs(cases) do
      local req, err, partial = handlers.parse(c[1])
      assert.is_nil(req, c[1])
      assert.equal(c[2], err.code, c[1])
      assert.equal("invalid", err.kind, c[1])
      assert.equal(c[3], err.text, c[1])
      assert.equal(c[4], partial ~= nil, c[1])
    end
  end)

  it("serves exactly the four application destinations", function()
    local names = {}
    for name in pairs(handlers.DESTINATIONS) do names[#names + 1] = name end
    table.sort(names)
    assert.same({ "/app/chat.join", "/app/chat.leave", "/app/chat.sendMessage", "/app/chat.typing" }, names)
  end)
end)
