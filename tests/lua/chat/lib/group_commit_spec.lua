-- Group commit under a tiny cooperative scheduler: chat.wait yields the coroutine,
-- chat.wake queues it, and run_batch "does I/O" by yielding until the test completes it.
describe("chat.lib.group_commit", function()
  local group_commit, ready, waiting, io_pending, calls

  local function step()
    while #ready > 0 do
      local item = table.remove(ready, 1)
      assert(coroutine.resume(item.co, table.unpack(item.args)))
    end
  end

  local function finish_io()
    local pending = io_pending
    io_pending = {}
    for _, co in ipairs(pending) do ready[#ready + 1] = { co = co, args = {} } end
    step()
  end

  before_each(function()
    ready, waiting, io_pending, calls = {}, {}, {}, {}
    package.loaded["chat.core"] = {
      task_id = function() return coroutine.running() end,
      wait = function()
        waiting[coroutine.running()] = true
        return coroutine.yield()
      end,
      wake = function(co, ...)
        if not waiting[co] then return false end
        waiting[co] = nil
        ready[#ready + 1] = { co = co, args = { ... } }
        return true
      end,
    }
    package.loaded["chat.lib.group_commit"] = nil
    group_commit = require "chat.lib.group_commit"
  end)

  local function batcher(max_in_flight, fail)
    return group_commit.new(function(items)
      calls[#calls + 1] = items
      io_pending[#io_pending + 1] = coroutine.running()
      coroutine.yield()
      if fail then error("boom") end
      local results = {}
      for i, v in ipairs(items) do results[i] = { v * 10 } end
      return results
    end, { max_in_flight = max_in_flight, max_batch = 3 })
  end

  local function spawn(b, value, out)
    local co = coroutine.create(function() out[value] = { b:submit(value) } end)
    ready[#ready + 1] = { co = co, args = {} }
  end

  it("runs alone under light load and batches what queues behind a running statement", function()
    local b, out = batcher(1), {}
    for v = 1, 5 do spawn(b, v, out) end
    step()
    assert.same({ { 1 } }, calls)      -- the first went at once, the others wait
    finish_io()
    assert.same({ 2, 3, 4 }, calls[2]) -- the next leader took the queue, up to max_batch
    finish_io()
    assert.same({ 5 }, calls[3])
    finish_io()
    for v = 1, 5 do assert.same({ v * 10 }, out[v]) end
    assert.equal(0, b.running)
    assert.equal(0, #b.queue)
  end)

  it("keeps max_in_flight statements running at once", function()
    local b, out = batcher(2), {}
    for v = 1, 4 do spawn(b, v, out) end
    step()
    assert.same({ { 1 }, { 2 } }, calls)
    finish_io()
    assert.same({ 3, 4 }, calls[3])
    finish_io()
    for v = 1, 4 do assert.same({ v * 10 }, out[v]) end
    assert.equal(0, b.running)
  end)

  it("gives every item of a failed batch the error", function()
    local b, out = batcher(1, true), {}
    for v = 1, 3 do spawn(b, v, out) end
    step()
    finish_io()
    finish_io()
    for v = 1, 3 do
      assert.is_nil(out[v][1])
      assert.matches("boom", out[v][2])
    end
    assert.equal(0, b.running)
  end)
end)
