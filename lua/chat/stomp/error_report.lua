--[[ What a failure looks like over STOMP: the text of an error value (chat/errors.lua) on
a session's error queue or in an ERROR frame, and the report to the sender's error queues.

  text = error_report.text(err)              "forbidden: ..." / "unauthorized: ..." for a
                                             refusal, else the error's text
  text = error_report.connect_refusal(err)   "unauthorized: ..." (CONNECT refused)
  nil, text = error_report.to_sender(session_id, sender_id, err)
      "메시지 전송에 실패했습니다: <text>" on /user/queue/errors of the session and, with a
      sender id, on /user/<id>/queue/errors (as the original's @SendToUser and its clients);
      counted as a refused or failed SEND (the core counts the stored ones)

The REST and Kafka counterparts are chat/routes/error_response.lua and chat/events/init.lua. ]]

local chat = require "chat.core"

local fmt, mtype = string.format, math.type

local M = {}

-- The one table from an error's kind to how STOMP words it: a prefix before its text.
M.PREFIX = {
  unauthenticated = "unauthorized: ",
  forbidden = "forbidden: ",
}

-- A CONNECT is refused for want of a believable identity, whatever the cause (a token the
-- keys to check are not fetched for yet included).
M.CONNECT_PREFIX = "unauthorized: "

M.SEND_FAILED = "메시지 전송에 실패했습니다: %s"
M.ERROR_QUEUE = "/user/queue/errors"
M.USER_ERROR_QUEUE = "/user/%d/queue/errors"
local HEADERS = { ["content-type"] = "text/plain;charset=UTF-8" }

function M.text(err) return (M.PREFIX[err.kind] or "") .. err.text end

function M.connect_refusal(err) return M.CONNECT_PREFIX .. err.text end

-- Whose fault a failed SEND was, for chatd_stomp_sends_total{outcome}: the server's when a
-- dependency or a script failed, else the client's.
local SERVER_FAULT = { unavailable = true, internal = true }

function M.to_sender(session_id, sender_id, err)
  chat.metrics.send_failed(SERVER_FAULT[err.kind] and "failed" or "refused")
  local reason = M.text(err)
  local body = fmt(M.SEND_FAILED, reason)
  chat.stomp.send_to_session(session_id, M.ERROR_QUEUE, body, HEADERS)
  if mtype(sender_id) == "integer" then
    chat.stomp.broadcast(fmt(M.USER_ERROR_QUEUE, sender_id), body, HEADERS)
  end
  return nil, reason
end

return M
