describe("chat.domain.messages", function()
  local fake, messages, json
  before_each(function()
    fake = require("fake_chat").install()
    messages = require "chat.domain.messages"
    json = require "chat.lib.json"
  end)

  describe("parse_sort, as Spring's sort parameters", function()
    local D, A = "DESC", "ASC"

    it("defaults to createdAt,desc with id as the tie-breaker", function()
      local default = { { "createdAt", D }, { "id", D } }
      assert.same(default, messages.parse_sort(nil))
      assert.same(default, messages.parse_sort {})
      assert.same(default, messages.parse_sort { "" })
      assert.same(default, messages.parse_sort { "desc" })
    end)

    it("defaults the direction to asc and ignores its case", function()
      assert.same({ { "id", A } }, messages.parse_sort { "id" })
      assert.same({ { "createdAt", A }, { "id", A } }, messages.parse_sort { "createdAt" })
      assert.same({ { "createdAt", D }, { "id", D } }, messages.parse_sort { "createdAt,DESC" })
      assert.same({ { "id", D } }, messages.parse_sort { "id,Desc" })
    end)

    it("applies a direction to every property of its parameter and reads several parameters", function()
      assert.same({ { "createdAt", D }, { "id", D } }, messages.parse_sort { "createdAt,id,desc" })
      assert.same({ { "createdAt", A }, { "id", D } }, messages.parse_sort { "createdAt,ASC", "id,desc" })
      assert.same({ { "createdAt", A }, { "id", A } }, messages.parse_sort { "createdAt", "createdAt,desc" },
        "first one wins")
      assert.same({ { "createdAt", D }, { "id", D } }, messages.parse_sort { " createdAt , desc " })
    end)

    it("adds id in the last direction unless it is sorted on already", function()
      assert.same({ { "createdAt", A }, { "id", A } }, messages.parse_sort { "createdAt,asc" })
      assert.same({ { "id", D }, { "createdAt", A } }, messages.parse_sort { "id,desc", "createdAt" })
    end)

    it("rejects unknown properties and directions, naming them", function()
      local orders, err = messages.parse_sort { "name,asc" }
      assert.is_nil(orders)
      assert.equal("sort_invalid", err.code)
      assert.equal("cannot sort by 'name': sort properties are id and createdAt, directions asc and desc", err.text)
      orders, err = messages.parse_sort { "id,sideways" }
      assert.is_nil(orders)
      assert.matches("'sideways'", err.text)
      assert.matches("direction", err.text)
      assert.is_nil((messages.parse_sort { "id;drop table x" }))
    end)
  end)

  describe("order_sql, always newest first as the original's query", function()
    local function sql(values, which) return messages.order_sql(messages.parse_sort(values), which or "inner") end

    it("puts createdAt DESC first; a requested order only breaks ties", function()
      assert.equal("c.created_at DESC, c.id DESC", sql(nil))
      assert.equal("c.created_at DESC, c.id ASC", sql { "id" })
      assert.equal("c.created_at DESC, c.id DESC", sql { "id,desc" })
      assert.equal("c.created_at DESC, c.id ASC", sql { "createdAt,asc" }, "createdAt,asc is still newest first")
      assert.equal("c.created_at DESC, c.id DESC", sql { "createdAt,ASC", "id,desc" })
      assert.equal("c.created_at DESC, c.id DESC", sql { "id,desc", "createdAt" })
    end)

    it("builds the outer ORDER BY from the same orders", function()
      assert.equal("p.created_at_sort DESC, p.id DESC", sql(nil, "outer"))
      assert.equal("p.created_at_sort DESC, p.id ASC", sql({ "createdAt,asc" }, "outer"))
    end)
  end)

  describe("the Page JSON", function()
    local function page_of(page, size, total, n)
      local content = {}
      for i = 1, n do content[i] = '{"id":' .. i .. '}' end
      return json.decode(messages.page_json(content, page, size, total))
    end

    it("has Spring Data's fields in the order the running original writes them", function()
      local text = messages.page_json({}, 0, 50, 0)
      assert.equal('{"content":[],"pageable":{"pageNumber":0,"pageSize":50,'
        .. '"sort":{"sorted":true,"empty":false,"unsorted":false},"offset":0,"paged":true,"unpaged":false},'
        .. '"totalElements":0,"totalPages":0,"last":true,"size":50,"number":0,'
        .. '"sort":{"sorted":true,"empty":false,"unsorted":false},"numberOfElements":0,"first":true,"empty":true}', text)
      text = messages.page_json({ '{"id":1}' }, 1, 1, 3)
      assert.equal('{"content":[{"id":1}],"pageable":{"pageNumber":1,"pageSize":1,'
        .. '"sort":{"sorted":true,"empty":false,"unsorted":false},"offset":1,"paged":true,"unpaged":false},'
        .. '"totalElements":3,"totalPages":3,"last":false,"size":1,"number":1,'
        .. '"sort":{"sorted":true,"empty":false,"unsorted":false},"numberOfElements":1,"first":false,"empty":false}', text)
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
          { total = 7, id = 4, chat_room_id = 1, sender_id = 5, sender_nickname = "홍길동", content = "안녕", message_type = "CHAT",
            created_at = 1736400600.5 },
          { total = 7, id = 5, chat_room_id = 1, sender_id = 0, content = "x님이 입장하셨습니다.", message_type = "JOIN",
            created_at = 1736400660 },
        }
      end)
      local body = messages.page(1, 1, 3, messages.parse_sort { "id,asc" })
      assert.same({ 1, 3, 3, n = 3 }, seen.params)
      assert.matches("ORDER BY c%.created_at DESC, c%.id ASC%s+LIMIT", seen.sql)
      assert.matches("ORDER BY p%.created_at_sort DESC, p%.id ASC$", seen.sql)
      assert.truthy(seen.sql:find("extract(epoch FROM (m.created_at) AT TIME ZONE 'Asia/Seoul') AS created_at", 1, true),
        "the instant for the wire")
      assert.truthy(seen.sql:find("SELECT c.id, c.created_at AS created_at_sort FROM chat_messages c", 1, true),
        "the page found in the index alone, sorted by the column")
      local text = body
      assert.matches('^{"content":%[{"id":4,"chatRoomId":1,"senderId":5,"senderNickname":"홍길동","content":"안녕",'
        .. '"messageType":"CHAT","createdAt":"2025%-01%-09T05:30:00%.5"},{"id":5,"chatRoomId":1,"senderId":0,'
        .. '"senderNickname":null,"content":"x님이 입장하셨습니다%.","messageType":"JOIN","createdAt":"2025%-01%-09T05:31:00"}%]', text)
      local page = json.decode(text)
      assert.equal(7, page.totalElements)
      assert.equal(3, page.totalPages)
      assert.equal(2, page.numberOfElements)
    end)

    it("serves an empty page of an existing room with its total", function()
      fake.on_sql("CROSS JOIN LATERAL", function() return { { total = 7 } } end)
      local page = json.decode(messages.page(1, 9, 3, messages.parse_sort(nil)))
      assert.is_true(page.empty)
      assert.same({}, page.content)
      assert.equal(7, page.totalElements)
    end)

    it("fails room_not_found for an unknown room and db_unavailable without PostgreSQL", function()
      fake.on_sql("CROSS JOIN LATERAL", function() return {} end)
      local body, failure = messages.page(8, 0, 50, messages.parse_sort(nil))
      assert.is_nil(body)
      assert.equal("room_not_found", failure.code)
      assert.equal("chat room 8 does not exist", failure.text)
      fake.pg_down()
      body, failure = messages.page(8, 0, 50, messages.parse_sort(nil))
      assert.is_nil(body)
      assert.equal("db_unavailable", failure.code)
    end)
  end)

  describe("store()", function()
    it("stores for an active member, returns the message and bumps the unread generation after", function()
      fake.clock = 1736400600.25
      local seen, sql
      fake.on_sql("INSERT INTO chat_messages", function(params, s)
        seen, sql = params, s
        return { { id = 99, created_at = 1736400600.25 } }
      end)
      local msg = messages.store(1, 5, "홍길동", "안녕하세요!", "CHAT", 5)
      -- Stored as Seoul's wall clock, sent as the same instant in the process's zone (UTC here).
      assert.same({ 1, 5, "홍길동", "안녕하세요!", "CHAT", "2025-01-09T14:30:00.25", 5, n = 7 }, seen)
      assert.matches("RETURNING id, extract%(epoch FROM %(created_at%) AT TIME ZONE 'Asia/Seoul'%) AS created_at$", sql)
      assert.same({ chatRoomId = 1, id = 99, senderId = 5, senderNickname = "홍길동", content = "안녕하세요!",
                    messageType = "CHAT", createdAt = "2025-01-09T05:30:00.25" }, msg)
      assert.equal("1", fake.redis_data["chat:unread:gen:1"])
      local incr = fake.redis_calls[#fake.redis_calls]
      assert.same({ "INCR", "chat:unread:gen:1" }, incr)
    end)

    it("bumps the generation for JOIN/LEAVE messages too: they are on the newest page", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 1, created_at = 1736400600 } } end)
      assert.is_table(messages.store(1, 0, "n", "n님이 입장하셨습니다.", "JOIN", nil))
      assert.is_table(messages.store(1, 0, "n", "n님이 퇴장하셨습니다.", "LEAVE", nil))
      assert.equal("2", fake.redis_data["chat:unread:gen:1"])
    end)

    it("counts each stored message by type for the metrics, and nothing that was refused", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 1, created_at = 1736400600 } } end)
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
      assert.equal("not_a_member", why.code)
      assert.equal("user 6 is not an active member of chat room 1", why.text)
      assert.is_nil(fake.redis_data["chat:unread:gen:1"])

      fake.on_sql("INSERT INTO chat_messages", function() return nil, "violates foreign key", "23503" end)
      assert.equal("chat room 1 does not exist", select(2, messages.store(1, 6, "n", "hi", "CHAT")).text)
      fake.on_sql("INSERT INTO chat_messages", function() return nil, "terminating", "57P01" end)
      assert.equal("database unavailable", select(2, messages.store(1, 6, "n", "hi", "CHAT")).text)
      fake.on_sql("INSERT INTO chat_messages", function() return nil, "boom", "XX000" end)
      local failed = select(2, messages.store(1, 6, "n", "hi", "CHAT"))
      assert.equal("message_not_stored", failed.code)
      assert.equal("the message could not be stored", failed.text)
      assert.same({ "error", "database error XX000: boom" }, fake.logs[#fake.logs], "the cause is logged, not shown")
    end)

    it("still stores when Redis is down (the generation bump is only logged)", function()
      fake.redis_down = true
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 3, created_at = 1736400600 } } end)
      assert.equal(3, messages.store(1, 5, "n", "hi", "CHAT", 5).id)
      assert.equal("warn", fake.logs[#fake.logs][1])
    end)
  end)

  -- Runs messages.store for each argument list at once, under a cooperative scheduler: the
  -- first two (max_in_flight) wait in their statements until all were submitted, so the rest
  -- queue and are stored together in one statement. Returns the stored messages.
  local function store_concurrently(calls)
    local ready, held, results, waiting = {}, {}, {}, {}
    fake.chat.task_id = coroutine.running
    fake.chat.wait = function()
      waiting[coroutine.running()] = true
      return coroutine.yield()
    end
    fake.chat.wake = function(co)
      if not waiting[co] then return false end
      waiting[co] = nil
      ready[#ready + 1] = co
      return true
    end
    fake.on_sql("INSERT INTO chat_messages", function(params, sql)
      if sql:find("unnest", 1, true) then
        local rows, n = {}, select(2, params[1]:gsub(",", "")) + 1
        for i = 1, n do rows[i] = { ord = i, id = 100 + i, created_at = 1736400600 } end
        return rows
      end
      held[#held + 1] = coroutine.running()
      coroutine.yield()
      return { { id = #held, created_at = 1736400600 } }
    end)
    local cos = {}
    for i, args in ipairs(calls) do
      cos[i] = coroutine.create(function() results[i] = messages.store(table.unpack(args)) end)
      assert(coroutine.resume(cos[i]))
    end
    assert.equal(2, #held, "two statements in flight, the rest queued")
    for _, co in ipairs(held) do ready[#ready + 1] = co end
    while #ready > 0 do assert(coroutine.resume(table.remove(ready, 1))) end
    for i, co in ipairs(cos) do assert.equal("dead", coroutine.status(co), "call " .. i) end
    return results
  end

  local function redis_commands()
    local out = {}
    for i, c in ipairs(fake.redis_calls) do
      out[i] = c[1] == "EVAL" and { "EVAL", c[4], c[5], c[6] } or c
    end
    return out
  end

  it("bumps a stored room's generation once per batch, whatever the messages' types", function()
    local results = store_concurrently {
      { 9, 0, "n", "n님이 입장하셨습니다.", "JOIN" }, { 8, 0, "n", "n님이 입장하셨습니다.", "JOIN" },
      { 1, 5, "a", "hi", "CHAT" }, { 1, 6, "b", "hi", "CHAT" }, { 2, 0, "n", "bye", "LEAVE" }, { 3, 5, "a", "x", "CHAT" },
    }
    assert.same({ 101, 102, 103, 104 }, { results[3].id, results[4].id, results[5].id, results[6].id })
    assert.matches("^WITH input AS", fake.pg_calls[#fake.pg_calls].sql)
    assert.same({ { "INCR", "chat:unread:gen:9" }, { "INCR", "chat:unread:gen:8" }, { "INCR", "chat:unread:gen:1" },
                  { "INCR", "chat:unread:gen:2" }, { "INCR", "chat:unread:gen:3" } }, redis_commands())
  end)

  describe("in a mixed fleet", function()
    before_each(function()
      fake = require("fake_chat").install()
      fake.chat.config.mixed_fleet = true
      messages = require "chat.domain.messages"
    end)

    it("invalidates the whole room for CHAT, JOIN and LEAVE messages, the original's counts included", function()
      fake.on_sql("INSERT INTO chat_messages", function() return { { id = 1, created_at = 1736400600 } } end)
      messages.store(1, 5, "n", "hi", "CHAT", 5)
      messages.store(2, 0, "n", "n님이 입장하셨습니다.", "JOIN", nil)
      messages.store(3, 0, "n", "n님이 퇴장하셨습니다.", "LEAVE", nil)
      assert.same({ { "EVAL", "chat:unread:gen:1", "", "chat:unread:1:*" },
                    { "EVAL", "chat:unread:gen:2", "", "chat:unread:2:*" },
                    { "EVAL", "chat:unread:gen:3", "", "chat:unread:3:*" } }, redis_commands())
      assert.equal(1, fake.redis_calls[1][3], "one key")
    end)

    it("invalidates nothing for a refused message", function()
      fake.on_sql("INSERT INTO chat_messages", function() return {} end)
      assert.is_nil(messages.store(1, 6, "n", "hi", "CHAT", 6))
      assert.same({}, fake.redis_calls)
    end)

    it("invalidates each room once per stored batch, whatever the message types", function()
      store_concurrently {
        { 9, 0, "n", "n님이 입장하셨습니다.", "JOIN" }, { 9, 0, "n", "n님이 입장하셨습니다.", "JOIN" },
        { 1, 0, "n", "n님이 입장하셨습니다.", "JOIN" }, { 1, 5, "a", "hi", "CHAT" }, { 2, 0, "n", "bye", "LEAVE" },
      }
      assert.same({ { "EVAL", "chat:unread:gen:9", "", "chat:unread:9:*" },
                    { "EVAL", "chat:unread:gen:9", "", "chat:unread:9:*" },
                    { "EVAL", "chat:unread:gen:1", "", "chat:unread:1:*" },
                    { "EVAL", "chat:unread:gen:2", "", "chat:unread:2:*" } }, redis_commands())
    end)
  end)
end)
