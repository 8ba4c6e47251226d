--[[ Small helpers shared by the modules that talk to PostgreSQL: timestamps both ways,
and one-row queries with the failure mapping of web.db_failure. ]]

local chat = require "chat.core"
local web = require "chat.web"

local fmt = string.format

local M = {}

-- The current local date-time as the app stores it ($n::timestamp) and Jackson writes a
-- LocalDateTime: "2025-01-09T14:30:00.123456" in the process's TZ.
function M.now() return chat.localtime(chat.now()) end

-- A timestamp column as text independent of the session's DateStyle:
-- "2025-01-09T14:30:00.123000"; M.iso trims the fraction.
function M.timestamp(expr, alias)
  return fmt([[to_char(%s, 'YYYY-MM-DD"T"HH24:MI:SS.US') AS %s]], expr, alias)
end

-- PostgreSQL text ("2025-01-09 14:30:00.123" or the to_char form above) -> Jackson's
-- LocalDateTime text: a 'T', the fraction without trailing zeros, none when zero.
function M.iso(ts)
  if type(ts) ~= "string" then return nil end
  ts = ts:gsub("^(%d+%-%d%d%-%d%d) ", "%1T", 1)
  local head, frac = ts:match("^(.-)%.(%d+)$")
  if head then
    frac = frac:gsub("0+$", "")
    ts = frac == "" and head or head .. "." .. frac
  end
  return ts
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
