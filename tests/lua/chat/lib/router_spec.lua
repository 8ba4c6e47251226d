describe("chat.lib.router", function()
  local router, compiled
  local function h() return 200, "" end
  local function g() return 200, "" end
  before_each(function()
    require("fake_chat").install()
    router = require "chat.lib.router"
    compiled = router.compile {
      { ["/api/chat/rooms"] = { POST = h },
        ["/api/chat/rooms/member"] = { POST = g },
        ["/api/chat/rooms/{chatRoomId}/join"] = { POST = h } },
      { ["/api/chat/rooms/study/{studyId}"] = { GET = g },
        ["/api/chat/rooms/{chatRoomId}/messages"] = { GET = g } },
    }
  end)

  it("matches paths from several tables and converts path variables to integers", function()
    local handler, params = router.match(compiled, "POST", "/api/chat/rooms/12/join")
    assert.equal(h, handler)
    assert.same({ chatRoomId = 12 }, params)
    assert.equal("integer", math.type(params.chatRoomId))
    handler, params = router.match(compiled, "GET", "/api/chat/rooms/study/9223372036854775807")
    assert.equal(g, handler)
    assert.same({ studyId = math.maxinteger }, params)
    handler, params = router.match(compiled, "POST", "/api/chat/rooms")
    assert.equal(h, handler)
    assert.same({}, params)
  end)

  it("names the matched route pattern, never the raw path, for the metrics", function()
    assert.equal("/api/chat/rooms/{chatRoomId}/join", select(4, router.match(compiled, "POST", "/api/chat/rooms/12/join")))
    assert.equal("/api/chat/rooms/{chatRoomId}/join", select(4, router.match(compiled, "GET", "/api/chat/rooms/12/join")))
    assert.equal("/api/chat/rooms/study/{studyId}", select(4, router.match(compiled, "GET", "/api/chat/rooms/study/x")))
    assert.equal("/api/chat/rooms", select(4, router.match(compiled, "POST", "/api/chat/rooms")))
    assert.is_nil(select(4, router.match(compiled, "GET", "/api/chat/rooms/12/nope")))
  end)

  it("prefers literal paths to variables", function()
    local extra = router.compile { { ["/api/chat/rooms/{chatRoomId}"] = { POST = h },
                                     ["/api/chat/rooms/member"] = { POST = g } } }
    assert.equal(g, (router.match(extra, "POST", "/api/chat/rooms/member")))
    assert.equal(h, (router.match(extra, "POST", "/api/chat/rooms/5")))
  end)

  it("percent-decodes path variables", function()
    local _, params = router.match(compiled, "POST", "/api/chat/rooms/%31%32/join")
    assert.same({ chatRoomId = 12 }, params)
  end)

  it("refuses another method of a known path (method_not_allowed, 405 over REST) with Allow", function()
    local handler, failure, headers = router.match(compiled, "GET", "/api/chat/rooms/12/join")
    assert.is_nil(handler)
    assert.equal("method_not_allowed", failure.code)
    assert.equal("request method 'GET' is not supported for /api/chat/rooms/12/join", failure.text)
    assert.same({ Allow = "POST" }, headers)
    assert.equal("method_not_allowed", select(2, router.match(compiled, "DELETE", "/api/chat/rooms")).code)
  end)

  it("serves HEAD with the GET handler and answers OPTIONS with Allow", function()
    assert.equal(g, (router.match(compiled, "HEAD", "/api/chat/rooms/study/1")))
    local handler = router.match(compiled, "OPTIONS", "/api/chat/rooms/study/1")
    local status, body, headers = handler()
    assert.equal(200, status)
    assert.equal("", body)
    assert.equal("GET, HEAD, OPTIONS", headers.Allow)
  end)

  it("refuses unknown paths (no_handler) and path variables that are not longs (path_not_long)", function()
    local _, failure = router.match(compiled, "GET", "/nope")
    assert.equal("no_handler", failure.code)
    assert.equal("no handler for GET /nope", failure.text)
    assert.equal("no_handler", select(2, router.match(compiled, "POST", "/api/chat/rooms/1/join/x")).code)
    assert.equal("no_handler", select(2, router.match(compiled, "POST", "/api/chat/rooms/")).code)
    assert.equal("no_handler", select(2, router.match(compiled, "POST", "/api/chat/rooms//join")).code)
    local _, bad = router.match(compiled, "GET", "/api/chat/rooms/study/x1")
    assert.equal("path_not_long", bad.code)
    assert.equal("path variable 'studyId' must be a 64-bit integer, got 'x1'", bad.text)
    assert.equal("path_not_long", select(2, router.match(compiled, "GET", "/api/chat/rooms/study/9223372036854775808")).code)
  end)

  it("refuses malformed route tables", function()
    assert.has_error(function() router.compile { { ["/x"] = { GET = "not a function" } } } end)
    assert.has_error(function() router.compile { { ["/x"] = {} } } end)
    assert.has_error(function() router.compile { { ["/x"] = { FETCH = h } } } end)
    assert.has_error(function() router.compile { { ["x"] = { GET = h } } } end)
    assert.has_error(function() router.compile { { ["/x/{id"] = { GET = h } } } end)
    assert.has_error(function() router.compile { { ["/x"] = { GET = h } }, { ["/x"] = { GET = g } } } end)
    assert.has_no_error(function() router.compile { { ["/x"] = { GET = h } }, { ["/x"] = { POST = g } } } end)
  end)

  it("escapes pattern characters in literal paths", function()
    local c = router.compile { { ["/v3/api-docs"] = { GET = h } } }
    assert.equal(h, (router.match(c, "GET", "/v3/api-docs")))
    assert.is_nil((router.match(c, "GET", "/v3/apiXdocs")))
  end)
end)
