--[[ Small helpers shared by the modules that talk to PostgreSQL: timestamps both ways
(with the time zones the original service used), what a failed statement means (its
SQLSTATE classified into an error value of chat/errors.lua), and queries that return such
values.

  err = db.error(message, sqlstate)   db_unavailable, db_unique_violation,
                                      db_foreign_key_violation, db_timeout or internal
  rows, err = db.query(sql, ...)      rows, or nil and db.error's value
  row, err = db.one(sql, ...)         the first row, false for none, or nil and the error ]]

local chat = require "chat.core"
local errors = require "chat.errors"
local throttled_log = require "chat.lib.throttled_log"

local fmt = string.format

local M = {}

-- Time zones, as the original service has them (CONTRACT §2): the database holds the
-- wall-clock time of SPRING_JPA_PROPERTIES_HIBERNATE_JDBC_TIME_ZONE (Hibernate's
-- jdbc.time_zone, Asia/Seoul in the original), and the wire shows the same instant in the
-- process's own zone (TZ, the JVM's default zone there). A row written by either service
-- therefore reads back identically through the other; rows are never rewritten.
M.ZONE = chat.config.db_time_zone or "Asia/Seoul"

-- The zone as PostgreSQL's AT TIME ZONE operand. A fixed offset goes in as an interval:
-- as text, '+09:00' would be read as a POSIX zone, whose sign is the other way round.
function M.zone_sql(zone)
  if zone == "UTC" or zone == "GMT" or zone == "Z" then return "'UTC'" end
  local sign, hh, mm = zone:match("^([+-])(%d%d):?(%d?%d?)$")
  if sign then return fmt("INTERVAL '%s%s:%s'", sign, hh, mm ~= "" and mm or "00") end
  return "'" .. zone .. "'" -- a region name, checked by the C core at start-up
end

local ZONE_SQL = M.zone_sql(M.ZONE)

-- The current date-time as the database stores it ($n::timestamp): wall-clock time in the
-- database's zone.
function M.now() return chat.localtime(chat.now(), M.ZONE) end

-- A timestamp column, selected as the instant it stands for (seconds since the epoch,
-- microseconds exact); M.iso turns it into wire text.
function M.timestamp(expr, alias)
  return fmt("extract(epoch FROM (%s) AT TIME ZONE %s) AS %s", expr, ZONE_SQL, alias)
end

-- Seconds since the epoch (M.timestamp) -> Jackson's LocalDateTime text in the process's
-- zone: "2025-01-09T14:30:00.123456", the fraction without trailing zeros, none when zero.
function M.iso(epoch)
  if type(epoch) ~= "number" then return nil end
  return chat.localtime(epoch)
end

-- ---- failures ----

-- Whether a chat.pg failure means "PostgreSQL is unreachable" rather than a fault:
-- connection exceptions (class 08), admin shutdown and "cannot connect now".
function M.is_unavailable(sqlstate)
  return type(sqlstate) == "string"
    and (sqlstate:sub(1, 2) == "08" or sqlstate == "57P01" or sqlstate == "57P02" or sqlstate == "57P03")
end

-- Integrity violations a caller may expect (and turn into its own error).
local CONSTRAINTS = { ["23505"] = errors.DB_UNIQUE_VIOLATION, ["23503"] = errors.DB_FOREIGN_KEY_VIOLATION }
-- query_canceled (statement_timeout), lock_not_available (lock_timeout), an idle transaction
-- ended by idle_in_transaction_session_timeout.
local TIMEOUTS = { ["57014"] = true, ["55P03"] = true, ["25P03"] = true }

-- Every request fails the same way while the database is down: throttled.
local log_unavailable = throttled_log.new("warn")

-- The error value of a chat.pg failure, the SQLSTATE and PostgreSQL's message in its
-- details. An unavailable database is logged (throttled) and a fault (anything neither
-- unavailable nor a constraint) at error level here, where the message is known: the
-- client only ever sees the catalogue's text.
function M.error(message, sqlstate)
  local details = { sqlstate = sqlstate, message = message }
  if M.is_unavailable(sqlstate) then
    log_unavailable("database unavailable (%s): %s", tostring(sqlstate), tostring(message))
    return errors.new(errors.DB_UNAVAILABLE):with(details)
  end
  local constraint = CONSTRAINTS[sqlstate]
  if constraint then return errors.new(constraint):with(details) end
  chat.log.error("database error %s: %s", tostring(sqlstate), tostring(message))
  return errors.new(TIMEOUTS[sqlstate] and errors.DB_TIMEOUT or errors.INTERNAL):with(details)
end

-- rows, or nil and an error value (M.error).
function M.query(sql, ...)
  local rows, err, state = chat.pg.query(sql, ...)
  if not rows then return nil, M.error(err, state) end
  return rows
end

-- The first row, false when there is none, or nil and an error value.
function M.one(sql, ...)
  local rows, err = M.query(sql, ...)
  if not rows then return nil, err end
  return rows[1] or false
end

return M
