--[[ Text that a column can hold: PostgreSQL refuses invalid UTF-8 and the NUL character,
which would otherwise surface as a database error (a 500, a retried Kafka record) for what
is the sender's mistake. Every path that stores client text (REST, STOMP, Kafka) asks here
first and refuses such text itself, with a reason. ]]

local M = {}

-- nil when `s` can be stored; else why not ("is not valid UTF-8", ...), to follow a name.
function M.problem(s)
  if utf8.len(s) == nil then return "is not valid UTF-8" end
  if s:find("\0", 1, true) then return "must not contain a NUL character" end
  return nil
end

return M
