describe("chat.read_marks unread cache", function()
  local fake, read_marks, counted
  before_each(function()
    fake = require("fake_chat").install()
    read_marks = require "chat.read_marks"
    counted = 0
    fake.on_sql("SELECT %(SELECT count%(%*%) FROM chat_messages", function()
      counted = counted + 1
      return { { unread = 3 } }
    end)
  end)

  it("counts in PostgreSQL once, then serves the cached count of the same generation", function()
    assert.equal(3, read_marks.unread(1, 2))
    assert.equal("0:3", fake.redis_data["chat:unread:1:2"])
    assert.equal(3, read_marks.unread(1, 2))
    assert.equal(1, counted)
  end)

  it("never serves a count from an older generation", function()
    read_marks.unread(1, 2)
    read_marks.invalidate(1) -- a committed message or read mark
    assert.equal(3, read_marks.unread(1, 2))
    assert.equal(2, counted)
    assert.equal("1:3", fake.redis_data["chat:unread:1:2"])
  end)

  it("stores the generation read before counting, so a write during the count wins", function()
    fake.on_sql("SELECT %(SELECT count%(%*%) FROM chat_messages", function()
      counted = counted + 1
      read_marks.invalidate(1) -- commits while we count
      return { { unread = 3 } }
    end)
    read_marks.unread(1, 2)
    assert.equal("0:3", fake.redis_data["chat:unread:1:2"])
    read_marks.unread(1, 2)
    assert.equal(2, counted, "the value stored during the write was not served")
  end)

  it("falls back to PostgreSQL when Redis is down", function()
    fake.redis_down = true
    assert.equal(3, read_marks.unread(1, 2))
    assert.equal(3, read_marks.unread(1, 2))
    assert.equal(2, counted)
  end)

  it("answers 404 for a non-member and for an unknown room", function()
    fake.on_sql("SELECT %(SELECT count%(%*%) FROM chat_messages", function() return {} end)
    fake.on_sql("FROM chat_rooms WHERE id", function(params) return params[1] == 1 and { { ok = 1 } } or {} end)
    local _, failure = read_marks.unread(1, 9)
    assert.equal(404, failure.status)
    assert.matches("not an active member", failure.message)
    _, failure = read_marks.unread(5, 9)
    assert.matches("does not exist", failure.message)
  end)
end)
