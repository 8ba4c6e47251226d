-- The Kafka dispatcher (chat/events/init.lua): the retry schedule, which errors are retried
-- and which go to the dead-letter topic at once, and Spring's DLT headers. Changing any of
-- them fails here.
describe("chat.events", function()
  local fake, events, produced, slept
  before_each(function()
    fake = require("fake_chat").install()
    produced, slept = {}, {}
    fake.chat.kafka.produce = function(topic, key, value, headers)
      produced[#produced + 1] = { topic = topic, key = key, value = value, headers = headers }
      return true
    end
    fake.chat.sleep = function(s) slept[#slept + 1] = s end
    events = require "chat.events"
  end)

  local function record(value, extra)
    local r = { topic = "study.member.created", partition = 2, offset = 41, key = "k", value = value,
                headers = { __TypeId__ = "StudyCreateEvent" } }
    for k, v in pairs(extra or {}) do r[k] = v end
    return r
  end

  it("consumes study.member.created, retrying after 1, 2 and 4 s into study.member.created.dlt", function()
    assert.same({ "study.member.created" }, events.topic_names())
    local t = events.TOPICS["study.member.created"]
    assert.same({ 1, 2, 4 }, t.backoff)
    assert.equal("study.member.created.dlt", t.dlt)
  end)

  it("retries a transient failure on that schedule, then dead-letters it with Spring's headers", function()
    fake.on_sql("FROM chat_rooms", function() return {} end) -- the study has no room
    assert.is_true(events.record(record('{"userId":5,"studyId":9,"nickname":"n"}')))
    assert.same({ 1, 2, 4 }, slept)
    assert.equal(1, #produced)
    local dlt = produced[1]
    assert.equal("study.member.created.dlt", dlt.topic)
    assert.equal("k", dlt.key)
    assert.equal('{"userId":5,"studyId":9,"nickname":"n"}', dlt.value)
    assert.equal("StudyCreateEvent", dlt.headers.__TypeId__, "the record's own headers are kept")
    assert.equal("study.member.created", dlt.headers["kafka_dlt-original-topic"])
    assert.equal(string.pack(">i4", 2), dlt.headers["kafka_dlt-original-partition"])
    assert.equal(string.pack(">i8", 41), dlt.headers["kafka_dlt-original-offset"])
    assert.equal("study 9 has no chat room", dlt.headers["kafka_dlt-exception-message"])
    assert.same({ "study.member.created.dlt" }, fake.dead_letters, "counted for chatd_kafka_dead_letters_total")
  end)

  it("dead-letters malformed JSON at once, without retrying", function()
    assert.is_true(events.record(record("{not json")))
    assert.same({}, slept)
    assert.equal(1, #produced)
    assert.matches("^malformed JSON", produced[1].headers["kafka_dlt-exception-message"])
  end)

  it("dead-letters invalid input at once and retries every other kind of error", function()
    assert.same({ invalid = true }, events.PERMANENT)
    local errors = require "chat.errors"
    for code, entry in pairs(errors.BY_CODE) do
      assert.equal(entry.kind == "invalid", events.PERMANENT[entry.kind] == true, code)
    end
    -- The ones this handler meets: the study's room not there yet and the database down are
    -- retried; a malformed event is not.
    for _, entry in ipairs { errors.STUDY_ROOM_NOT_FOUND, errors.ROOM_NOT_FOUND, errors.DB_UNAVAILABLE,
                             errors.INTERNAL } do
      assert.is_nil(events.PERMANENT[entry.kind], entry.code)
    end
    for _, entry in ipairs { errors.EVENT_MALFORMED, errors.EVENT_IDS_MISSING, errors.VALUE_UNSTORABLE } do
      assert.is_true(events.PERMANENT[entry.kind], entry.code)
    end
  end)

  it("retries while PostgreSQL is unavailable, with the error's text in the log and the dead letter", function()
    fake.pg_down("08006")
    assert.is_true(events.record(record('{"userId":5,"studyId":9,"nickname":"n"}')))
    assert.same({ 1, 2, 4 }, slept)
    assert.equal("database unavailable", produced[1].headers["kafka_dlt-exception-message"])
    local retries = 0
    for _, l in ipairs(fake.logs) do
      if l[1] == "info" and l[2]:find("^study%.member%.created%[2%]@41 failed %(database unavailable%); retry %d in %d s$") then
        retries = retries + 1
      end
    end
    assert.equal(3, retries)
  end)

  it("dead-letters ids that are not integers at once", function()
    assert.is_true(events.record(record('{"userId":"5","studyId":9}')))
    assert.same({}, slept)
    assert.equal("userId and studyId must be integers", produced[1].headers["kafka_dlt-exception-message"])
  end)

  it("leaves the offset uncommitted when the dead letter cannot be produced", function()
    fake.chat.kafka.produce = function() return nil, "Local: Message timed out" end
    assert.is_false(events.record(record("{not json")))
    assert.equal("error", fake.logs[#fake.logs][1])
  end)

  it("commits a record of a topic it has no handler for, with a warning", function()
    assert.is_true(events.record(record("{}", { topic = "other.topic" })))
    assert.equal(0, #produced)
    assert.equal("warn", fake.logs[1][1])
  end)

  it("applies an event on the first try when the room exists", function()
    fake.on_sql("FROM chat_rooms", function()
      return { { id = 3, study_id = 9, name = "r", is_active = true, created_at = 1736400600, member_count = 0 } }
    end)
    fake.on_sql("INSERT INTO chat_room_members", function() return { { id = 1 } } end)
    assert.is_true(events.record(record('{"userId":5,"studyId":9,"nickname":"n"}')))
    assert.same({}, slept)
    assert.equal(0, #produced)
  end)
end)
