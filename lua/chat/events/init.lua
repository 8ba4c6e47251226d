--[[ Kafka topics the service consumes (CONTRACT §6): topic -> handler, retry schedule and
dead-letter topic. Adding a topic is a change here, reloaded with the other scripts.

A handler returns true when the record is applied, or nil and an error value
(chat/errors.lua). What the error's kind means for the record is decided here, in
PERMANENT: invalid input never becomes valid, so it goes to the dead-letter topic at once;
anything else (the database unavailable, the study's room not created yet, a fault) is
retried after each delay of `backoff` (the partition waits, the others keep flowing), then
dead-lettered. The dead letter carries Spring Kafka's headers, the error's text as the
exception message. The C core commits the offset only after this returns true: nothing is
lost, nothing stops the consumer. ]]

local chat = require "chat.core"
local errors = require "chat.errors"
local study_member_created = require "chat.events.study_member_created"

local spack = string.pack

local M = {}

M.TOPICS = {
  ["study.member.created"] = {
    handler = study_member_created.handle,
    backoff = { 1, 2, 4 },
    dlt = "study.member.created.dlt",
  },
}

-- The one table from an error's kind to "do not retry".
M.PERMANENT = { invalid = true }

function M.topic_names()
  local names = {}
  for name in pairs(M.TOPICS) do names[#names + 1] = name end
  table.sort(names)
  return names
end

-- Spring's DeadLetterPublishingRecoverer headers: partition and offset as big-endian
-- binary int and long, so Spring consumers of the DLT read them unchanged.
local function dead_letter(topic, record, reason)
  local headers = {}
  for k, v in pairs(record.headers or {}) do headers[k] = v end
  headers["kafka_dlt-original-topic"] = record.topic
  headers["kafka_dlt-original-partition"] = spack(">i4", record.partition)
  headers["kafka_dlt-original-offset"] = spack(">i8", record.offset)
  headers["kafka_dlt-exception-message"] = tostring(reason)
  local ok, err = chat.kafka.produce(topic.dlt, record.key, record.value, headers)
  if not ok then
    chat.log.error("cannot dead-letter %s[%d]@%d to %s: %s", record.topic, record.partition, record.offset,
                   topic.dlt, tostring(err))
    return false -- not committed; the core tries the record again
  end
  chat.log.warn("%s[%d]@%d dead-lettered to %s: %s", record.topic, record.partition, record.offset, topic.dlt,
                tostring(reason))
  chat.metrics.dead_letter(topic.dlt)
  return true
end

function M.record(record)
  local topic = M.TOPICS[record.topic]
  if not topic then
    chat.log.warn("no handler for topic %s; skipping offset %d", record.topic, record.offset)
    return true
  end
  local attempt = 0
  while true do
    local ok, err = topic.handler(record)
    if ok then return true end
    -- A handler that returned something else than an error value is retried, as a fault.
    local kind, text = "internal", tostring(err)
    if errors.is(err) then kind, text = err.kind, err.text end
    attempt = attempt + 1
    if M.PERMANENT[kind] or attempt > #topic.backoff then return dead_letter(topic, record, text) end
    chat.log.info("%s[%d]@%d failed (%s); retry %d in %s s", record.topic, record.partition, record.offset,
                  text, attempt, topic.backoff[attempt])
    chat.sleep(topic.backoff[attempt])
  end
end

return M
