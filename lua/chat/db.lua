--[[ Small helpers shared by the modules that talk to PostgreSQL: timestamps both ways
(with the time zones the original service used), and one-row queries with the failure
mapping of web.db_failure. ]]

local chat = require "chat.core"
local web = require "chat.web"

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

-- rows, or nil and a failure (503/500).
function M.query(sql, ...)
  local rows, err, state = chat.pg.query(sql, ...)
  if not rows then return nil, web.db_failure(err, state) end
  return rows
end

-- The first row, false when there is none, or nil and a failure.
function M.one(sql, ...)
  local rows, failure = M.query(sql, ...)
  if not rows then return nil, failure end
  return rows[1] or false
end

return M
