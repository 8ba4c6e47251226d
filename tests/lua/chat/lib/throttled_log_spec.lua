describe("chat.lib.throttled_log", function()
  local fake, throttled_log
  before_each(function()
    fake = require("fake_chat").install()
    throttled_log = require "chat.lib.throttled_log"
  end)

  local function lines(level)
    local out = {}
    for _, l in ipairs(fake.logs) do
      if l[1] == level then out[#out + 1] = l[2] end
    end
    return out
  end

  it("writes the first `burst` lines of a window and counts the rest into the next line written", function()
    local log = throttled_log.new("warn", 3, 10)
    for i = 1, 50 do log("bad input %d", i) end
    assert.same({ "bad input 1", "bad input 2", "bad input 3" }, lines("warn"))
    fake.clock = fake.clock + 10
    log("bad input %d", 51)
    assert.equal("bad input 51 (47 more like this were not logged before this one)", lines("warn")[4])
    log("bad input %d", 52)
    assert.equal("bad input 52", lines("warn")[5])
  end)

  it("keeps call sites apart, and logs at the level asked for", function()
    local a, b = throttled_log.new("warn", 1, 10), throttled_log.new("info", 1, 10)
    for _ = 1, 5 do a("from a") end
    b("from b")
    assert.same({ "from a" }, lines("warn"))
    assert.same({ "from b" }, lines("info"))
  end)

  it("bounds a flood of malformed chat:messages to a burst per window (issue 15)", function()
    local stomp = require "chat.stomp"
    for i = 1, 1000 do stomp.redis_message("chat:messages", "not json " .. i) end
    assert.equal(throttled_log.DEFAULT_BURST, #lines("warn"))
    assert.equal(0, #fake.broadcasts)
  end)
end)
