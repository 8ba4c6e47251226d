describe("chat.db", function()
  local db, fake
  before_each(function()
    fake = require("fake_chat").install()
    db = require "chat.db"
  end)

  it("turns PostgreSQL timestamps into Jackson's LocalDateTime text", function()
    assert.equal("2025-01-09T14:30:00.123456", db.iso("2025-01-09T14:30:00.123456"))
    assert.equal("2025-01-09T14:30:00.12", db.iso("2025-01-09T14:30:00.120000"))
    assert.equal("2025-01-09T14:30:00", db.iso("2025-01-09T14:30:00.000000"))
    assert.equal("2025-01-09T14:30:00.5", db.iso("2025-01-09 14:30:00.5"))
    assert.equal("2025-01-09T14:30:00", db.iso("2025-01-09 14:30:00"))
    assert.is_nil(db.iso(nil))
  end)

  it("selects timestamps independently of DateStyle", function()
    assert.equal([[to_char(r.created_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS created_at]],
      db.timestamp("r.created_at", "created_at"))
  end)

  it("stamps rows with chat.localtime(chat.now())", function()
    fake.clock = 1736433000.25
    assert.equal("2025-01-09T14:30:00.25", db.now())
  end)

  it("returns one row, false for none, or a failure", function()
    fake.on_sql("FROM a", function() return { { x = 1 } } end)
    fake.on_sql("FROM b", function() return {} end)
    fake.on_sql("FROM c", function() return nil, "gone", "08006" end)
    assert.same({ x = 1 }, db.one("SELECT x FROM a"))
    assert.is_false(db.one("SELECT x FROM b"))
    local row, failure = db.one("SELECT x FROM c")
    assert.is_nil(row)
    assert.equal(503, failure.status)
  end)
end)
