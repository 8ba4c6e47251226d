-- The study.member.created handler (chat/events/study_member_created.lua): what is a
-- malformed event (dead-lettered at once), what is worth retrying, and what it writes.
describe("chat.events.study_member_created", function()
  local fake, handler, errors
  before_each(function()
    fake = require("fake_chat").install()
    handler = require "chat.events.study_member_created"
    errors = require "chat.errors"
  end)

  -- The room lookups by study and, after the upsert, by id.
  local function room_of_study(study)
    local row = { id = 3, study_id = study, name = "r", is_active = true, created_at = 1736400600, member_count = 1 }
    fake.on_sql("WHERE r.study_id", function(params) return params[1] == study and { row } or {} end)
    fake.on_sql("WHERE r.id", function(params) return params[1] == 3 and { row } or {} end)
  end

  it("adds the user with the nickname to the room of the study", function()
    room_of_study(9)
    local upsert
    fake.on_sql("INSERT INTO chat_room_members", function(params) upsert = params; return { { id = 1 } } end)
    assert.is_true(handler.handle({ value = '{"userId":5,"studyId":9,"orderName":"o","amount":null,"nickname":"홍길동"}' }))
    assert.same({ 3, 5, "홍길동" }, { upsert[1], upsert[2], upsert[3] })
  end)

  it("treats a null or non-string nickname as none (the stored one stays)", function()
    room_of_study(9)
    local upsert
    fake.on_sql("INSERT INTO chat_room_members", function(params) upsert = params; return { { id = 1 } } end)
    assert.is_true(handler.handle({ value = '{"userId":5,"studyId":9,"nickname":null}' }))
    assert.is_nil(upsert[3])
    assert.is_true(handler.handle({ value = '{"userId":5,"studyId":9,"nickname":7}' }))
    assert.is_nil(upsert[3])
  end)

  it("calls malformed events invalid, so they are dead-lettered at once", function()
    for value, entry in pairs {
      ["{oops"] = errors.EVENT_MALFORMED, ["[1,2]"] = errors.EVENT_MALFORMED, ['"text"'] = errors.EVENT_MALFORMED,
      ['{"userId":"5","studyId":9}'] = errors.EVENT_IDS_MISSING, ['{"userId":5}'] = errors.EVENT_IDS_MISSING,
      ['{"userId":5.5,"studyId":9}'] = errors.EVENT_IDS_MISSING,
    } do
      local ok, err = handler.handle({ value = value })
      assert.is_nil(ok, value)
      assert.is_true(errors.is(err, entry), value)
      assert.equal("invalid", err.kind, value)
    end
    assert.equal(0, #fake.pg_calls, "nothing asked of the database")
  end)

  it("leaves a study without a room to the retries: the room may come a moment later", function()
    room_of_study(1)
    local ok, err = handler.handle({ value = '{"userId":5,"studyId":9}' })
    assert.is_nil(ok)
    assert.is_true(errors.is(err, errors.STUDY_ROOM_NOT_FOUND))
    assert.equal("study 9 has no chat room", err.text)
    assert.equal("not_found", err.kind)
  end)

  it("passes a database outage on as unavailable (retried, not dead-lettered)", function()
    fake.pg_down("08006")
    local ok, err = handler.handle({ value = '{"userId":5,"studyId":9}' })
    assert.is_nil(ok)
    assert.equal("unavailable", err.kind)
  end)
end)
