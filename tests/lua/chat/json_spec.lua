describe("chat.json", function()
  local json
  before_each(function()
    require("fake_chat").install()
    json = require "chat.json"
  end)

  it("keeps the field order of ordered objects", function()
    assert.equal('{"id":1,"studyId":2,"name":"x"}', json.encode(json.object { "id", 1, "studyId", 2, "name", "x" }))
  end)

  it("keeps 64-bit integers exact both ways", function()
    assert.equal('{"id":9007199254740993}', json.encode(json.object { "id", 9007199254740993 }))
    local v = json.decode('{"id":9007199254740993}')
    assert.equal(9007199254740993, v.id)
    assert.equal("integer", math.type(v.id))
  end)

  it("writes empty arrays as [] and null as null", function()
    assert.equal('{"content":[],"x":null}', json.encode(json.object { "content", json.array {}, "x", json.null }))
  end)

  it("escapes quotes, control characters and keeps UTF-8", function()
    assert.equal('"안녕\\"\\n\\u0001"', json.encode('안녕"\n\1'))
  end)

  it("reports malformed documents", function()
    local v, err = json.decode('{"a":')
    assert.is_nil(v)
    assert.is_string(err)
    assert.is_nil((json.decode("")))
  end)
end)
