--[[ Every failure chatd reports, in one place: what it is (a stable code), what sort of
failure it is (its kind), and the text a client sees (a string.format pattern).

  err = errors.new(errors.ROOM_NOT_FOUND, 7)
      -> { code = "room_not_found", kind = "not_found", text = "chat room 7 does not exist" }
  err = errors.new(entry, ...):with(details)  details for the logs, never shown to a client
  errors.is(v[, entry])                      whether v is an error value (of that entry)
  tostring(err)                              its text

A module that can fail returns nil, err with such a value: never an HTTP status, an error
frame or a retry decision. Those belong to the protocol that reports the failure, and each
protocol decides them from the kind, in one table:

  REST    chat/routes/error_response.lua   kind -> HTTP status; Spring's error JSON
  STOMP   chat/stomp/error_report.lua      kind -> the text on the error queue / ERROR frame
  Kafka   chat/events/init.lua             kind -> dead-letter at once, or retry

Kinds: invalid, unauthenticated, forbidden, not_found, method_not_allowed, conflict,
unsupported_media_type, unavailable, internal.

The texts are part of the wire (the suites and clients match them): change one and a spec
fails (tests/lua/chat/errors_spec.lua lists them all). ]]

local fmt, setmetatable, getmetatable = string.format, setmetatable, getmetatable

local M = {}

M.KINDS = {
  invalid = true, unauthenticated = true, forbidden = true, not_found = true, method_not_allowed = true,
  conflict = true, unsupported_media_type = true, unavailable = true, internal = true,
}

-- Every entry by code, for the specs and for anyone checking a code exists.
M.BY_CODE = {}

local function define(code, kind, text)
  assert(M.KINDS[kind], "unknown kind " .. kind)
  assert(not M.BY_CODE[code], "code defined twice: " .. code)
  local entry = { code = code, kind = kind, text = text }
  M.BY_CODE[code] = entry
  return entry
end

-- ---- error values ----

local Error = { __name = "chat.error" }
Error.__index = Error
Error.__tostring = function(e) return e.text end

