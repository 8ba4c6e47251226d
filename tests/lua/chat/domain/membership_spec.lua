-- Who is an active member of a room (chat/domain/membership.lua): the rules every send, read mark
-- and access check relies on. A change to what "active" means fails here.
describe("chat.domain.membership", function()
  local fake, membership
  before_each(function()
    fake = require("fake_chat").install()
    membership = require "chat.domain.membership"
  end)

  it("is active only for a member who has not left, in one statement with the room and member", function()
    local asked
    fake.on_sql("FROM chat_room_members", function(params, sql)
      asked = { sql = sql, params = params }
      return params[2] == 7 and { { ok = 1 } } or {}
    end)
    assert.is_true(membership.is_active(1, 7))
    assert.is_false(membership.is_active(1, 8))
    assert.matches("left_at IS NULL", asked.sql)
    assert.same({ 1, 8, n = 2 }, asked.params)
  end)

  it("says false, not an error, when the database cannot answer", function()
    fake.pg_down()
    assert.is_false(membership.is_active(1, 7))
  end)

  it("tells a missing room from a missing member in one round trip", function()
    fake.on_sql("EXISTS", function(params)
      return { { room = params[1] == 1, member = params[1] == 1 and params[2] == 7 } }
    end)
    assert.same({ room = true, member = true }, membership.of(1, 7))
    assert.same({ room = true, member = false }, membership.of(1, 8))
    assert.same({ room = false, member = false }, membership.of(2, 7))
    assert.equal(3, #fake.pg_calls)
  end)

  it("returns the database's error when the database is down", function()
    fake.pg_down("08006")
    local row, failure = membership.of(1, 7)
    assert.is_nil(row)
    assert.equal("db_unavailable", failure.code)
  end)
end)
