-- Errors over REST (chat/routes/error_response.lua): the HTTP status of every code of the
-- catalogue, and Spring Boot's error JSON. A change to a code's status fails here.
describe("chat.routes.error_response", function()
  local fake, error_response, errors, json
  before_each(function()
    fake = require("fake_chat").install()
    error_response = require "chat.routes.error_response"
    errors = require "chat.errors"
    json = require "chat.lib.json"
  end)

  -- code = the status a client gets
  local STATUS = {
    param_missing = 400, param_not_long = 400, param_not_int = 400, param_too_small = 400, path_not_long = 400,
    query_malformed = 400, sort_invalid = 400, body_missing = 400, body_malformed = 400, body_not_object = 400,
    content_type = 415, field_missing = 400, field_not_long = 400, field_not_string = 400, text_blank = 400,
    text_too_long = 400, text_unstorable = 400,
    no_handler = 404, method_not_allowed = 405,
    room_not_found = 404, study_room_not_found = 404, room_not_in_study = 404, study_has_room = 409,
    message_not_in_room = 404, message_not_stored = 500, not_a_member = 404, members_only = 403,
    db_unavailable = 503, db_unique_violation = 409, db_foreign_key_violation = 404, db_timeout = 500,
    internal = 500, handler_raised = 500,
    auth_required = 401, untrusted_gateway = 401, bad_user_id = 401, no_user_claim = 401, token_refused = 401,
    signing_keys_unavailable = 503, internal_only = 403, cors_refused = 403, not_you = 403,
    foreign_error_queue = 403,
    unknown_destination = 404, unknown_app_destination = 404, resume_id_invalid = 400, resume_not_a_room = 400,
    message_malformed = 400, message_id_missing = 400,
    message_type_invalid = 400, message_not_string = 400, content_blank = 400,
    event_malformed = 400, event_ids_missing = 400, value_unstorable = 400,
  }

  it("maps each kind to its status in one table", function()
    assert.same({ invalid = 400, unauthenticated = 401, forbidden = 403, not_found = 404, method_not_allowed = 405,
                  conflict = 409, unsupported_media_type = 415, internal = 500, unavailable = 503 },
                error_response.STATUS)
    for kind in pairs(errors.KINDS) do assert.is_number(error_response.STATUS[kind], kind) end
  end)

  it("answers every code of the catalogue with its status", function()
    for code, entry in pairs(errors.BY_CODE) do
      assert.equal(STATUS[code], error_response.status({ code = code, kind = entry.kind }), code)
    end
    for code in pairs(STATUS) do assert.is_table(errors.BY_CODE[code], code) end
  end)

  it("answers an error value with Spring's error JSON: status, reason, the error's text, the path", function()
    local status, body, headers = error_response.of(errors.new(errors.STUDY_HAS_ROOM, 10), "/api/chat/rooms",
                                                    { Vary = "Origin" })
    assert.equal(409, status)
    assert.equal('{"timestamp":"2025-01-09T14:30:00.500+09:00","status":409,"error":"Conflict",'
      .. '"message":"study 10 already has a chat room","path":"/api/chat/rooms"}', body)
    assert.same({ ["Content-Type"] = "application/json", Vary = "Origin" }, headers)
  end)

  it("sends a refusal's challenge as WWW-Authenticate", function()
    local err = errors.new(errors.TOKEN_REFUSED, "token expired"):with({ challenge = 'Bearer error="invalid_token"' })
    local status, body, headers = error_response.of(err, "/api/chat/rooms/1/unread")
    assert.equal(401, status)
    assert.equal("token expired", json.decode(body).message)
    assert.equal('Bearer error="invalid_token"', headers["WWW-Authenticate"])
    assert.is_nil(select(3, error_response.of(errors.new(errors.AUTH_REQUIRED), "/p"))["WWW-Authenticate"])
  end)

  describe("the error JSON", function()
    it("is Spring Boot's, fields in its order, timestamp in Asia/Seoul with millis and offset", function()
      local text = error_response.body(404, "chat room 7 does not exist", "/api/chat/rooms/7/join")
      assert.equal('{"timestamp":"2025-01-09T14:30:00.500+09:00","status":404,"error":"Not Found",'
        .. '"message":"chat room 7 does not exist","path":"/api/chat/rooms/7/join"}', text)
    end)

    it("uses the reason phrase of each status", function()
      for status, reason in pairs { [400] = "Bad Request", [401] = "Unauthorized", [403] = "Forbidden",
                                    [404] = "Not Found", [405] = "Method Not Allowed", [409] = "Conflict",
                                    [415] = "Unsupported Media Type", [500] = "Internal Server Error",
                                    [503] = "Service Unavailable" } do
        assert.equal(reason, json.decode(error_response.body(status, "m", "/p")).error)
      end
    end)

    it("comes with a JSON content type and extra headers", function()
      local status, body, headers = error_response.response(405, "no", "/p", { Allow = "POST" })
      assert.equal(405, status)
      assert.equal("application/json", headers["Content-Type"])
      assert.equal("POST", headers.Allow)
      assert.equal(405, json.decode(body).status)
    end)

    it("truncates the millis instead of rounding them", function()
      assert.equal("2025-01-09T14:30:00.999+09:00", error_response.timestamp(1736400600.9996))
      assert.equal("2025-01-09T14:30:00.000+09:00", error_response.timestamp(1736400600))
    end)

    it("stamps the current instant by default", function()
      assert.equal("2025-01-09T14:30:00.500+09:00", error_response.timestamp())
      fake.clock = 1736434800.25 -- 15:00:00.25Z: the next day in Seoul
      assert.equal("2025-01-10T00:00:00.250+09:00", error_response.timestamp())
    end)

    it("takes its zone from chat.config.json_time_zone, Asia/Seoul when unset", function()
      assert.equal("Asia/Seoul", error_response.ERROR_TIME_ZONE)
      local function reload_with(zone)
        fake.chat.config.json_time_zone = zone
        package.loaded["chat.routes.error_response"] = nil
        return require "chat.routes.error_response"
      end
      local utc = reload_with("UTC")
      assert.equal("2025-01-09T05:30:00.500+00:00", utc.timestamp())
      assert.equal("2025-01-09T05:30:00.500+00:00", json.decode(utc.body(404, "m", "/p")).timestamp)
      assert.equal("2025-01-09T02:30:00.500-03:00", reload_with("America/Sao_Paulo").timestamp())
      local default = reload_with(nil)
      assert.equal("Asia/Seoul", default.ERROR_TIME_ZONE)
      assert.equal("2025-01-09T14:30:00.500+09:00", default.timestamp())
    end)

    it("no longer has the UTC timestamp", function()
      assert.is_nil(error_response.utc_timestamp)
    end)
  end)

  it("answers database errors through the app: unavailable 503, a fault a logged 500 without its text", function()
    local app = require "chat"
    local fc = require "fake_chat"
    for _, state in ipairs { "08006", "08001", "57P01", "57P03" } do
      fake.pg_down(state)
      local status, body = fc.request(app, "GET", "/api/chat/rooms/study/1")
      assert.equal(503, status)
      assert.equal("database unavailable", body.message)
    end
    fake.on_sql("", function() return nil, "syntax error at or near", "42601" end)
    local status, body = fc.request(app, "GET", "/api/chat/rooms/study/1")
    assert.equal(500, status)
    assert.equal("internal server error", body.message)
    assert.equal("error", fake.logs[#fake.logs][1])
    assert.matches("42601", fake.logs[#fake.logs][2])
  end)
end)
