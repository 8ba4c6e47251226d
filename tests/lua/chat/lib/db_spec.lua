describe("chat.lib.db", function()
  local db, fake
  before_each(function()
    fake = require("fake_chat").install()
    db = require "chat.lib.db"
  end)

  -- chat.db again, after the configuration changed (the zone is read when it loads).
  local function reload_with(zone)
    fake.chat.config.db_time_zone = zone
    package.loaded["chat.lib.db"] = nil
    return require "chat.lib.db"
  end

  describe("timestamps", function()
    it("turns an instant from PostgreSQL into Jackson's LocalDateTime text in the process's zone", function()
      -- The fake's process zone is UTC: 1736400600 is 2025-01-09T05:30:00Z.
      assert.equal("2025-01-09T05:30:00.123456", db.iso(1736400600.123456))
      assert.equal("2025-01-09T05:30:00.12", db.iso(1736400600.12))
      assert.equal("2025-01-09T05:30:00.5", db.iso(1736400600.5))
      assert.equal("2025-01-09T05:30:00", db.iso(1736400600))
      assert.equal("2025-01-09T05:30:00", db.iso(1736400600.0))
    end)

    it("gives nil for anything but a number (the old text form included)", function()
      assert.is_nil(db.iso(nil))
      assert.is_nil(db.iso("2025-01-09T14:30:00.123456"))
      assert.is_nil(db.iso("1736400600"))
      assert.is_nil(db.iso(fake.null))
    end)

    it("selects a column as seconds since the epoch, read as wall-clock time in Asia/Seoul", function()
      assert.equal("Asia/Seoul", db.ZONE)
      assert.equal("extract(epoch FROM (r.created_at) AT TIME ZONE 'Asia/Seoul') AS created_at",
        db.timestamp("r.created_at", "created_at"))
      assert.equal("extract(epoch FROM (s.created_at) AT TIME ZONE 'Asia/Seoul') AS joined",
        db.timestamp("s.created_at", "joined"))
    end)

    it("stamps rows with the wall-clock time of Asia/Seoul", function()
      -- 2025-01-09T05:30:00.25Z is 14:30:00.25 in Seoul (+09:00).
      fake.clock = 1736400600.25
      assert.equal("2025-01-09T14:30:00.25", db.now())
      fake.clock = 1736400600
      assert.equal("2025-01-09T14:30:00", db.now())
      -- Seoul's date changes at 15:00Z.
      fake.clock = 1736434800
      assert.equal("2025-01-10T00:00:00", db.now())
    end)

    it("takes its zone from chat.config.db_time_zone, Asia/Seoul when unset", function()
      local utc = reload_with("UTC")
      assert.equal("UTC", utc.ZONE)
      assert.equal("2025-01-09T05:30:00.5", utc.now())
      assert.equal("extract(epoch FROM (created_at) AT TIME ZONE 'UTC') AS created_at",
        utc.timestamp("created_at", "created_at"))

      local sao_paulo = reload_with("America/Sao_Paulo")
      assert.equal("2025-01-09T02:30:00.5", sao_paulo.now())
      assert.equal("extract(epoch FROM (created_at) AT TIME ZONE 'America/Sao_Paulo') AS created_at",
        sao_paulo.timestamp("created_at", "created_at"))

      local offset = reload_with("+09:00")
      assert.equal("extract(epoch FROM (created_at) AT TIME ZONE INTERVAL '+09:00') AS created_at",
        offset.timestamp("created_at", "created_at"))

      local default = reload_with(nil)
      assert.equal("Asia/Seoul", default.ZONE)
      assert.equal("2025-01-09T14:30:00.5", default.now())
    end)

    it("names a zone to PostgreSQL: UTC, an offset as an interval (never as POSIX text), or a region", function()
      assert.equal("'UTC'", db.zone_sql("UTC"))
      assert.equal("'UTC'", db.zone_sql("GMT"))
      assert.equal("'UTC'", db.zone_sql("Z"))
      assert.equal("INTERVAL '+09:00'", db.zone_sql("+09:00"))
      assert.equal("INTERVAL '+09:30'", db.zone_sql("+0930"))
      assert.equal("INTERVAL '-03:00'", db.zone_sql("-03"))
      assert.equal("INTERVAL '-03:30'", db.zone_sql("-03:30"))
      assert.equal("INTERVAL '+00:00'", db.zone_sql("+00:00"))
      assert.equal("'Asia/Seoul'", db.zone_sql("Asia/Seoul"))
      assert.equal("'America/Sao_Paulo'", db.zone_sql("America/Sao_Paulo"))
      assert.equal("'Etc/GMT-9'", db.zone_sql("Etc/GMT-9"))
    end)
  end)

  describe("failures", function()
    it("classifies an unreachable database as db_unavailable, logged as a (throttled) warning", function()
      for _, state in ipairs { "08006", "08001", "57P01", "57P02", "57P03" } do
        local err = db.error("gone", state)
        assert.equal("db_unavailable", err.code, state)
        assert.equal("unavailable", err.kind)
        assert.equal("database unavailable", err.text)
        assert.same({ sqlstate = state, message = "gone" }, err.details)
      end
      assert.same({ "warn", "database unavailable (08006): gone" }, fake.logs[1])
    end)

    it("classifies the constraints a caller expects, without logging them", function()
      local unique = db.error("duplicate key value violates unique constraint", "23505")
      assert.equal("db_unique_violation", unique.code)
      assert.equal("conflict", unique.kind)
      local fk = db.error("violates foreign key constraint", "23503")
      assert.equal("db_foreign_key_violation", fk.code)
      assert.equal(0, #fake.logs)
    end)

    it("logs any other failure with its SQLSTATE and hides its text behind 'internal server error'", function()
      local err = db.error("syntax error at or near", "42601")
      assert.equal("internal", err.code)
      assert.equal("internal", err.kind)
      assert.equal("internal server error", err.text)
      assert.same({ "error", "database error 42601: syntax error at or near" }, fake.logs[#fake.logs])
      for _, state in ipairs { "57014", "55P03", "25P03" } do
        assert.equal("db_timeout", db.error("canceling statement due to statement timeout", state).code, state)
      end
      assert.equal("internal", db.error("transaction aborted by an error: boom", "XX000").code)
    end)
  end)

  it("returns one row, false for none, or an error value", function()
    fake.on_sql("FROM a", function() return { { x = 1 } } end)
    fake.on_sql("FROM b", function() return {} end)
    fake.on_sql("FROM c", function() return nil, "gone", "08006" end)
    assert.same({ x = 1 }, db.one("SELECT x FROM a"))
    assert.is_false(db.one("SELECT x FROM b"))
    local row, failure = db.one("SELECT x FROM c")
    assert.is_nil(row)
    assert.equal("db_unavailable", failure.code)
  end)
end)
