--[[ HTTP routing. Route tables are keyed by path then method, as Kong's are:

    { ["/api/chat/rooms/{chatRoomId}/join"] = { POST = handler }, ... }

`{name}` is a path variable: one segment, percent-decoded, parsed as a 64-bit integer
(every path variable of the contract is an id) and handed to the handler in
req.path_params. A known path with another method is 405 with an Allow header; OPTIONS
on a known path answers the Allow header, as Spring MVC does; an unknown path is 404.
Paths without variables win over patterns, so a literal segment is never read as an id.

match() also returns the matched route's path pattern, for metrics: requests are counted
by pattern ("/api/chat/rooms/{chatRoomId}/join"), never by raw path, so ids never become
label values. A failure is an error value of chat/errors.lua (no_handler, method_not_allowed,
path_not_long), answered by the REST layer. ]]

local errors = require "chat.errors"
local web = require "chat.lib.web"

local new = errors.new

local fmt, concat, sort = string.format, table.concat, table.sort

local M = {}

local METHODS = { GET = true, HEAD = true, POST = true, PUT = true, PATCH = true, DELETE = true, OPTIONS = true }

local function compile_path(path)
  assert(type(path) == "string" and path:sub(1, 1) == "/", fmt("route path %s must start with /", tostring(path)))
  local names = {}
  local pattern = path:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"):gsub("{(%w+)}", function(name)
    names[#names + 1] = name
    return "([^/]+)"
  end)
  assert(not pattern:find("[{}]"), fmt("route path %s has a malformed variable", path))
  return "^" .. pattern .. "$", names
end

-- Merges route tables into a matching list; raises on a malformed entry (a path without
-- methods, a method without a handler function, the same path and method twice).
function M.compile(tables)
  local by_path = {}
  for t, routes in ipairs(tables) do
    assert(type(routes) == "table", fmt("route table %d is not a table", t))
    for path, methods in pairs(routes) do
      assert(type(methods) == "table" and next(methods) ~= nil, fmt("route %s has no methods", tostring(path)))
      local entry = by_path[path]
      if not entry then
        entry = { methods = {} }
        by_path[path] = entry
      end
      for method, handler in pairs(methods) do
        assert(METHODS[method], fmt("route %s: unknown method %s", path, tostring(method)))
        assert(type(handler) == "function", fmt("%s %s has no handler function", method, path))
        assert(entry.methods[method] == nil, fmt("%s %s is defined twice", method, path))
        entry.methods[method] = handler
      end
    end
  end
  local compiled = {}
  for path, entry in pairs(by_path) do
    local pattern, names = compile_path(path)
    local allow = {}
    for method in pairs(entry.methods) do allow[#allow + 1] = method end
    sort(allow)
    compiled[#compiled + 1] = { path = path, pattern = pattern, names = names, methods = entry.methods,
                                allow = concat(allow, ", ") }
  end
  sort(compiled, function(a, b)
    if #a.names ~= #b.names then return #a.names < #b.names end
    return a.path < b.path
  end)
  return compiled
end

local function options_allow(route)
  local allow = {}
  for method in pairs(route.methods) do allow[#allow + 1] = method end
  if route.methods.GET and not route.methods.HEAD then allow[#allow + 1] = "HEAD" end
  allow[#allow + 1] = "OPTIONS"
  sort(allow)
  return concat(allow, ", ")
end

local function options_handler(allow)
  return function() return 200, "", { Allow = allow } end
end

-- Returns handler, path params, nil, route pattern; or nil, an error value, extra headers,
-- route pattern (nil when no route matched: 404).
function M.match(compiled, method, path)
  for _, route in ipairs(compiled) do
    local captures = { path:match(route.pattern) }
    if captures[1] ~= nil then
      local handler = route.methods[method] or (method == "HEAD" and route.methods.GET)
      if not handler and method == "OPTIONS" then handler = options_handler(options_allow(route)) end
      if not handler then
        return nil, new(errors.METHOD_NOT_ALLOWED, method, path), { Allow = route.allow }, route.path
      end
      local params = {}
      for i, name in ipairs(route.names) do
        -- With no variables, the whole match comes back as the only capture.
        local raw = captures[i]
        local n = web.parse_long(web.unescape(raw, false))
        if n == nil then
          return nil, new(errors.PATH_NOT_LONG, name, raw:sub(1, 40)), nil, route.path
        end
        params[name] = n
      end
      return handler, params, nil, route.path
    end
  end
  return nil, new(errors.NO_HANDLER, method, path)
end

return M
