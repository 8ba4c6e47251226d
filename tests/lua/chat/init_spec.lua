describe("chat (the app table the C core calls)", function()
  local fake, app, json, request

  before_each(function()
    local fc = require "fake_chat"
    fake = fc.install()
    app = require "chat"
    json = require "chat.lib.json"
    request = function(...) return fc.request(app, ...) end
  end)

  it("has every entry point and validates", function()
    for _, name in ipairs { "validate", "http", "stomp_send", "stomp_subscribe", "stomp_disconnect",
                            "redis_message", "kafka_record" } do
      assert.is_function(app[name], name)
    end
    assert.is_true(app.validate())
    assert.equal(0, #fake.pg_calls, "validate does no I/O")
    assert.equal(0, #fake.redis_calls, "validate does no I/O")
  end)

  it("rejects a route table entry without a handler", function()
    package.loaded["chat.routes.messages"]["/api/chat/rooms/{chatRoomId}/unread"].GET = "oops"
    assert.has_error(function() app.validate() end)
  end)

  it("rejects an OpenAPI document that does not describe the routed paths", function()
    local openapi = require "chat.routes.openapi"
    local doc = openapi.document()
    package.loaded["chat.routes.openapi"].document = function()
      local d = json.decode(doc)
      d.paths["/api/chat/rooms/member"] = nil
      return json.encode(d)
    end
    assert.has_error(function() app.validate() end, "the OpenAPI document lacks /api/chat/rooms/member")
  end)

  it("answers an unknown path 404 with Spring's error JSON", function()
    local status, body, headers, raw = request("GET", "/api/nothing/here")
    assert.equal(404, status)
    assert.equal("application/json", headers["Content-Type"])
    assert.matches('^{"timestamp":"[^"]+","status":404,"error":"Not Found","message":"[^"]+","path":"/api/nothing/here"}$', raw)
    assert.equal("2025-01-09T14:30:00.500+09:00", body.timestamp)
  end)

  it("answers a known path with the wrong method 405 with Allow", function()
    local status, body, headers = request("GET", "/api/chat/rooms/1/join")
    assert.equal(405, status)
    assert.equal("Method Not Allowed", body.error)
    assert.equal("POST", headers.Allow)
    assert.equal("application/json", headers["Content-Type"])
  end)

  it("answers a malformed query string 400", function()
    local status, body = request("POST", "/api/chat/rooms/1/join", "memberId=%zz")
    assert.equal(400, status)
    assert.equal("malformed query string", body.message)
  end)

  it("returns the route pattern as the metrics' label: the pattern, NOT_FOUND or on a crash still the pattern", function()
    fake.on_sql("FROM chat_rooms", function() return {} end)
    local req = function(method, path)
      return select(4, app.http { method = method, path = path, query = "", body = "", headers = {} })
    end
    assert.equal("/api/chat/rooms/study/{studyId}", req("GET", "/api/chat/rooms/study/7"))
    assert.equal("/api/chat/rooms/study/{studyId}", req("DELETE", "/api/chat/rooms/study/7"))
    assert.equal("NOT_FOUND", req("GET", "/api/chat/rooms/study/7/x"))
    assert.equal("/actuator/prometheus", req("GET", "/actuator/prometheus"))
    fake.on_sql("", function() error("boom") end)
    assert.equal("/api/chat/rooms/study/{studyId}", req("GET", "/api/chat/rooms/study/7"))
  end)

  it("answers 500 without the Lua error text when a handler raises, and logs the traceback", function()
    fake.on_sql("", function() error("secret internals") end)
    local status, body = request("GET", "/api/chat/rooms/study/1")
    assert.equal(500, status)
    assert.equal("internal server error", body.message)
    assert.equal("Internal Server Error", body.error)
    assert.equal("/api/chat/rooms/study/1", body.path)
    local log = fake.logs[#fake.logs]
    assert.equal("error", log[1])
    assert.matches("secret internals", log[2])
    assert.matches("stack traceback", log[2])
  end)

  it("answers 503 when PostgreSQL is unavailable", function()
    fake.pg_down("08006")
    local status, body = request("GET", "/api/chat/rooms/study/1")
    assert.equal(503, status)
    assert.equal("database unavailable", body.message)
    assert.equal("Service Unavailable", body.error)
  end)

  it("drops the body of HEAD answers", function()
    fake.on_sql("r%.study_id = %$1", function()
      return { { id = 1, study_id = 1, name = "n", is_active = true, member_count = 0, created_at = 1736400600 } }
    end)
    local status, _, headers, raw = request("HEAD", "/api/chat/rooms/study/1")
    assert.equal(200, status)
    assert.equal("", raw)
    assert.equal("application/json", headers["Content-Type"])
  end)

  it("serves the OpenAPI document describing the ten endpoints", function()
    local status, doc, headers = request("GET", "/v3/api-docs")
    assert.equal(200, status)
    assert.equal("application/json", headers["Content-Type"])
    assert.equal("3.0.1", doc.openapi)
    local n = 0
    for _ in pairs(doc.paths) do n = n + 1 end
    assert.equal(10, n)
    assert.is_table(doc.paths["/api/chat/rooms/{chatRoomId}/read-marks"].get)
    assert.is_table(doc.paths["/api/chat/rooms/{chatRoomId}/messages"].get)
    assert.is_table(doc.paths["/api/chat/internal/rooms/member"].post)
    assert.same({ "studyId", "roomId", "userId" }, doc.components.schemas.AddMemberRequest.required)
  end)
end)
