describe("chat.lib.json", function()
  local json
  before_each(function()
    require("fake_chat").install()
    json = require "chat.lib.json"
  end)

  it("keeps the field order of ordered objects, as Jackson writes them", function()
    assert.equal('{"id":1,"studyId":2,"name":"x","isActive":true}',
      json.encode(json.object { "id", 1, "studyId", 2, "name", "x", "isActive", true }))
    assert.equal('{"b":1,"a":2}', json.encode_ordered { { "b", 1 }, { "a", 2 } })
    local o = json.object { "z", 1 }
    json.put(o, "a", json.null)
    assert.equal('{"z":1,"a":null}', json.encode(o))
  end)

  it("writes plain tables deterministically: sorted keys, arrays in order", function()
    assert.equal('{"a":1,"b":[1,2,3],"c":{"x":true}}', json.encode { c = { x = true }, b = { 1, 2, 3 }, a = 1 })
  end)

  it("keeps 64-bit integers exact both ways", function()
    assert.equal('{"id":9223372036854775807,"n":-9223372036854775808}',
      json.encode(json.object { "id", math.maxinteger, "n", math.mininteger }))
    local v = json.decode('{"id":9007199254740993}')
    assert.equal(9007199254740993, v.id)
    assert.equal("integer", math.type(v.id))
    assert.equal("float", math.type(json.decode("1.5")))
  end)

  it("writes floats in their shortest exact form", function()
    assert.equal("0.1", json.encode(0.1))
    assert.equal("1.5", json.encode(1.5))
    assert.equal("null", json.encode(0 / 0))
  end)

  it("writes empty arrays as [] and empty objects as {}", function()
    assert.equal('{"content":[],"x":null}', json.encode(json.object { "content", json.array {}, "x", json.null }))
    assert.equal("{}", json.encode {})
    assert.equal("{}", json.encode(json.object {}))
    assert.equal("[]", json.encode(json.array()))
    -- an empty array that came in as JSON goes out as one
    assert.equal('{"a":[]}', json.encode(json.decode('{"a":[]}')))
    assert.is_true(json.is_array(json.decode("[]")))
    assert.is_false(json.is_array(json.decode("{}")))
  end)

  it("escapes quotes, backslashes and control characters, keeps Korean text as UTF-8", function()
    assert.equal('"안녕하세요 \\"홍길동\\"\\n\\u0001\\\\"', json.encode('안녕하세요 "홍길동"\n\1\\'))
    assert.equal('"\\u001F"', json.encode("\31"))
    assert.equal("홍길동", json.decode('"\\ud64d\\uae38\\ub3d9"'))
  end)

  it("decodes null as json.null", function()
    assert.equal(json.null, json.decode('{"a":null}').a)
    assert.equal(json.null, json.decode("null"))
  end)

  it("reports malformed documents, including trailing garbage", function()
    local v, err = json.decode('{"a":')
    assert.is_nil(v)
    assert.is_string(err)
    assert.is_nil((json.decode("")))
    assert.is_nil((json.decode("{} x")))
    assert.is_nil((json.decode('{"a":1}{"b":2}')))
    assert.same({ a = 1 }, json.decode(' {"a":1}\n '))
    assert.is_nil((json.decode(nil)))
  end)

  it("keeps the last value of a repeated key, as Jackson does", function()
    assert.equal(2, json.decode('{"a":1,"a":2}').a)
  end)

  it("decodes through chat.json.decoder, given json.null and the object and array markers", function()
    local fake = require("fake_chat").install()
    local given, texts = nil, {}
    fake.chat.json = {
      decoder = function(opts)
        given = opts
        return function(text)
          texts[#texts + 1] = text
          if text == "bad" then return nil, "invalid number at position 1" end
          return setmetatable({}, opts.array)
        end
      end,
    }
    json = require "chat.lib.json"
    assert.equal(json.null, given.null)
    assert.equal("object", given.object.__jsontype)
    assert.equal("array", given.array.__jsontype)
    assert.is_true(json.is_array(json.decode("[]")))
    local v, err = json.decode("bad")
    assert.is_nil(v)
    assert.equal("invalid number at position 1", err)
    assert.same({ "[]", "bad" }, texts)
    -- not a string: answered without asking the decoder
    assert.same({ nil, "not a string" }, { json.decode(42) })
    assert.equal(2, #texts)
  end)

  it("falls back to dkjson where the core has no chat.json", function()
    local fake = require("fake_chat").install()
    fake.chat.json = nil
    json = require "chat.lib.json"
    local v = json.decode('{"a":[1,null],"b":{}}')
    assert.equal(json.null, v.a[2])
    assert.is_true(json.is_array(v.a))
    assert.equal('{"a":[1,null],"b":{}}', json.encode(v))
    assert.is_nil((json.decode("[1,")))
  end)

  it("refuses values it cannot represent", function()
    assert.has_error(function() json.encode(print) end)
  end)
end)
