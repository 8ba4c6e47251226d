describe("chat.messages", function()
  local fake, messages, json
  before_each(function()
    fake = require("fake_chat").install()
    messages = require "chat.messages"
    json = require "chat.json"
  end)

  describe("parse_sort, as Spring's sort parameters", function()
    local function sql(values)
      local orders, err = messages.parse_sort(values)
      if not orders then return nil, err end
      return messages.order_sql(orders, "inner")
    end

    it("defaults to createdAt,desc with id as the tie-breaker", function()
      assert.equal("c.created_at DESC, c.id DESC", sql(nil))
      assert.equal("c.created_at DESC, c.id DESC", sql {})
      assert.equal("c.created_at DESC, c.id DESC", sql { "" })
      assert.equal("c.created_at DESC, c.id DESC", sql { "desc" })
    end)

    it("defaults the direction to asc and ignores its case", function()
      assert.equal("c.id ASC", sql { "id" })
      assert.equal("c.created_at ASC, c.id ASC", sql { "createdAt" })
      assert.equal("c.created_at DESC, c.id DESC", sql { "createdAt,DESC" })
      assert.equal("c.id DESC", sql { "id,Desc" })
    end)

    it("applies a direction to every property of its parameter and reads several parameters", function()
      assert.equal("c.created_at DESC, c.id DESC", sql { "createdAt,id,desc" })
      assert.equal("c.created_at ASC, c.id DESC", sql { "createdAt,ASC", "id,desc" })
      assert.equal("c.created_at ASC, c.id ASC", sql { "createdAt", "createdAt,desc" }, "first one wins")
      assert.equal("c.created_at DESC, c.id DESC", sql { " createdAt , desc " })
    end)

    it("adds id in the last direction unless it is sorted on already", function()
      assert.same({ { "createdAt", "ASC" }, { "id", "ASC" } }, messages.parse_sort { "createdAt,asc" })
      assert.same({ { "id", "DESC" }, { "createdAt", "ASC" } }, messages.parse_sort { "id,desc", "createdAt" })
    end)

    it("rejects unknown properties and directions, naming them", function()
      local orders, err = messages.parse_sort { "name,asc" }
      assert.is_nil(orders)
      assert.equal("cannot sort by 'name': sort properties are id and createdAt, directions asc and desc", err)
      orders, err = messages.parse_sort { "id,sideways" }
      assert.is_nil(orders)
      assert.matches("'sideways'", err)
      assert.matches("direction", err)
      assert.is_nil((messages.parse_sort { "id;drop table x" }))
    end)

    it("builds the outer ORDER BY from the same orders", function()
      assert.equal("m.created_at_sort DESC, m.id DESC", messages.order_sql(messages.parse_sort(nil), "outer"))
    end)
  end)

  describe("the Page JSON", function()
    local function page_of(page, size, total, n)
      local content = {}
      for i = 1, n do content[i] = json.object { "id", i } end
      return json.decode(json.encode(messages.page_json(content, page, size, total)))
    end

    it("has Spring Data's fields in Spring Data's order", function()
      local text = json.encode(messages.page_json({}, 0, 50, 0))
      assert.equal('{"content":[],"pageable":{"pageNumber":0,"pageSize":50,'
        .. '"sort":{"empty":false,"sorted":true,"unsorted":false},"offset":0,"paged":true,"unpaged":false},'
        .. '"last":true,"totalElements":0,"totalPages":0,"size":50,"number":0,'
        .. '"sort":{"empty":false,"sorted":true,"unsorted":false},"first":true,"numberOfElements":0,"empty":true}', text)
    end)

    it("computes offset, pages, first and last", function()
      local p = page_of(1, 3, 7, 3)
      assert.equal(3, p.pageable.offset)
      assert.equal(1, p.pageable.pageNumber)
      assert.equal(3, p.pageable.pageSize)
      assert.equal(3, p.totalPages)
      assert.equal(7, p.totalElements)
      assert.is_false(p.first)
      assert.is_false(p.last)
      assert.equal(3, p.numberOfElements)
      assert.is_false(p.empty)

      p = page_of(2, 3, 7, 1)
      assert.is_true(p.last)
      assert.equal(1, p.numberOfElements)

      p = page_of(0, 7, 7, 7)
      assert.equal(1, p.totalPages)
      assert.is_true(p.first)
      assert.is_true(p.last)

      p = page_of(9, 3, 7, 0)
      assert.is_true(p.empty)
      assert.is_true(p.last)
      assert.equal(27, p.pageable.offset)

      p = page_of(0, 2000, 4001, 2000)
      assert.equal(3, p.totalPages)
    end)
  end)

  describe("page()", function()
    it("asks one query with the room id, size and offset and maps the rows", function()
      local seen
      fake.on_sql("FROM chat_rooms r%s+CROSS JOIN LATERAL", function(params, sql)
        seen = { params = params, sql = sql }
        return {
          { total = 7, id = 4, sender_id = 5, sender_nickname = "홍길동", content = "안녕", message_type = "CHAT",
            created_at = "2025-01-09T14:30:00.500000" },
          { total = 7, id = 5, sender_id = 0, content = "x님이 입장하셨습니다.", message_type = "JOIN",
            created_at = "2025-01-09T14:31:00.000000" },
        }
      end)
      local body = messages.page(1, 1, 3, messages.parse_sort { "id,asc" })
      assert.same({ 1, 3, 3, n = 3 }, seen.params)
      assert.matches("ORDER BY c.id ASC%s+LIMIT", seen.sql)
      assert.matches("ORDER BY m.id ASC$", seen.sql)
      local text = json.encode(body)
      assert.matches('^{"content":%[{"id":4,"chatRoomId":1,"senderId":5,"senderNickname":"홍길동","content":"안녕",'
        .. '"messageType":"CHAT","createdAt":"2025%-01%-09T14:30:00%.5"},{"id":5,"chatRoomId":1,"senderId":0,'
        .. '"senderNickname":null,"content":"x님이 입장하셨습니다%.","messageType":"JOIN","createdAt":"2025%-01%-09T14:31:00"}%]', text)
      local page = json.decode(text)
      assert.equal(7, page.totalElements)
      assert.equal(3, page.totalPages)
      assert.equal(2, page.numberOfElements)
    end)

    it("serves an empty page of an existing room with its total", function()
      fake.on_sql("CROSS JOIN LATERAL", function() return { { total = 7 } } end)
      local page = json.decode(json.encode(messages.page(1, 9, 3, messages.parse_sort(nil))))
      assert.is_true(page.empty)
      assert.same({}, page.content)
      assert.equal(7, page.totalElements)
    end)

    it("answers 404 for an unknown room and 503 without PostgreSQL", function()
      fake.on_sql("CROSS JOIN LATERAL", function() return {} end)
      local body, failure = messages.page(8, 0, 50, messages.parse_sort(nil))
      assert.is_nil(body)
      assert.equal(404, failure.status)
      assert.equal("chat room 8 does not exist", failure.message)
      fake.pg_down()
      body, failure = messages.page(8, 0, 50, messages.parse_sort(nil))
      assert.equal(503, failure.status)
    end)
  end)

  describe("store()", function()
    it("stores for an active member, returns the message and bumps the unread generation after", function()
      fake.clock = 1736433000.25
      local seen
      fake.on_sql("INSERT INTO chat_messages", function(params)
        seen = params
        return { { id = 99, created_at = "2025-01-09T14:30:00.250000" } }
      end)
      local msg = messages.store(1, 5, "홍길동", "안녕하세요!", "CHAT", 5)
      assert.same({ 1, 5, "홍길동", "안녕하세요!", "CHAT", "2025-01-09T14:30:00.25", 5, n = 7 }, seen)
      assert.same({ chatRoomId = 1, id = 99, senderId = 5, senderNickname = "홍길동", content = "안녕하세요!",
                    messageType = "CHAT", createdAt = "2025-01-09T14:30:00.25" }, msg)
      assert.equal("1", fake.redis_data["chat:unread:gen:1"])
      local incr = fake.redis_calls[#fake.redis_calls]
      assert.same({ "INCR", "chat:unread:gen:1" }, incr)
    end)

    it("does not bump the generation for JOIN/LEAVE messages, which are never counted", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 1, created_at = "2025-01-09T14:30:00.000000" } } end)
      assert.is_table(messages.store(1, 0, "n", "n님이 입장하셨습니다.", "JOIN", nil))
      assert.is_nil(fake.redis_data["chat:unread:gen:1"])
    end)

    it("counts each stored message by type for the metrics, and nothing that was refused", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 1, created_at = "2025-01-09T14:30:00.000000" } } end)
      messages.store(1, 5, "n", "hi", "CHAT", 5)
      messages.store(1, 0, "n", "n님이 퇴장하셨습니다.", "LEAVE", nil)
      fake.on_sql("INSERT INTO chat_messages", function() return {} end)
      messages.store(1, 6, "n", "hi", "CHAT", 6)
      fake.on_sql("INSERT INTO chat_messages", function() return nil, "terminating", "57P01" end)
      messages.store(1, 6, "n", "hi", "CHAT", 6)
      assert.same({ "CHAT", "LEAVE" }, fake.stored)
    end)

    it("reports a non-member, an unknown room and an unavailable database", function()
      fake.on_sql("INSERT INTO chat_messages", function() return {} end)
      local none, why = messages.store(1, 6, "n", "hi", "CHAT", 6)
      assert.is_nil(none)
      assert.equal(messages.NOT_A_MEMBER, why)
      assert.is_nil(fake.redis_data["chat:unread:gen:1"])

      fake.on_sql("INSERT INTO chat_messages", function() return nil, "violates foreign key", "23503" end)
      assert.equal("chat room 1 does not exist", select(2, messages.store(1, 6, "n", "hi", "CHAT")))
      fake.on_sql("INSERT INTO chat_messages", function() return nil, "terminating", "57P01" end)
      assert.equal("database unavailable", select(2, messages.store(1, 6, "n", "hi", "CHAT")))
      fake.on_sql("INSERT INTO chat_messages", function() return nil, "boom", "XX000" end)
      assert.equal(messages.STORE_FAILED, select(2, messages.store(1, 6, "n", "hi", "CHAT")))
    end)

    it("still stores when Redis is down (the generation bump is only logged)", function()
      fake.redis_down = true
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 3, created_at = "2025-01-09T14:30:00.000000" } } end)
      assert.equal(3, messages.store(1, 5, "n", "hi", "CHAT", 5).id)
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)
  end)
end)