-- Adds details for whoever logs the failure (a SQLSTATE, a library's own message).
function Error:with(details)
  self.details = details
  return self
end

function M.new(entry, ...)
  return setmetatable({ code = entry.code, kind = entry.kind, text = fmt(entry.text, ...) }, Error)
end

function M.is(v, entry)
  if getmetatable(v) ~= Error then return false end
  return entry == nil or v.code == entry.code
end

-- ---- REST requests: parameters, path variables, bodies (chat/lib/web.lua, chat/lib/router.lua) ----

M.PARAM_MISSING = define("param_missing", "invalid", "required parameter '%s' is missing")
M.PARAM_NOT_LONG = define("param_not_long", "invalid", "parameter '%s' must be a 64-bit integer, got '%s'")
M.PARAM_NOT_INT = define("param_not_int", "invalid", "parameter '%s' must be a 32-bit integer, got '%s'")
M.PARAM_TOO_SMALL = define("param_too_small", "invalid", "parameter '%s' must be at least %d")
M.PATH_NOT_LONG = define("path_not_long", "invalid", "path variable '%s' must be a 64-bit integer, got '%s'")
M.QUERY_MALFORMED = define("query_malformed", "invalid", "malformed query string")
M.SORT_INVALID = define("sort_invalid", "invalid",
  "cannot sort by '%s': sort properties are id and createdAt, directions asc and desc")
M.BODY_MISSING = define("body_missing", "invalid", "required request body is missing")
M.BODY_MALFORMED = define("body_malformed", "invalid", "malformed JSON request body: %s")
M.BODY_NOT_OBJECT = define("body_not_object", "invalid", "the request body must be a JSON object")
M.CONTENT_TYPE = define("content_type", "unsupported_media_type",
  "content type '%s' is not supported; send application/json")
M.FIELD_MISSING = define("field_missing", "invalid", "field '%s' is required")
M.FIELD_NOT_LONG = define("field_not_long", "invalid", "field '%s' must be a 64-bit integer")
M.FIELD_NOT_STRING = define("field_not_string", "invalid", "field '%s' must be a string")
-- A text parameter or field: the first %s is "parameter" or "field", the second its name.
M.TEXT_BLANK = define("text_blank", "invalid", "%s '%s' must not be blank")
M.TEXT_TOO_LONG = define("text_too_long", "invalid", "%s '%s' must be at most %d characters")
-- ... and why it cannot be stored (chat/lib/text.lua: "is not valid UTF-8", ...).
M.TEXT_UNSTORABLE = define("text_unstorable", "invalid", "%s '%s' %s")

-- ---- REST routing (chat/lib/router.lua) ----

M.NO_HANDLER = define("no_handler", "not_found", "no handler for %s %s")
M.METHOD_NOT_ALLOWED = define("method_not_allowed", "method_not_allowed", "request method '%s' is not supported for %s")

-- ---- rooms, members, messages (chat/domain/) ----

M.ROOM_NOT_FOUND = define("room_not_found", "not_found", "chat room %d does not exist")
M.STUDY_ROOM_NOT_FOUND = define("study_room_not_found", "not_found", "study %d has no chat room")
M.ROOM_NOT_IN_STUDY = define("room_not_in_study", "not_found", "chat room %d does not belong to study %d")
M.STUDY_HAS_ROOM = define("study_has_room", "conflict", "study %d already has a chat room")
M.MESSAGE_NOT_IN_ROOM = define("message_not_in_room", "not_found", "message %d does not exist in chat room %d")
M.MESSAGE_NOT_STORED = define("message_not_stored", "internal", "the message could not be stored")

-- The one wording of "not an active member". The first %s names the id as the caller gave
-- it: "member" for a memberId parameter, "user" for a STOMP senderId or an identity.
-- NOT_A_MEMBER: an operation on a membership that is not there (REST 404); MEMBERS_ONLY:
-- access control refusing a caller who is not a member (REST 403, STOMP "forbidden: ...").
local NOT_A_MEMBER_TEXT = "%s %d is not an active member of chat room %d"
M.NOT_A_MEMBER = define("not_a_member", "not_found", NOT_A_MEMBER_TEXT)
M.MEMBERS_ONLY = define("members_only", "forbidden", NOT_A_MEMBER_TEXT)

-- ---- PostgreSQL (classified by SQLSTATE in chat/lib/db.lua) ----

M.DB_UNAVAILABLE = define("db_unavailable", "unavailable", "database unavailable")
-- Constraint violations a caller expects are turned into its own error (a unique study
-- room, a message for a room that does not exist); these texts show only if one is not.
M.DB_UNIQUE_VIOLATION = define("db_unique_violation", "conflict", "the row conflicts with an existing one")
M.DB_FOREIGN_KEY_VIOLATION = define("db_foreign_key_violation", "not_found", "a row it refers to does not exist")
M.DB_TIMEOUT = define("db_timeout", "internal", "internal server error")

-- ---- server side ----

M.INTERNAL = define("internal", "internal", "internal server error")
-- A STOMP handler that raised (chat/stomp/init.lua); REST answers INTERNAL for the same.
M.HANDLER_RAISED = define("handler_raised", "internal", "internal error")

-- ---- access control (chat/auth/access.lua; docs/access-control.md) ----

M.AUTH_REQUIRED = define("auth_required", "unauthenticated", "authentication required")
M.UNTRUSTED_GATEWAY = define("untrusted_gateway", "unauthenticated", "X-User-Id is only accepted from a trusted proxy")
M.BAD_USER_ID = define("bad_user_id", "unauthenticated", "the user id must be a positive 64-bit integer")
M.NO_USER_CLAIM = define("no_user_claim", "unauthenticated", "token has no user id in its '%s' claim")
-- The reason is one of chat/auth/jwt.lua's (jwt.EXPIRED, jwt.SIGNATURE, ...).
M.TOKEN_REFUSED = define("token_refused", "unauthenticated", "%s")
-- jwt.KEYS_UNAVAILABLE: the identity provider's keys have not been fetched yet.
M.SIGNING_KEYS_UNAVAILABLE = define("signing_keys_unavailable", "unavailable", "%s")
M.INTERNAL_ONLY = define("internal_only", "forbidden", "internal endpoint")
M.CORS_REFUSED = define("cors_refused", "forbidden", "Invalid CORS request")
-- An id in a request that is not the caller's: the first %s names it (memberId, senderId).
M.NOT_YOU = define("not_you", "forbidden", "%s %s is not the authenticated user %s")
M.FOREIGN_ERROR_QUEUE = define("foreign_error_queue", "forbidden", "user %s may not read the errors of user %s")

-- ---- STOMP frames (chat/stomp/) ----

M.UNKNOWN_DESTINATION = define("unknown_destination", "not_found", "unknown destination: %s")   -- SUBSCRIBE
M.RESUME_ID_INVALID = define("resume_id_invalid", "invalid",                                     -- SUBSCRIBE
  "last-message-id must be a message id (decimal digits), got '%s'")
M.RESUME_NOT_A_ROOM = define("resume_not_a_room", "invalid",
  "last-message-id applies to /topic/chatroom/{id} only, not %s")
M.UNKNOWN_APP_DESTINATION = define("unknown_app_destination", "not_found", "unknown destination %s") -- SEND
M.MESSAGE_MALFORMED = define("message_malformed", "invalid", "the message body is not valid JSON")
M.MESSAGE_ID_MISSING = define("message_id_missing", "invalid", "%s is required and must be an integer")
M.MESSAGE_TYPE_INVALID = define("message_type_invalid", "invalid", "messageType must be CHAT, JOIN or LEAVE")
M.MESSAGE_NOT_STRING = define("message_not_string", "invalid", "%s must be a string")
M.CONTENT_BLANK = define("content_blank", "invalid", "content must not be blank")

-- ---- Kafka events (chat/events/) ----

M.EVENT_MALFORMED = define("event_malformed", "invalid", "malformed JSON: %s")
M.EVENT_IDS_MISSING = define("event_ids_missing", "invalid", "userId and studyId must be integers")

-- A STOMP or Kafka value that cannot be stored: its name, then chat/lib/text.lua's reason.
M.VALUE_UNSTORABLE = define("value_unstorable", "invalid", "%s %s")

return M
