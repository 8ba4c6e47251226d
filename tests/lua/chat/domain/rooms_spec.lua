describe("chat.domain.rooms", function()
  local fake, rooms, json
  local ROOM = { id = 1, study_id = 10, name = "알고리즘 스터디", is_active = true, member_count = 2,
                 created_at = 1736400600.12345 }

  before_each(function()
    fake = require("fake_chat").install()
    rooms = require "chat.domain.rooms"
    json = require "chat.lib.json"
  end)

  it("writes ChatRoomResponse with the contract's field order, createdAt in the process's zone", function()
    assert.equal('{"id":1,"studyId":10,"name":"알고리즘 스터디","isActive":true,"memberCount":2,'
      .. '"createdAt":"2025-01-09T05:30:00.12345"}', json.encode(rooms.response(ROOM)))
  end)

  it("selects created_at as the instant Seoul's wall clock stands for", function()
    fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { ROOM } end)
    rooms.find(1)
    assert.truthy(fake.pg_calls[1].sql:find(
      "r.is_active, extract(epoch FROM (r.created_at) AT TIME ZONE 'Asia/Seoul') AS created_at,", 1, true))
  end)

  it("counts active members only, in the same query as the room", function()
    fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { ROOM } end)
    assert.same(ROOM, rooms.find(1))
    assert.equal(1, #fake.pg_calls)
    assert.matches("m%.left_at IS NULL", fake.pg_calls[1].sql)
  end)

  it("creates a room in one round trip, or study_has_room when the study has one", function()
    fake.clock = 1736400600
    local seen
    fake.on_sql("INSERT INTO chat_rooms", function(params, sql)
      seen = params
      assert.matches("ON CONFLICT %(study_id%) DO NOTHING", sql)
      assert.matches("extract%(epoch FROM %(created_at%) AT TIME ZONE 'Asia/Seoul'%) AS created_at, 0 AS member_count$", sql)
      return { { id = 1, study_id = 10, name = "n", is_active = true, member_count = 0, created_at = 1736400600 } }
    end)
    local room = rooms.create(10, "n", false)
    assert.equal(0, room.member_count)
    assert.same({ 10, "n", "2025-01-09T14:30:00", n = 3 }, seen, "Seoul's wall clock")
    assert.equal('{"id":1,"studyId":10,"name":"n","isActive":true,"memberCount":0,"createdAt":"2025-01-09T05:30:00"}',
      json.encode(rooms.response(room)))
    assert.equal(1, #fake.pg_calls)

    fake.on_sql("INSERT INTO chat_rooms", function() return {} end)
    local none, failure = rooms.create(10, "n", false)
    assert.is_nil(none)
    assert.equal("study_has_room", failure.code)
    assert.equal("study 10 already has a chat room", failure.text)

    fake.on_sql("INSERT INTO chat_rooms", function() return nil, "duplicate key", "23505" end)
    assert.equal("study_has_room", select(2, rooms.create(10, "n", false)).code)
  end)

  it("reuses the study's room when asked to (endpoint 9)", function()
    fake.on_sql("INSERT INTO chat_rooms", function() return {} end)
    fake.on_sql("FROM chat_rooms r WHERE r%.study_id = %$1", function(params)
      assert.equal(10, params[1])
      return { ROOM }
    end)
    assert.same(ROOM, rooms.create(10, "other name", true))
  end)

  it("upserts members: reactivates, keeps an active member's joined_at, keeps the nickname unless given", function()
    local seen
    fake.on_sql("INSERT INTO chat_room_members", function(params, sql)
      seen = { params = params, sql = sql }
      return { { id = 7 } }
    end)
    fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { ROOM } end)
    assert.same(ROOM, rooms.add_member(1, 5, "홍길동", 10))
    assert.equal(1, seen.params[1])
    assert.equal(5, seen.params[2])
    assert.equal("홍길동", seen.params[3])
    assert.equal("2025-01-09T14:30:00.5", seen.params[4], "joined_at: Seoul's wall clock")
    assert.equal(10, seen.params[5])
    assert.matches("ON CONFLICT %(chat_room_id, member_id%) DO UPDATE", seen.sql)
    assert.matches("left_at = NULL", seen.sql)
    assert.matches("coalesce%(excluded%.sender_nickname, chat_room_members%.sender_nickname%)", seen.sql)
    assert.matches("study_id = %$5", seen.sql)
    assert.equal("1", fake.redis_data["chat:unread:gen:1"], "membership changes bump the unread generation")
  end)

  it("fails room_not_found for an unknown room and room_not_in_study for another study's", function()
    fake.on_sql("INSERT INTO chat_room_members", function() return {} end)
    fake.on_sql("SELECT study_id FROM chat_rooms", function(params) return params[1] == 1 and { { study_id = 10 } } or {} end)
    local none, failure = rooms.add_member(1, 5, nil, 11)
    assert.is_nil(none)
    assert.equal("room_not_in_study", failure.code)
    assert.equal("chat room 1 does not belong to study 11", failure.text)
    assert.equal("chat room 2 does not exist", select(2, rooms.add_member(2, 5, nil, 11)).text)
    fake.on_sql("INSERT INTO chat_room_members", function() return nil, "violates foreign key", "23503" end)
    assert.equal("chat room 3 does not exist", select(2, rooms.add_member(3, 5, nil, nil)).text)
  end)

  it("leaves: not_a_member for a non-member, room_not_found for an unknown room", function()
    local seen
    fake.on_sql("UPDATE chat_room_members SET left_at", function(params)
      seen = params
      return { { id = 7 } }
    end)
    assert.is_true(rooms.leave(1, 5))
    assert.same({ 1, 5, "2025-01-09T14:30:00.5", n = 3 }, seen, "left_at: Seoul's wall clock")
    assert.equal("1", fake.redis_data["chat:unread:gen:1"])

    fake.on_sql("UPDATE chat_room_members SET left_at", function() return {} end)
    fake.on_sql("SELECT study_id FROM chat_rooms", function(params) return params[1] == 1 and { { study_id = 10 } } or {} end)
    assert.equal("member 5 is not an active member of chat room 1", select(2, rooms.leave(1, 5)).text)
    assert.equal("chat room 2 does not exist", select(2, rooms.leave(2, 5)).text)
  end)

  it("finds by study (study_room_not_found) and passes database outages on as db_unavailable", function()
    fake.on_sql("r%.study_id = %$1", function() return {} end)
    assert.equal("study 4 has no chat room", select(2, rooms.find_by_study(4)).text)
    fake.pg_down("08001")
    assert.equal("db_unavailable", select(2, rooms.find_by_study(4)).code)
    assert.equal("db_unavailable", select(2, rooms.create(4, "n", false)).code)
    assert.equal("db_unavailable", select(2, rooms.add_member(4, 1, nil, nil)).code)
    assert.equal("db_unavailable", select(2, rooms.leave(4, 1)).code)
  end)

  it("forgets, in a mixed fleet, the original's cached count of the member who joined or left", function()
    fake = require("fake_chat").install()
    fake.chat.config.mixed_fleet = true
    rooms = require "chat.domain.rooms"
    fake.on_sql("INSERT INTO chat_room_members", function() return { { id = 7 } } end)
    fake.on_sql("FROM chat_rooms r WHERE r%.id = %$1", function() return { ROOM } end)
    fake.on_sql("UPDATE chat_room_members SET left_at", function() return { { id = 7 } } end)
    assert.same(ROOM, rooms.add_member(1, 5, "홍길동", nil))
    assert.is_true(rooms.leave(1, 6))
    assert.equal(2, #fake.redis_calls)
    for i, member_key in ipairs { "chat:unread:1:5", "chat:unread:1:6" } do
      local c = fake.redis_calls[i]
      assert.same({ "EVAL", 1, "chat:unread:gen:1", member_key, "chat:unread:1:*" }, { c[1], c[3], c[4], c[5], c[6] })
    end
  end)
end)
