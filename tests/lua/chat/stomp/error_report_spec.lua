-- Errors over STOMP (chat/stomp/error_report.lua): the text of every code of the catalogue
-- on an error queue or in an ERROR frame, CONNECT refusals, and the report to the sender.
-- A change to how a code reads over STOMP fails here.
describe("chat.stomp.error_report", function()
  local fake, error_report, errors
  before_each(function()
    fake = require("fake_chat").install()
    error_report = require "chat.stomp.error_report"
    errors = require "chat.errors"
  end)

  -- The prefix each code gets over STOMP: refusals say so, everything else is its text.
  local PREFIX = {
    members_only = "forbidden: ", not_you = "forbidden: ", foreign_error_queue = "forbidden: ",
    internal_only = "forbidden: ", cors_refused = "forbidden: ",
    auth_required = "unauthorized: ", untrusted_gateway = "unauthorized: ", bad_user_id = "unauthorized: ",
    no_user_claim = "unauthorized: ", token_refused = "unauthorized: ",
  }

  it("maps each kind to its wording in one table", function()
    assert.same({ unauthenticated = "unauthorized: ", forbidden = "forbidden: " }, error_report.PREFIX)
  end)

  it("words every code of the catalogue: a refusal's prefix, then the error's text", function()
    for code, entry in pairs(errors.BY_CODE) do
      local err = { code = code, kind = entry.kind, text = "the text" }
      assert.equal((PREFIX[code] or "") .. "the text", error_report.text(err), code)
    end
  end)

  it("words the texts the clients match", function()
    local text = function(entry, ...) return error_report.text(errors.new(entry, ...)) end
    assert.equal("user 7 is not an active member of chat room 3", text(errors.NOT_A_MEMBER, "user", 7, 3))
    assert.equal("forbidden: user 7 is not an active member of chat room 3", text(errors.MEMBERS_ONLY, "user", 7, 3))
    assert.equal("forbidden: senderId 6 is not the authenticated user 5", text(errors.NOT_YOU, "senderId", "6", "5"))
    assert.equal("forbidden: user 5 may not read the errors of user 6", text(errors.FOREIGN_ERROR_QUEUE, "5", "6"))
    assert.equal("content must not be blank", text(errors.CONTENT_BLANK))
    assert.equal("the message body is not valid JSON", text(errors.MESSAGE_MALFORMED))
    assert.equal("unknown destination: /topic/other", text(errors.UNKNOWN_DESTINATION, "/topic/other"))
    assert.equal("unknown destination /app/nope", text(errors.UNKNOWN_APP_DESTINATION, "/app/nope"))
    assert.equal("database unavailable", text(errors.DB_UNAVAILABLE))
    assert.equal("the message could not be stored", text(errors.MESSAGE_NOT_STORED))
    assert.equal("internal error", text(errors.HANDLER_RAISED))
  end)

  it("refuses a CONNECT as unauthorized, whatever the cause", function()
    assert.equal("unauthorized: authentication required", error_report.connect_refusal(errors.new(errors.AUTH_REQUIRED)))
    assert.equal("unauthorized: token expired", error_report.connect_refusal(errors.new(errors.TOKEN_REFUSED, "token expired")))
    assert.equal("unauthorized: token signing keys are not available yet",
      error_report.connect_refusal(errors.new(errors.SIGNING_KEYS_UNAVAILABLE, "token signing keys are not available yet")))
  end)

  it("reports to the session's error queue and the sender's, as the original's clients read them", function()
    local ok, reason = error_report.to_sender("s1", 7, errors.new(errors.NOT_A_MEMBER, "user", 7, 3))
    assert.is_nil(ok)
    assert.equal("user 7 is not an active member of chat room 3", reason)
    local body = "메시지 전송에 실패했습니다: user 7 is not an active member of chat room 3"
    assert.same({ { sid = "s1", dest = "/user/queue/errors", body = body,
                    headers = { ["content-type"] = "text/plain;charset=UTF-8" } } }, fake.session_sends)
    assert.same({ { dest = "/user/7/queue/errors", body = body,
                    headers = { ["content-type"] = "text/plain;charset=UTF-8" } } }, fake.broadcasts)
    error_report.to_sender("s2", nil, errors.new(errors.MESSAGE_MALFORMED))
    assert.equal("메시지 전송에 실패했습니다: the message body is not valid JSON", fake.session_sends[2].body)
    assert.equal(1, #fake.broadcasts, "no sender id: the session's queue only")
  end)

  it("counts a SEND refused for the client's fault apart from one failed for the server's", function()
    error_report.to_sender("s1", 7, errors.new(errors.NOT_A_MEMBER, "user", 7, 3))
    error_report.to_sender("s1", 7, errors.new(errors.DB_UNAVAILABLE))
    error_report.to_sender("s1", 7, errors.new(errors.HANDLER_RAISED))
    assert.same({ "refused", "failed", "failed" }, fake.send_outcomes)
  end)
end)
