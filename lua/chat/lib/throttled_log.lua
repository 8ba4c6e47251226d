--[[ Log lines that anyone can make us write over and over (a malformed message on a shared
channel, a refused request, a warning per request while a dependency is down) go through a
throttle: in each window of `window` seconds the first `burst` lines of a call site are
written, the rest are only counted, and the next line written says how many were held back.
A flood therefore costs a bounded number of lines, and nothing is lost from view: the count
says it happened. One throttle per call site, so one noisy cause cannot silence another. ]]

local chat = require "chat.core"

local fmt = string.format

local M = {}

M.DEFAULT_BURST = 20
M.DEFAULT_WINDOW = 10

-- A logging function for one call site: log(fmt, ...) at `level` ("info", "warn", "error").
function M.new(level, burst, window)
  burst, window = burst or M.DEFAULT_BURST, window or M.DEFAULT_WINDOW
  local write = assert(chat.log[level], "no log level " .. tostring(level))
  local window_start, written, held = -math.huge, 0, 0
  return function(message, ...)
    local now = chat.now()
    if now - window_start >= window then
      window_start, written = now, 0
    end
    if written >= burst then
      held = held + 1
      return
    end
    written = written + 1
    local line = fmt(message, ...)
    if held > 0 then
      line = fmt("%s (%d more like this were not logged before this one)", line, held)
      held = 0
    end
    write("%s", line)
  end
end

return M
