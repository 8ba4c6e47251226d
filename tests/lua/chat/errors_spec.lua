-- The catalogue of failures (chat/errors.lua): every code, its kind and its text, as
-- clients see them. A change to any of them fails here; what each kind becomes on a wire is
-- asserted per protocol (routes/error_response_spec.lua, stomp/error_report_spec.lua,
-- events/init_spec.lua).
describe("chat.errors", function()
  local errors
  before_each(function()
    require("fake_chat").install()
    errors = require "chat.errors"
  end)

  -- code = { kind, text pattern }
  local CATALOGUE = {
    param_missing = { "invalid", "required parameter '%s' is missing" },
    param_not_long = { "invalid", "parameter '%s' must be a 64-bit integer, got '%s'" },
    param_not_int = { "invalid", "parameter '%s' must be a 32-bit integer, got '%s'" },
    param_too_small = { "invalid", "parameter '%s' must be at least %d" },
    path_not_long = { "invalid", "path variable '%s' must be a 64-bit integer, got '%s'" },
    query_malformed = { "invalid", "malformed query string" },
    sort_invalid = { "invalid", "cannot sort by '%s': sort properties are id and createdAt, directions asc and desc" },
    body_missing = { "invalid", "required request body is missing" },
    body_malformed = { "invalid", "malformed JSON request body: %s" },
    body_not_object = { "invalid", "the request body must be a JSON object" },
    content_type = { "unsupported_media_type", "content type '%s' is not supported; send application/json" },
    field_missing = { "invalid", "field '%s' is required" },
    field_not_long = { "invalid", "field '%s' must be a 64-bit integer" },
    field_not_string = { "invalid", "field '%s' must be a string" },
    text_blank = { "invalid", "%s '%s' must not be blank" },
    text_too_long = { "invalid", "%s '%s' must be at most %d characters" },
    text_unstorable = { "invalid", "%s '%s' %s" },
    no_handler = { "not_found", "no handler for %s %s" },
    method_not_allowed = { "method_not_allowed", "request method '%s' is not supported for %s" },
    room_not_found = { "not_found", "chat room %d does not exist" },
    study_room_not_found = { "not_found", "study %d has no chat room" },
    room_not_in_study = { "not_found", "chat room %d does not belong to study %d" },
    study_has_room = { "conflict", "study %d already has a chat room" },
    message_not_in_room = { "not_found", "message %d does not exist in chat room %d" },
    message_not_stored = { "internal", "the message could not be stored" },
    not_a_member = { "not_found", "%s %d is not an active member of chat room %d" },
    members_only = { "forbidden", "%s %d is not an active member of chat room %d" },
    db_unavailable = { "unavailable", "database unavailable" },
    db_unique_violation = { "conflict", "the row conflicts with an existing one" },
    db_foreign_key_violation = { "not_found", "a row it refers to does not exist" },
    db_timeout = { "internal", "internal server error" },
    internal = { "internal", "internal server error" },
    handler_raised = { "internal", "internal error" },
    auth_required = { "unauthenticated", "authentication required" },
    untrusted_gateway = { "unauthenticated", "X-User-Id is only accepted from a trusted proxy" },
    bad_user_id = { "unauthenticated", "the user id must be a positive 64-bit integer" },
    no_user_claim = { "unauthenticated", "token has no user id in its '%s' claim" },
    token_refused = { "unauthenticated", "%s" },
    signing_keys_unavailable = { "unavailable", "%s" },
    internal_only = { "forbidden", "internal endpoint" },
    cors_refused = { "forbidden", "Invalid CORS request" },
    not_you = { "forbidden", "%s %s is not the authenticated user %s" },
    foreign_error_queue = { "forbidden", "user %s may not read the errors of user %s" },
    unknown_destination = { "not_found", "unknown destination: %s" },
    resume_id_invalid = { "invalid", "last-message-id must be a message id (decimal digits), got '%s'" },
    resume_not_a_room = { "invalid", "last-message-id applies to /topic/chatroom/{id} only, not %s" },
    unknown_app_destination = { "not_found", "unknown destination %s" },
    message_malformed = { "invalid", "the message body is not valid JSON" },
    message_id_missing = { "invalid", "%s is required and must be an integer" },
    message_type_invalid = { "invalid", "messageType must be CHAT, JOIN or LEAVE" },
    message_not_string = { "invalid", "%s must be a string" },
    content_blank = { "invalid", "content must not be blank" },
    event_malformed = { "invalid", "malformed JSON: %s" },
    event_ids_missing = { "invalid", "userId and studyId must be integers" },
    value_unstorable = { "invalid", "%s %s" },
  }

  it("holds exactly these codes, each with its kind and text", function()
    local seen = {}
    for name, entry in pairs(errors) do
      if type(entry) == "table" and entry.code and entry.text then
        local want = CATALOGUE[entry.code]
        assert.is_table(want, "a code the spec does not know: " .. entry.code)
        assert.equal(want[1], entry.kind, entry.code)
        assert.equal(want[2], entry.text, entry.code)
        assert.equal(entry, errors.BY_CODE[entry.code], name)
        assert.matches("^[A-Z_]+$", name)
        seen[entry.code] = true
      end
    end
    for code in pairs(CATALOGUE) do assert.is_true(seen[code], "missing from the catalogue: " .. code) end
  end)

  it("uses only the kinds the protocol layers know", function()
    for code, entry in pairs(errors.BY_CODE) do assert.is_true(errors.KINDS[entry.kind], code) end
  end)

  it("words 'not an active member' once, for the 404 and the 403 alike", function()
    assert.equal(errors.NOT_A_MEMBER.text, errors.MEMBERS_ONLY.text)
    assert.equal("member 5 is not an active member of chat room 7", errors.new(errors.NOT_A_MEMBER, "member", 5, 7).text)
    assert.equal("user 5 is not an active member of chat room 7", errors.new(errors.MEMBERS_ONLY, "user", 5, 7).text)
  end)

  it("makes error values: code, kind, formatted text, details on request", function()
    local err = errors.new(errors.ROOM_NOT_FOUND, 7)
    assert.same({ code = "room_not_found", kind = "not_found", text = "chat room 7 does not exist" }, err)
    assert.equal("chat room 7 does not exist", tostring(err))
    assert.is_true(errors.is(err))
    assert.is_true(errors.is(err, errors.ROOM_NOT_FOUND))
    assert.is_false(errors.is(err, errors.STUDY_ROOM_NOT_FOUND))
    assert.is_false(errors.is({ code = "room_not_found" }), "only values made by errors.new")
    assert.is_false(errors.is("chat room 7 does not exist"))
    assert.equal(err, err:with({ sqlstate = "23503" }))
    assert.same({ sqlstate = "23503" }, err.details)
  end)
end)
