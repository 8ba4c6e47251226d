--[[ Routes keyed by path pattern then method (as Kong's router tables): a known path
with another method is 405 with an Allow header, an unknown path 404. Patterns use
{name} for a numeric path segment, handed to the handler as an integer. ]]

local web = require "chat.web"

local fmt = string.format

local M = {}

-- routes: array of { "/api/chat/rooms/{chatRoomId}/join", { POST = handler } }
function M.compile(routes)
  local compiled = {}
  for i, route in ipairs(routes) do
    local pattern, methods = route[1], route[2]
    assert(type(pattern) == "string", fmt("route %d has no path", i))
    assert(type(methods) == "table" and next(methods), fmt("route %s has no methods", pattern))
    local names = {}
    local lua_pattern = "^" .. pattern:gsub("[%-%.]", "%%%0"):gsub("{(%w+)}", function(name)
      names[#names + 1] = name
      return "([^/]+)"
    end) .. "$"
    local allow = {}
    for method, handler in pairs(methods) do
      assert(type(handler) == "function", fmt("%s %s has no handler function", method, pattern))
      allow[#allow + 1] = method
    end
    table.sort(allow)
    compiled[#compiled + 1] = { pattern = lua_pattern, names = names, methods = methods,
                                allow = table.concat(allow, ", "), path = pattern }
  end
  return compiled
end

-- Returns handler, path params (or a Failure), extra headers.
function M.match(compiled, method, path)
  for _, route in ipairs(compiled) do
    local captures = { path:match(route.pattern) }
    if captures[1] ~= nil or (#route.names == 0 and path:match(route.pattern)) then
      local handler = route.methods[method] or (method == "HEAD" and route.methods.GET)
      if not handler then
        return nil, web.fail(405, fmt("method %s is not supported for %s", method, path)),
               { Allow = route.allow }
      end
      local params = {}
      for i, name in ipairs(route.names) do
        local n = web.parse_long(captures[i])
        if n == nil then
          return nil, web.fail(400, fmt("path variable '%s' must be a 64-bit integer, got '%s'", name, captures[i]))
        end
        params[name] = n
      end
      return handler, params
    end
  end
  return nil, web.fail(404, "no handler for " .. method .. " " .. path)
end

return M
