-- The rules of chat/auth/access.lua on faked bindings: gateway identities, the internal endpoint,
-- own-id checks, history membership, STOMP subscriptions and CORS. Token verification needs
-- the real crypto: tests/c/test_lua_crypto.c and tests/e2e/access_*.test.mjs. A refusal is an
-- error value; its REST status and STOMP text are asserted through the app and chat.stomp.
describe("chat.auth.access", function()
  local fc = require "fake_chat"
  local fake, request

  local function start(access)
    fake = fc.install()
    for k, v in pairs(access or {}) do fake.chat.config.access[k] = v end
    local app = require "chat"
    request = function(...) return fc.request(app, ...) end
  end

  local function membership(room, member)
    fake.on_sql("EXISTS %(SELECT 1 FROM chat_rooms", function() return { { room = room, member = member } } end)
  end

  describe("configuration", function()
    it("refuses a malformed network list, naming the variable", function()
      fake = fc.install()
      fake.chat.config.access.internal_networks = "10.0.0/8"
      local ok, err = pcall(require, "chat.auth.access")
      assert.is_false(ok)
      assert.matches("CHAT_INTERNAL_NETWORKS: '10.0.0/8' is not an address", err)
    end)

    it("matches addresses against prefixes bit by bit", function()
      start()
      local networks = require "chat.auth.networks"
      local nets = networks.parse("10.1.0.0/17", "TEST")
      assert.is_true(networks.contains(nets, "10.1.127.9"))
      assert.is_false(networks.contains(nets, "10.1.128.1"))
      assert.is_false(networks.contains(nets, "::1"), "an IPv6 peer never matches an IPv4 network")
      assert.is_false(networks.contains(nets, "not an address"))
    end)
  end)

  describe("the internal endpoint", function()
    local BODY = '{"studyId":10,"roomName":"r","userId":5}'

    it("is refused outside CHAT_INTERNAL_NETWORKS, and through a proxy", function()
      start({ internal_networks = "10.0.0.0/8" })
      local status, body = request("POST", "/api/chat/internal/rooms/member", nil, BODY)
      assert.equal(403, status)
      assert.equal("internal endpoint", body.message)
      start()
      status = request("POST", "/api/chat/internal/rooms/member", nil, BODY,
        { ["content-type"] = "application/json", ["x-forwarded-for"] = "203.0.113.9" })
      assert.equal(403, status)
    end)

    it("opens with the internal token, and only with the right one", function()
      start({ internal_networks = "10.0.0.0/8", internal_token = "t0ken" })
      fake.pg_down()
      local status = request("POST", "/api/chat/internal/rooms/member", nil, BODY,
        { ["content-type"] = "application/json", ["x-internal-token"] = "t0ken" })
      assert.equal(503, status, "past the check: the (faked) database is down")
      status = request("POST", "/api/chat/internal/rooms/member", nil, BODY,
        { ["content-type"] = "application/json", ["x-internal-token"] = "wrong" })
      assert.equal(403, status)
    end)
  end)

  describe("gateway mode", function()
    before_each(function() start({ auth = "gateway" }) end)

    it("needs X-User-Id on the REST API but not on the actuator", function()
      local status, body = request("GET", "/api/chat/rooms/7/unread", "memberId=5")
      assert.equal(401, status)
      assert.equal("authentication required", body.message)
      assert.same({ "unauthenticated" }, fake.denied)
      assert.same({ "info", "GET /api/chat/rooms/7/unread from 127.0.0.1 refused: 401 authentication required" },
        fake.logs[#fake.logs], "logged without the query")
      assert.equal(200, (request("GET", "/actuator/health/liveness")))
    end)

    it("believes X-User-Id only from a trusted proxy", function()
      local req = { method = "GET", path = "/api/chat/rooms/7/unread", query = "memberId=5", body = "",
                    headers = { ["x-user-id"] = "5" }, remote_addr = "192.0.2.1" }
      local status, raw = require("chat").http(req)
      assert.equal(401, status)
      assert.matches("X%-User%-Id is only accepted from a trusted proxy", raw)
    end)

    it("refuses an id that is not the caller's with 403, before any query", function()
      local status, body = request("POST", "/api/chat/rooms/7/join", "memberId=6", nil, { ["x-user-id"] = "5" })
      assert.equal(403, status)
      assert.equal("memberId 6 is not the authenticated user 5", body.message)
      assert.equal(0, #fake.pg_calls)
      assert.same({ "forbidden" }, fake.denied, "counted for chatd_access_denied_total")
      status = request("POST", "/api/chat/rooms/member", nil, '{"studyId":1,"roomId":7,"userId":6}',
        { ["content-type"] = "application/json", ["x-user-id"] = "5" })
      assert.equal(403, status)
    end)

    it("shows a room's history to its active members only", function()
      membership(true, false)
      local status, body = request("GET", "/api/chat/rooms/7/messages", nil, nil, { ["x-user-id"] = "5" })
      assert.equal(403, status)
      assert.equal("user 5 is not an active member of chat room 7", body.message)
      membership(false, false)
      status = request("GET", "/api/chat/rooms/7/messages", nil, nil, { ["x-user-id"] = "5" })
      assert.equal(404, status)
    end)

    it("shows a room's read marks to its active members only, as the history", function()
      fake.on_sql("FROM chat_rooms r", function() return { { member_id = 5, last_read_message_id = 3 } } end)
      membership(true, false)
      local status, body = request("GET", "/api/chat/rooms/7/read-marks", nil, nil, { ["x-user-id"] = "5" })
      assert.equal(403, status)
      assert.equal("user 5 is not an active member of chat room 7", body.message)
      membership(false, false)
      status = request("GET", "/api/chat/rooms/7/read-marks", nil, nil, { ["x-user-id"] = "5" })
      assert.equal(404, status)
      membership(true, true)
      local ok_status, _, _, raw = request("GET", "/api/chat/rooms/7/read-marks", nil, nil, { ["x-user-id"] = "5" })
      assert.equal(200, ok_status)
      assert.equal('[{"memberId":5,"lastReadMessageId":3}]', raw)
    end)

    it("gives a STOMP session the gateway's user, and refuses one without", function()
      local access = require "chat.auth.access"
      local stomp = require "chat.stomp"
      assert.same({ true, "5" }, { access.connect({}, { user_id = "5", peer = "127.0.0.1" }) })
      assert.same({ true, "5" }, { stomp.connect("s1", {}, { user_id = "5", peer = "127.0.0.1" }) })
      local ok, err = access.connect({}, { peer = "127.0.0.1" })
      assert.is_nil(ok)
      assert.equal("auth_required", err.code)
      local why
      ok, why = stomp.connect("s1", {}, { peer = "127.0.0.1" })
      assert.is_nil(ok)
      assert.equal("unauthorized: authentication required", why)
      ok, why = stomp.connect("s1", {}, { user_id = "5x", peer = "127.0.0.1" })
      assert.is_nil(ok)
      assert.equal("unauthorized: the user id must be a positive 64-bit integer", why)
      assert.equal("bad_user_id", select(2, access.connect({}, { user_id = "5x", peer = "127.0.0.1" })).code)
    end)
  end)

  describe("jwt mode", function()
    it("answers a request without a token 401 with the Bearer challenge", function()
      start({ auth = "jwt", jwt_secret = "s3cret" })
      local status, body, headers = request("GET", "/api/chat/rooms/7/unread", "memberId=5")
      assert.equal(401, status)
      assert.equal("authentication required", body.message)
      assert.equal('Bearer error="invalid_token"', headers["WWW-Authenticate"])
      assert.same({ "unauthenticated" }, fake.denied)
    end)
  end)

  describe("STOMP rules", function()
    before_each(function() start() end)

    it("lets members subscribe to their rooms and users to their own errors", function()
      local access = require "chat.auth.access"
      local stomp = require "chat.stomp"
      membership(true, true)
      assert.is_true(access.may_subscribe("5", "/topic/chatroom/7/presence"))
      assert.is_true(stomp.subscribe("s1", "/topic/chatroom/7/presence", "5"))
      membership(true, false)
      local ok, err = access.may_subscribe("5", "/topic/chatroom/7")
      assert.is_nil(ok)
      assert.equal("members_only", err.code)
      local why
      ok, why = stomp.subscribe("s1", "/topic/chatroom/7", "5")
      assert.is_nil(ok)
      assert.equal("forbidden: user 5 is not an active member of chat room 7", why)
      ok, why = stomp.subscribe("s1", "/topic/chatroom/7/read", "5")
      assert.is_nil(ok)
      assert.equal("forbidden: user 5 is not an active member of chat room 7", why)
      membership(true, true)
      assert.is_true(stomp.subscribe("s1", "/topic/chatroom/7/read", "5"))
      membership(true, false)
      assert.is_true(access.may_subscribe("5", "/user/5/queue/errors"))
      ok, why = stomp.subscribe("s1", "/user/6/queue/errors", "5")
      assert.is_nil(ok)
      assert.equal("forbidden: user 5 may not read the errors of user 6", why)
      assert.equal("foreign_error_queue", select(2, access.may_subscribe("5", "/user/6/queue/errors")).code)
      assert.is_true(access.may_subscribe(nil, "/topic/chatroom/7"), "mode none: open, as the original")
    end)

    it("says the database is down rather than forbidding a member", function()
      local access = require "chat.auth.access"
      fake.pg_down()
      local ok, err = access.may_subscribe("5", "/topic/chatroom/7")
      assert.is_nil(ok)
      assert.equal("db_unavailable", err.code)
      local why
      ok, why = require("chat.stomp").subscribe("s1", "/topic/chatroom/7", "5")
      assert.is_nil(ok)
      assert.equal("database unavailable", why)
    end)

    it("refuses a SEND as someone else before anything is stored", function()
      local stomp = require "chat.stomp"
      local ok, why = stomp.send("s1", "/app/chat.sendMessage", {},
        '{"chatRoomId":7,"senderId":6,"content":"hi"}', "5")
      assert.is_nil(ok)
      assert.equal("forbidden: senderId 6 is not the authenticated user 5", why)
      assert.equal(0, #fake.pg_calls)
      assert.equal("메시지 전송에 실패했습니다: forbidden: senderId 6 is not the authenticated user 5",
        fake.session_sends[1].body)
    end)
  end)

  describe("CORS", function()
    it("answers an allowed preflight and refuses another origin", function()
      start()
      fake.refused_origins["https://evil.example"] = true
      local status, _, headers = request("OPTIONS", "/api/chat/rooms", nil, nil,
        { origin = "https://app.example", ["access-control-request-method"] = "POST" })
      assert.equal(200, status)
      assert.equal("https://app.example", headers["Access-Control-Allow-Origin"])
      status = request("OPTIONS", "/api/chat/rooms", nil, nil,
        { origin = "https://evil.example", ["access-control-request-method"] = "POST" })
      assert.equal(403, status)
    end)
  end)
end)
