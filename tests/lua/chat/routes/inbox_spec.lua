-- GET /api/chat/rooms (the inbox, a chatd addition): parameters, 400s, access, the JSON
-- shape of a faked row set, the empty page, and one statement per request.
describe("chat.routes.rooms: GET /api/chat/rooms (the inbox)", function()
  local fc = require "fake_chat"
  local fake, request, seen
  local P = "/api/chat/rooms"

  local ROWS = {
    { total = 3, id = 7, study_id = 70, name = "최근 방", is_active = true, member_count = 3,
      created_at = 1736400600, unread_count = 2, last_id = 41, last_sender_id = 6, last_sender_nickname = "홍길동",
      last_content = "안녕하세요!", last_message_type = "CHAT", last_created_at = 1736400900.25 },
    { total = 3, id = 4, study_id = 40, name = "empty room", is_active = true, member_count = 1,
      created_at = 1736400800.5, unread_count = 0 },
  }

  local function start(access)
    fake = fc.install()
    for k, v in pairs(access or {}) do fake.chat.config.access[k] = v end
    local app = require "chat"
    request = function(...) return fc.request(app, ...) end
    seen = nil
    fake.on_sql("AS total FROM chat_room_members", function(params)
      seen = params
      if params[1] == 99 then return { { total = 0 } } end
      return ROWS
    end)
  end

  before_each(function() start() end)

  it("answers the member's rooms as a Page, fields in order, in one statement", function()
    local status, page, headers, raw = request("GET", P, "memberId=5")
    assert.equal(200, status)
    assert.equal("application/json", headers["Content-Type"])
    assert.equal(1, #fake.pg_calls, "one round trip to PostgreSQL")
    assert.same({ 5, 20, 0, n = 3 }, seen, "page 0, size 20 (Spring's default)")
    assert.equal('{"content":['
      .. '{"id":7,"studyId":70,"name":"최근 방","isActive":true,"memberCount":3,"createdAt":"2025-01-09T05:30:00",'
      .. '"unreadCount":2,"lastMessage":{"id":41,"chatRoomId":7,"senderId":6,"senderNickname":"홍길동",'
      .. '"content":"안녕하세요!","messageType":"CHAT","createdAt":"2025-01-09T05:35:00.25"}},'
      .. '{"id":4,"studyId":40,"name":"empty room","isActive":true,"memberCount":1,'
      .. '"createdAt":"2025-01-09T05:33:20.5","unreadCount":0,"lastMessage":null}],'
      .. '"pageable":{"pageNumber":0,"pageSize":20,"sort":{"sorted":true,"empty":false,"unsorted":false},'
      .. '"offset":0,"paged":true,"unpaged":false},"totalElements":3,"totalPages":1,"last":true,"size":20,'
      .. '"number":0,"sort":{"sorted":true,"empty":false,"unsorted":false},"numberOfElements":2,'
      .. '"first":true,"empty":false}', raw)
    assert.equal(2, #page.content)
  end)

  it("passes page and size through, and serves a size above 2000 with 2000", function()
    local _, page = request("GET", P, "memberId=5&page=3&size=2")
    assert.same({ 5, 2, 6, n = 3 }, seen)
    assert.equal(6, page.pageable.offset)
    assert.equal(2, page.totalPages)
    _, page = request("GET", P, "memberId=5&size=5000")
    assert.equal(2000, seen[2])
    assert.equal(2000, page.size)
    request("GET", P, "memberId=5&size=99999999999&page=")
    assert.same({ 5, 2000, 0, n = 3 }, seen)
  end)

  it("answers an empty page, 200, for a member with no rooms", function()
    local status, page, _, raw = request("GET", P, "memberId=99")
    assert.equal(200, status)
    assert.equal(0, page.totalElements)
    assert.equal(0, page.totalPages)
    assert.is_true(page.empty)
    assert.matches('^{"content":%[%],', raw)
  end)

  it("answers 400 for a missing or mistyped memberId and bad page or size, before any query", function()
    local cases = {
      { "", "required parameter 'memberId' is missing" },
      { "memberId=", "required parameter 'memberId' is missing" },
      { "memberId=abc", "parameter 'memberId' must be a 64-bit integer, got 'abc'" },
      { "memberId=99999999999999999999", "parameter 'memberId' must be a 64-bit integer, got '99999999999999999999'" },
      { "memberId=5&page=-1", "parameter 'page' must be at least 0" },
      { "memberId=5&page=x", "parameter 'page' must be a 32-bit integer, got 'x'" },
      { "memberId=5&size=0", "parameter 'size' must be at least 1" },
      { "memberId=5&size=x", "parameter 'size' must be a 32-bit integer, got 'x'" },
    }
    for _, c in ipairs(cases) do
      local status, body = request("GET", P, c[1])
      assert.equal(400, status, c[1])
      assert.equal("Bad Request", body.error)
      assert.equal(c[2], body.message, c[1])
      assert.equal(P, body.path)
    end
    assert.equal(0, #fake.pg_calls)
  end)

  it("answers 503 when PostgreSQL is unavailable", function()
    fake.pg_down("08006")
    local status, body = request("GET", P, "memberId=5")
    assert.equal(503, status)
    assert.equal("database unavailable", body.message)
  end)

  it("still creates rooms with POST on the same path", function()
    fake.on_sql("INSERT INTO chat_rooms", function() return { ROWS[2] } end)
    local status, body = request("POST", P, "studyId=40&roomName=x")
    assert.equal(200, status)
    assert.is_nil(body.unreadCount)
  end)

  describe("with an identity (gateway mode)", function()
    before_each(function() start({ auth = "gateway" }) end)

    it("serves the caller's own inbox", function()
      local status = request("GET", P, "memberId=5", nil, { ["x-user-id"] = "5" })
      assert.equal(200, status)
      assert.equal(5, seen[1])
    end)

    it("refuses another member's inbox with 403, before any query", function()
      local status, body = request("GET", P, "memberId=6", nil, { ["x-user-id"] = "5" })
      assert.equal(403, status)
      assert.equal("memberId 6 is not the authenticated user 5", body.message)
      assert.equal(0, #fake.pg_calls)
      assert.same({ "forbidden" }, fake.denied)
    end)

    it("refuses a caller without identity with 401", function()
      local status = request("GET", P, "memberId=5")
      assert.equal(401, status)
      assert.equal(0, #fake.pg_calls)
    end)
  end)
end)
