describe("chat.routes.messages (endpoints 6-8)", function()
  local fake, request, page_params, page_sql

  before_each(function()
    local fc = require "fake_chat"
    fake = fc.install()
    local app = require "chat"
    request = function(...) return fc.request(app, ...) end
    page_params, page_sql = nil, nil
    fake.on_sql("CROSS JOIN LATERAL", function(params, sql)
      page_params, page_sql = params, sql
      if params[1] ~= 1 then return {} end
      return { { total = 3, id = 3, chat_room_id = 1, sender_id = 5, sender_nickname = "홍길동", content = "안녕하세요!",
                 message_type = "CHAT", created_at = 1736400600.123456 } }
    end)
  end)

  describe("6. GET /api/chat/rooms/{chatRoomId}/messages", function()
    local P = "/api/chat/rooms/1/messages"

    it("defaults to page 0, size 50, createdAt desc", function()
      local status, page, headers, raw = request("GET", P)
      assert.equal(200, status)
      assert.equal("application/json", headers["Content-Type"])
      assert.same({ 1, 50, 0, n = 3 }, page_params)
      assert.matches("ORDER BY c%.created_at DESC, c%.id DESC", page_sql)
      assert.matches('^{"content":%[{"id":3,"chatRoomId":1,"senderId":5,"senderNickname":"홍길동",'
        .. '"content":"안녕하세요!","messageType":"CHAT","createdAt":"2025%-01%-09T05:30:00%.123456"}%],'
        .. '"pageable":{"pageNumber":0,"pageSize":50,"sort":{"sorted":true,"empty":false,"unsorted":false},'
        .. '"offset":0,"paged":true,"unpaged":false},"totalElements":3,"totalPages":1,"last":true,"size":50,'
        .. '"number":0,"sort":{"sorted":true,"empty":false,"unsorted":false},"numberOfElements":1,'
        .. '"first":true,"empty":false}$', raw)
      assert.equal(3, page.totalElements)
    end)

    it("passes page, size and sort through", function()
      local status, page = request("GET", P, "page=2&size=1&sort=id,asc")
      assert.equal(200, status)
      assert.same({ 1, 1, 2, n = 3 }, page_params)
      assert.matches("ORDER BY c%.created_at DESC, c%.id ASC%s", page_sql)
      assert.equal(2, page.pageable.offset)
      assert.equal(3, page.totalPages)
      assert.is_true(page.last)
    end)

    it("clamps the size to 2000, as Spring's max-page-size", function()
      local _, page = request("GET", P, "size=5000")
      assert.equal(2000, page_params[2])
      assert.equal(2000, page.size)
      assert.equal(2000, page.pageable.pageSize)
      request("GET", P, "size=99999999999")
      assert.equal(2000, page_params[2])
    end)

    it("answers 400 for bad page, size and sort", function()
      local cases = {
        { "page=-1", "parameter 'page' must be at least 0" },
        { "page=abc", "parameter 'page' must be a 32-bit integer, got 'abc'" },
        { "size=0", "parameter 'size' must be at least 1" },
        { "size=x", "parameter 'size' must be a 32-bit integer, got 'x'" },
        { "sort=name,asc", "cannot sort by 'name': sort properties are id and createdAt, directions asc and desc" },
        { "sort=id,sideways", "cannot sort by 'sideways': sort properties are id and createdAt, directions asc and desc" },
      }
      for _, c in ipairs(cases) do
        local status, body = request("GET", P, c[1])
        assert.equal(400, status, c[1])
        assert.equal(c[2], body.message)
      end
      assert.is_nil(page_params, "nothing asked of PostgreSQL")
    end)

    it("pages newest first even when asked for createdAt,asc, as the original does", function()
      assert.equal(200, (request("GET", P, "sort=createdAt,asc")))
      assert.matches("ORDER BY c%.created_at DESC, c%.id ASC%s+LIMIT", page_sql)
      assert.matches("ORDER BY p%.created_at_sort DESC, p%.id ASC$", page_sql)
    end)

    it("answers 404 for an unknown room", function()
      local status, body = request("GET", "/api/chat/rooms/987654321987/messages")
      assert.equal(404, status)
      assert.equal("chat room 987654321987 does not exist", body.message)
    end)
  end)

  describe("7. POST /api/chat/rooms/{chatRoomId}/read", function()
    it("moves the mark and answers an empty 200", function()
      local seen
      fake.on_sql("UPDATE chat_room_members m", function(params) seen = params; return { { last_read_message_id = 9 } } end)
      local status, body, _, raw = request("POST", "/api/chat/rooms/1/read", "memberId=5&lastMessageId=9")
      assert.equal(200, status)
      assert.equal("", raw)
      assert.is_nil(body)
      assert.same({ 1, 5, 9, n = 3 }, seen)
      assert.equal("1", fake.redis_data["chat:unread:gen:1"])
      assert.same({ '{"chatRoomId":1,"memberId":5,"lastReadMessageId":9}' }, fake.published("chat:read-marks"))
    end)

    it("answers 404 for a foreign message or a non-member, 400 for missing parameters", function()
      fake.on_sql("UPDATE chat_room_members m", function() return {} end)
      fake.on_sql("SELECT EXISTS", function(params) return { { room = true, member = params[2] == 5 } } end)
      local status, body = request("POST", "/api/chat/rooms/1/read", "memberId=5&lastMessageId=999")
      assert.equal(404, status)
      assert.equal("message 999 does not exist in chat room 1", body.message)
      status, body = request("POST", "/api/chat/rooms/1/read", "memberId=6&lastMessageId=1")
      assert.equal(404, status)
      assert.equal("member 6 is not an active member of chat room 1", body.message)
      status, body = request("POST", "/api/chat/rooms/1/read", "memberId=6")
      assert.equal(400, status)
      assert.equal("required parameter 'lastMessageId' is missing", body.message)
    end)
  end)

  describe("GET /api/chat/rooms/{chatRoomId}/read-marks (a chatd addition)", function()
    before_each(function()
      fake.on_sql("FROM chat_rooms r", function(params)
        if params[1] == 1 then return { { member_id = 2, last_read_message_id = 42 }, { member_id = 5 } } end
        return {}
      end)
    end)

    it("answers every active member's mark, null when none", function()
      local status, _, headers, raw = request("GET", "/api/chat/rooms/1/read-marks")
      assert.equal(200, status)
      assert.equal("application/json", headers["Content-Type"])
      assert.equal('[{"memberId":2,"lastReadMessageId":42},{"memberId":5,"lastReadMessageId":null}]', raw)
    end)

    it("answers 404 for an unknown room, 400 for a bad id", function()
      local status, body = request("GET", "/api/chat/rooms/987/read-marks")
      assert.equal(404, status)
      assert.equal("chat room 987 does not exist", body.message)
      assert.equal("/api/chat/rooms/987/read-marks", body.path)
      status = request("GET", "/api/chat/rooms/abc/read-marks")
      assert.equal(400, status)
    end)

    it("answers 503 when PostgreSQL is down", function()
      fake.pg_down()
      assert.equal(503, (request("GET", "/api/chat/rooms/1/read-marks")))
    end)
  end)

  describe("8. GET /api/chat/rooms/{chatRoomId}/unread", function()
    it("answers the count, cached", function()
      local counted = 0
      fake.on_sql("SELECT %(SELECT count", function() counted = counted + 1; return { { unread = 3 } } end)
      local status, body, _, raw = request("GET", "/api/chat/rooms/1/unread", "memberId=5")
      assert.equal(200, status)
      assert.equal('{"chatRoomId":1,"unreadCount":3}', raw)
      assert.equal(3, body.unreadCount)
      request("GET", "/api/chat/rooms/1/unread", "memberId=5")
      assert.equal(1, counted)
    end)

    it("answers 404 for a non-member and 503 without PostgreSQL", function()
      fake.on_sql("SELECT %(SELECT count", function() return {} end)
      fake.on_sql("SELECT EXISTS", function() return { { room = true, member = false } } end)
      local status, body = request("GET", "/api/chat/rooms/1/unread", "memberId=5")
      assert.equal(404, status)
      assert.equal("member 5 is not an active member of chat room 1", body.message)
      fake.pg_down("08006")
      status = request("GET", "/api/chat/rooms/1/unread", "memberId=5")
      assert.equal(503, status)
    end)
  end)
end)
