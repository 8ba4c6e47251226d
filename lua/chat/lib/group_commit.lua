--[[ Group commit: requests that arrive while earlier ones are being written share one
statement. Under light load every request runs at once, alone (no added latency); once
`max_in_flight` batches are running, new requests queue, and the next batch takes all of
them (up to `max_batch`) in one round trip and one commit. This is what lets PostgreSQL
keep up with thousands of chat messages a second: per-statement and per-commit costs are
paid once per batch.

  local batcher = group_commit.new(run_batch, { max_in_flight = 2, max_batch = 200 })
  local a, b = batcher:submit(item)

run_batch(items) gets a list of items and returns a list of results, each a table of the
values submit() returns for that item ({ value } or { nil, err }). If run_batch raises an
error, every item of the batch gets nil and that error. ]]

local chat = require "chat.core"

local unpack = table.unpack

local M = {}

local Batcher = {}
Batcher.__index = Batcher

function M.new(run_batch, options)
  options = options or {}
  return setmetatable({
    run_batch = run_batch,
    max_in_flight = options.max_in_flight or 2,
    max_batch = options.max_batch or 200,
    queue = {},
    running = 0,
  }, Batcher)
end

-- Takes up to max_batch entries from the head of the queue.
local function take(self)
  local queue, n = self.queue, math.min(#self.queue, self.max_batch)
  local batch = table.move(queue, 1, n, 1, {})
  table.move(queue, n + 1, #queue + n, 1) -- shift the rest down (the tail becomes nil)
  return batch
end

local function run(self, batch)
  local items = {}
  for i, entry in ipairs(batch) do items[i] = entry.item end
  local ok, results = pcall(self.run_batch, items)
  for i, entry in ipairs(batch) do
    entry.result = ok and results[i] or { nil, tostring(results) }
    entry.done = true
    if entry.task then chat.wake(entry.task) end
  end
end

-- Runs batches until `own` is done, then hands this running slot to the oldest waiting
-- follower, if any, so a queue never waits for a request that is not coming.
local function lead(self, own)
  while not own.done do
    local batch = take(self)
    if #batch > 0 then
      run(self, batch)
    else
      -- Another leader's statement holds our item: it wakes us when it is stored.
      own.task = chat.task_id()
      chat.wait()
    end
  end
  for _, entry in ipairs(self.queue) do
    if entry.follower and not entry.lead then
      entry.lead = true
      chat.wake(entry.task)
      return
    end
  end
  self.running = self.running - 1
end

function Batcher:submit(item)
  local entry = { item = item }
  self.queue[#self.queue + 1] = entry
  if self.running < self.max_in_flight then
    self.running = self.running + 1
    lead(self, entry)
  else
    entry.follower = true
    entry.task = chat.task_id()
    chat.wait() -- until a leader stored our item, or handed us its slot
    if entry.lead then lead(self, entry) end
  end
  return unpack(entry.result)
end

return M
