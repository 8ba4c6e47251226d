describe("chat.routes.rooms (endpoints 1-5 and 9)", function()
  local fake, request
  local ROOM_KEYS = '^{"id":%d+,"studyId":%d+,"name":"[^"]*","isActive":%a+,"memberCount":%d+,"createdAt":"[^"]+"}$'

  local function room_row(over)
    local row = { id = 1, study_id = 10, name = "알고리즘 스터디", is_active = true, member_count = 0,
                  created_at = 1736400600.123456 }
    for k, v in pairs(over or {}) do row[k] = v end
    return row
  end

  before_each(function()
    local fc = require "fake_chat"
    fake = fc.install()
    local app = require "chat"
    request = function(...) return fc.request(app, ...) end
  end)

  describe("1. POST /api/chat/rooms", function()
    it("creates the room and answers ChatRoomResponse", function()
      local seen
      fake.on_sql("INSERT INTO chat_rooms", function(params) seen = params; return { room_row() } end)
      local status, body, headers, raw = request("POST", "/api/chat/rooms",
        "studyId=10&roomName=%EC%95%8C%EA%B3%A0%EB%A6%AC%EC%A6%98+%EC%8A%A4%ED%84%B0%EB%94%94")
      assert.equal(200, status)
      assert.equal("application/json", headers["Content-Type"])
      assert.matches(ROOM_KEYS, raw)
      assert.equal('{"id":1,"studyId":10,"name":"알고리즘 스터디","isActive":true,"memberCount":0,'
        .. '"createdAt":"2025-01-09T05:30:00.123456"}', raw)
      assert.equal(10, seen[1])
      assert.equal("알고리즘 스터디", seen[2])
      assert.equal(0, body.memberCount)
    end)

    it("answers 409 when the study already has a room", function()
      fake.on_sql("INSERT INTO chat_rooms", function() return {} end)
      local status, body = request("POST", "/api/chat/rooms", "studyId=10&roomName=x")
      assert.equal(409, status)
      assert.equal("Conflict", body.error)
      assert.equal("study 10 already has a chat room", body.message)
      assert.equal("/api/chat/rooms", body.path)
    end)

    it("validates its parameters before touching the database", function()
      local cases = {
        { "roomName=x", "required parameter 'studyId' is missing" },
        { "studyId=&roomName=x", "required parameter 'studyId' is missing" },
        { "studyId=1x&roomName=x", "parameter 'studyId' must be a 64-bit integer, got '1x'" },
        { "studyId=1.5&roomName=x", "parameter 'studyId' must be a 64-bit integer, got '1.5'" },
        { "studyId=99999999999999999999&roomName=x", "parameter 'studyId' must be a 64-bit integer, got '99999999999999999999'" },
        { "studyId=1", "required parameter 'roomName' is missing" },
        { "studyId=1&roomName=%20%20", "parameter 'roomName' must not be blank" },
        { "studyId=1&roomName=" .. ("a"):rep(101), "parameter 'roomName' must be at most 100 characters" },
      }
      for _, c in ipairs(cases) do
        local status, body = request("POST", "/api/chat/rooms", c[1])
        assert.equal(400, status, c[1])
        assert.equal("Bad Request", body.error)
        assert.equal(c[2], body.message, c[1])
      end
      assert.equal(0, #fake.pg_calls)
    end)

    it("accepts 100 Korean characters and a '+' signed id", function()
      fake.on_sql("INSERT INTO chat_rooms", function(params)
        assert.equal(7, params[1])
        return { room_row { name = params[2] } }
      end)
      local status = request("POST", "/api/chat/rooms", "studyId=%2B7&roomName=" .. ("%EA%B0%80"):rep(100))
      assert.equal(200, status)
    end)

    it("answers 503 when PostgreSQL is unavailable", function()
      fake.pg_down("08006")
      local status, body = request("POST", "/api/chat/rooms", "studyId=1&roomName=x")
      assert.equal(503, status)
      assert.equal("database unavailable", body.message)
    end)
  end)

  describe("2. POST /api/chat/rooms/member", function()
    local upsert
    before_each(function()
      upsert = nil
      fake.on_sql("INSERT INTO chat_room_members", function(params) upsert = params; return { { id = 3 } } end)
      fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { room_row { member_count = 1 } } end)
    end)

    it("adds the member to the study's room and answers the room", function()
      local status, body = request("POST", "/api/chat/rooms/member", nil,
        '{"studyId":10,"roomId":1,"userId":5,"nickname":"홍길동"}')
      assert.equal(200, status)
      assert.equal(1, body.memberCount)
      assert.same({ 1, 5, "홍길동" }, { upsert[1], upsert[2], upsert[3] })
      assert.equal(10, upsert[5])
    end)

    it("answers 404 unless the room belongs to the study", function()
      fake.on_sql("INSERT INTO chat_room_members", function() return {} end)
      fake.on_sql("SELECT study_id FROM chat_rooms", function() return { { study_id = 10 } } end)
      local status, body = request("POST", "/api/chat/rooms/member", nil, '{"studyId":11,"roomId":1,"userId":5}')
      assert.equal(404, status)
      assert.equal("chat room 1 does not belong to study 11", body.message)
    end)

    it("answers 400 for bad bodies and 415 for non-JSON content", function()
      local m = "/api/chat/rooms/member"
      local cases = {
        { '{"studyId": 1,', "^malformed JSON request body" },
        { "[1,2]", "^the request body must be a JSON object$" },
        { '{"studyId":"one","roomId":1,"userId":1}', "^field 'studyId' must be a 64%-bit integer$" },
        { '{"studyId":1,"roomId":1}', "^field 'userId' is required$" },
        { '{"studyId":1,"roomId":1.5,"userId":1}', "^field 'roomId' must be a 64%-bit integer$" },
        { '{"studyId":1,"roomId":1,"userId":1,"nickname":{}}', "^field 'nickname' must be a string$" },
        { '{"studyId":1,"roomId":1,"userId":1,"nickname":"' .. ("x"):rep(256) .. '"}', "255" },
      }
      for _, c in ipairs(cases) do
        local status, body = request("POST", m, nil, c[1])
        assert.equal(400, status, c[1])
        assert.matches(c[2], body.message)
        assert.equal(m, body.path)
      end
      local status, body = request("POST", m, nil, "")
      assert.equal(400, status)
      assert.matches("body", body.message)
      status = request("POST", m, nil, '{"studyId":1,"roomId":1,"userId":1}', { ["content-type"] = "text/plain" })
      assert.equal(415, status)
      assert.is_nil(upsert)
    end)
  end)

  describe("3. GET /api/chat/rooms/study/{studyId}", function()
    it("finds the room or answers 404", function()
      fake.on_sql("r%.study_id = %$1", function(params)
        return params[1] == 10 and { room_row { member_count = 2 } } or {}
      end)
      local status, body = request("GET", "/api/chat/rooms/study/10")
      assert.equal(200, status)
      assert.equal(2, body.memberCount)
      status, body = request("GET", "/api/chat/rooms/study/11")
      assert.equal(404, status)
      assert.equal("study 11 has no chat room", body.message)
      status, body = request("GET", "/api/chat/rooms/study/abc")
      assert.equal(400, status)
      assert.matches("'studyId'", body.message)
    end)
  end)

  describe("4. POST /api/chat/rooms/{chatRoomId}/join", function()
    it("upserts the member without a nickname and answers the room", function()
      local upsert
      fake.on_sql("INSERT INTO chat_room_members", function(params) upsert = params; return { { id = 1 } } end)
      fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { room_row { id = 7, member_count = 1 } } end)
      local status, body = request("POST", "/api/chat/rooms/7/join", "memberId=3")
      assert.equal(200, status)
      assert.equal(7, body.id)
      assert.equal(7, upsert[1])
      assert.equal(3, upsert[2])
      assert.is_nil(upsert[3])
      assert.is_nil(upsert[5])
    end)

    it("answers 404 for an unknown room and 400 without memberId", function()
      fake.on_sql("INSERT INTO chat_room_members", function() return nil, "fk", "23503" end)
      local status, body = request("POST", "/api/chat/rooms/7/join", "memberId=3")
      assert.equal(404, status)
      assert.equal("chat room 7 does not exist", body.message)
      assert.equal("/api/chat/rooms/7/join", body.path)
      status, body = request("POST", "/api/chat/rooms/7/join")
      assert.equal(400, status)
      assert.equal("required parameter 'memberId' is missing", body.message)
    end)
  end)

  describe("5. POST /api/chat/rooms/{chatRoomId}/leave", function()
    it("answers 200 with an empty body", function()
      fake.on_sql("UPDATE chat_room_members SET left_at", function() return { { id = 1 } } end)
      local status, body, headers, raw = request("POST", "/api/chat/rooms/7/leave", "memberId=3")
      assert.equal(200, status)
      assert.equal("", raw)
      assert.is_nil(body)
      assert.is_nil(headers["Content-Type"])
    end)

    it("answers 404 when the member is not active", function()
      fake.on_sql("UPDATE chat_room_members SET left_at", function() return {} end)
      fake.on_sql("SELECT study_id FROM chat_rooms", function() return { { study_id = 1 } } end)
      local status, body = request("POST", "/api/chat/rooms/7/leave", "memberId=3")
      assert.equal(404, status)
      assert.equal("member 3 is not an active member of chat room 7", body.message)
    end)
  end)

  describe("9. POST /api/chat/internal/rooms/member", function()
    it("finds or creates the room, then upserts the member", function()
      local created, upsert
      fake.on_sql("INSERT INTO chat_rooms", function(params) created = params; return {} end)
      fake.on_sql("r%.study_id = %$1", function() return { room_row { id = 4 } } end)
      fake.on_sql("INSERT INTO chat_room_members", function(params) upsert = params; return { { id = 1 } } end)
      fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { room_row { id = 4, member_count = 1 } } end)
      local status, body = request("POST", "/api/chat/internal/rooms/member", nil,
        '{"studyId":10,"roomName":"스터디","userId":5,"nickname":"홍길동"}')
      assert.equal(200, status)
      assert.equal(4, body.id)
      assert.equal(1, body.memberCount)
      assert.same({ 10, "스터디" }, { created[1], created[2] })
      assert.same({ 4, 5, "홍길동" }, { upsert[1], upsert[2], upsert[3] })
      assert.is_nil(upsert[5], "no study check: the room was found by its study")
    end)

    it("requires roomName", function()
      local status, body = request("POST", "/api/chat/internal/rooms/member", nil, '{"studyId":10,"userId":5}')
      assert.equal(400, status)
      assert.equal("field 'roomName' is required", body.message)
      status, body = request("POST", "/api/chat/internal/rooms/member", nil, '{"studyId":10,"userId":5,"roomName":" "}')
      assert.equal(400, status)
      assert.equal("field 'roomName' must not be blank", body.message)
    end)
  end)
end)
