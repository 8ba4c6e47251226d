-- The history pages kept between writes (chat/domain/history_cache.lua), through
-- messages.history as the REST route calls it.
describe("chat.domain.history_cache", function()
  local fake, messages, history_cache, read_marks, json
  local ROOM, GEN = 7, "chat:unread:gen:7"
  local counted, uncounted -- queries of the page with and without the room's count
  local keyset -- the params of each page query started after a known message

  local function rows_of(total, ids)
    local rows = {}
    for i, id in ipairs(ids) do
      rows[i] = { total = total, id = id, chat_room_id = ROOM, sender_id = 5, sender_nickname = "n", content = "m" .. id,
                  message_type = "CHAT", created_at = 1736400600 + id }
    end
    return rows
  end

  -- The room holds messages 1..total; a page is the newest first.
  local total = 3
  local function page_ids(params)
    local size, offset, ids = params[2], params[3], {}
    for id = total - offset, math.max(1, total - offset - size + 1), -1 do ids[#ids + 1] = id end
    return ids
  end

  before_each(function()
    fake = require("fake_chat").install()
    messages = require "chat.domain.messages"
    history_cache = require "chat.domain.history_cache"
    read_marks = require "chat.domain.read_marks"
    json = require "chat.lib.json"
    total, counted, uncounted, keyset = 3, 0, 0, {}
    fake.on_sql("CROSS JOIN LATERAL %(SELECT count", function(params)
      counted = counted + 1
      local rows = rows_of(total, page_ids(params))
      return #rows > 0 and rows or { { total = total } }
    end)
    fake.on_sql("^SELECT m%.id", function(params)
      uncounted = uncounted + 1
      return rows_of(nil, page_ids(params))
    end)
    -- The page after message params[3]: the messages below it, newest first.
    fake.on_sql("%(m%.created_at, m%.id%) < %(SELECT", function(params)
      keyset[#keyset + 1] = params
      local ids = {}
      for id = params[3] - 1, math.max(1, params[3] - params[2]), -1 do ids[#ids + 1] = id end
      return rows_of(nil, ids)
    end)
  end)

  local function history(page, size)
    local text, err = messages.history(ROOM, page or 0, size or 50, messages.parse_sort(nil))
    assert.is_nil(err)
    return json.decode(text), text
  end

  it("serves the newest page from memory while the room's generation stands", function()
    local first, text = history()
    assert.equal(3, first.totalElements)
    assert.equal(3, first.content[1].id)
    assert.equal(1, counted)
    local _, again = history()
    assert.equal(text, again, "the same text")
    assert.same({ 1, 0 }, { counted, uncounted }, "no second query")
    assert.same({ "miss", "hit" }, fake.history_cache)
    assert.same({ "GET", GEN }, fake.redis_calls[#fake.redis_calls], "one GET of the generation")
  end)

  it("reads PostgreSQL again once a stored message moved the generation", function()
    history()
    fake.on_sql("INSERT INTO chat_messages", function() return { { id = 4, created_at = 1736400700 } } end)
    total = 4
    assert.is_table(messages.store(ROOM, 5, "n", "m4", "CHAT", 5))
    local page = history()
    assert.equal(4, page.totalElements)
    assert.equal(4, page.content[1].id)
    assert.same({ "miss", "miss" }, fake.history_cache)
  end)

  it("never keeps a page under a generation a write moved during its query", function()
    fake.on_sql("CROSS JOIN LATERAL %(SELECT count", function(params)
      counted = counted + 1
      -- A message commits (and moves the generation) while this query runs: the page
      -- read may or may not hold it, so it must not be served under the old generation.
      fake.redis_data[GEN] = tostring((tonumber(fake.redis_data[GEN]) or 0) + 1)
      return rows_of(total, page_ids(params))
    end)
    history()
    history()
    assert.equal(2, counted, "read twice: the first page was kept under a generation already gone")
    assert.same({ "miss", "miss" }, fake.history_cache)
  end)

  it("spares a deeper page the count, and nothing else, while the generation stands", function()
    total = 120
    local first = history(1, 50)
    assert.equal(1, counted)
    local second = history(1, 50)
    assert.equal(1, counted, "the count is kept")
    assert.equal(1, uncounted, "the rows are read again")
    assert.same(first, second)
    assert.equal(120, second.totalElements)
    assert.equal(70, second.content[1].id)
    assert.equal(50, second.numberOfElements)
  end)

  it("reads a page that follows one it read after that one's last message, not by offset", function()
    total = 120
    assert.equal(71, history(0, 50).content[50].id)
    local second = history(1, 50)
    assert.same({ { ROOM, 50, 71, n = 3 } }, keyset, "page 1 starts after message 71")
    assert.equal(0, uncounted)
    assert.same({ 70, 21 }, { second.content[1].id, second.content[50].id })
    assert.same({ 120, 1, 50, 50 }, { second.totalElements, second.number, second.numberOfElements, second.pageable.offset })
    local third = history(2, 50)
    assert.same({ ROOM, 50, 21, n = 3 }, keyset[2])
    assert.same({ 20, 1, 20, true }, { third.content[1].id, third.content[20].id, third.numberOfElements, third.last })
    assert.equal(0, uncounted, "no page was read by offset")
    assert.same({ "miss", "keyset", "keyset" }, fake.history_cache)
    -- The same pages by offset, as a mixed fleet reads them: equal texts.
    history_cache.clear()
    local _, by_offset = history(2, 50)
    assert.equal(2, #keyset, "the bounds went with the entry")
    assert.same(third, json.decode(by_offset))
  end)

  it("reads by offset when a page read after its bound disagrees with the count", function()
    total = 120
    history(0, 50)
    fake.on_sql("%(m%.created_at, m%.id%) < %(SELECT", function(params)
      keyset[#keyset + 1] = params
      return {} -- message 71 is gone (deleted outside chatd)
    end)
    local second = history(1, 50)
    assert.equal(1, #keyset)
    assert.equal(1, uncounted, "read again by offset")
    assert.same({ 70, 50 }, { second.content[1].id, second.numberOfElements })
  end)

  it("forgets where pages end once the generation moves, and with another order", function()
    total = 120
    history(0, 50)
    fake.on_sql("INSERT INTO chat_messages", function() return { { id = 121, created_at = 1736400900 } } end)
    total = 121
    assert.is_table(messages.store(ROOM, 5, "n", "m121", "CHAT", 5))
    local second = history(1, 50)
    assert.same({}, keyset, "the bound learned before the write is not used")
    assert.equal(71, second.content[1].id)
    history(0, 50)
    local text = messages.history(ROOM, 1, 50, messages.parse_sort { "id,asc" })
    assert.is_string(text)
    assert.same({}, keyset, "a page in another order is read by offset")
  end)

  it("keeps each size and order of the newest page apart", function()
    local fifty = history(0, 50)
    local two = history(0, 2)
    assert.equal(3, #fifty.content)
    assert.equal(2, #two.content)
    assert.equal(2, two.size)
    local again = history(0, 2)
    assert.same(two, again)
  end)

  it("answers an unknown room 404 and keeps nothing for it", function()
    fake.on_sql("CROSS JOIN LATERAL %(SELECT count", function() return {} end)
    for _ = 1, 2 do
      local text, err = messages.history(ROOM, 0, 50, messages.parse_sort(nil))
      assert.is_nil(text)
      assert.equal("room_not_found", err.code)
    end
    assert.equal(0, history_cache.bytes())
  end)

  it("reads PostgreSQL every time while Redis does not answer, and answers the same", function()
    local _, text = history()
    fake.redis_down = true
    local _, again = history()
    local _, third = history()
    assert.equal(text, again)
    assert.equal(text, third)
    assert.same({ "miss", "bypass", "bypass" }, fake.history_cache)
  end)

  it("does not trust the generation of a room whose invalidation failed here until it goes through", function()
    history()
    fake.redis_fail.INCR = true
    fake.on_sql("INSERT INTO chat_messages", function() return { { id = 4, created_at = 1736400700 } } end)
    total = 4
    assert.is_table(messages.store(ROOM, 5, "n", "m4", "CHAT", 5))
    assert.equal(4, history().totalElements, "the kept page is not served")
    fake.redis_fail.INCR = nil
    assert.equal(4, history().totalElements)
    assert.same({ "miss", "bypass", "miss" }, fake.history_cache)
    assert.equal("1", fake.redis_data[GEN], "the invalidation went through first")
  end)

  it("is not used in a mixed fleet, where original pods write without moving the generation", function()
    fake = require("fake_chat").install()
    fake.chat.config.mixed_fleet = true
    messages = require "chat.domain.messages"
    fake.on_sql("CROSS JOIN LATERAL %(SELECT count", function(params) return rows_of(3, page_ids(params)) end)
    history()
    history()
    assert.same({ "bypass", "bypass" }, fake.history_cache)
    assert.is_false(fake.redis_called("GET"))
  end)

  it("forgets everything when the Redis link comes back, and retries failed invalidations", function()
    history()
    assert.is_true(history_cache.bytes() > 0)
    fake.redis_fail.INCR = true
    read_marks.invalidate(9)
    fake.redis_fail.INCR = nil
    require("chat.stomp").redis_restored()
    assert.equal(0, history_cache.bytes())
    assert.equal("1", fake.redis_data["chat:unread:gen:9"])
    history()
    assert.same({ "miss", "miss" }, fake.history_cache)
  end)

  it("stays within its budget, the least recently read room going first", function()
    local _, text = history()
    history_cache.BUDGET_BYTES = 3 * (#text + 256)
    history_cache.clear()
    for room = 1, 3 do
      assert.is_string(messages.history(room, 0, 50, messages.parse_sort(nil)))
    end
    assert.is_string(messages.history(1, 0, 50, messages.parse_sort(nil))) -- room 1 read again
    assert.is_string(messages.history(4, 0, 50, messages.parse_sort(nil))) -- room 2 goes
    assert.is_true(history_cache.bytes() <= history_cache.BUDGET_BYTES)
    fake.history_cache = {}
    for _, room in ipairs { 1, 3, 4, 2 } do messages.history(room, 0, 50, messages.parse_sort(nil)) end
    assert.same({ "hit", "hit", "hit", "miss" }, fake.history_cache)
  end)
end)
