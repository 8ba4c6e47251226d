describe("chat.router", function()
  local router, web, compiled
  local function h() return 200, "" end
  before_each(function()
    require("fake_chat").install()
    router = require "chat.router"
    web = require "chat.web"
    compiled = router.compile {
      { "/api/chat/rooms", { POST = h } },
      { "/api/chat/rooms/{chatRoomId}/join", { POST = h } },
      { "/api/chat/rooms/study/{studyId}", { GET = h } },
    }
  end)

  it("matches paths and converts numeric path variables", function()
    local handler, params = router.match(compiled, "POST", "/api/chat/rooms/12/join")
    assert.equal(h, handler)
    assert.same({ chatRoomId = 12 }, params)
  end)

  it("answers 405 with Allow for a known path and another method", function()
    local handler, failure, headers = router.match(compiled, "GET", "/api/chat/rooms/12/join")
    assert.is_nil(handler)
    assert.equal(405, failure.status)
    assert.same({ Allow = "POST" }, headers)
  end)

  it("answers 404 for unknown paths and 400 for non-numeric ids", function()
    assert.equal(404, select(2, router.match(compiled, "GET", "/nope")).status)
    assert.equal(404, select(2, router.match(compiled, "POST", "/api/chat/rooms/1/join/x")).status)
    assert.equal(400, select(2, router.match(compiled, "GET", "/api/chat/rooms/study/x1")).status)
  end)

  it("refuses route tables without handlers", function()
    assert.has_error(function() router.compile { { "/x", { GET = "not a function" } } } end)
    assert.has_error(function() router.compile { { "/x", {} } } end)
    assert.is_true(web.is_failure(web.fail(400, "x")))
  end)
end)
