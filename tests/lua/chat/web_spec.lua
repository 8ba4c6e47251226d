describe("chat.web", function()
  local web, json, fake
  before_each(function()
    fake = require("fake_chat").install()
    web = require "chat.web"
    json = require "chat.json"
  end)

  describe("query strings", function()
    it("percent-decodes names and values, '+' as a space, keeps repeated names in order", function()
      local q = web.parse_query("a=1&sort=id,asc&sort=createdAt&name=%ED%99%8D+x&empty=&flag&%73ize=5")
      assert.same({ "1" }, q.a)
      assert.same({ "id,asc", "createdAt" }, q.sort)
      assert.same({ "홍 x" }, q.name)
      assert.same({ "" }, q.empty)
      assert.same({ "" }, q.flag)
      assert.same({ "5" }, q.size)
      assert.same({ "a+b" }, web.parse_query("x=a%2Bb").x)
      assert.same({}, web.parse_query(""))
      assert.same({}, web.parse_query(nil))
    end)

    it("rejects malformed escapes", function()
      assert.is_nil(web.parse_query("a=%zz"))
      assert.is_nil(web.parse_query("a=%4"))
      assert.is_nil(web.parse_query("a=%"))
      assert.is_nil(web.parse_query("%g1=x"))
    end)

    it("decodes paths without turning '+' into a space", function()
      assert.equal("a+b c", web.unescape("a+b%20c", false))
      assert.equal("a b c", web.unescape("a+b%20c", true))
    end)
  end)

  describe("parse_long, as Long.parseLong", function()
    it("accepts signs, leading zeros and the whole 64-bit range", function()
      assert.equal(42, web.parse_long("42"))
      assert.equal(42, web.parse_long("+42"))
      assert.equal(-7, web.parse_long("-7"))
      assert.equal(7, web.parse_long("0007"))
      assert.equal(0, web.parse_long("-0"))
      assert.equal(math.maxinteger, web.parse_long("9223372036854775807"))
      assert.equal(math.maxinteger, web.parse_long("000009223372036854775807"))
      assert.equal(math.mininteger, web.parse_long("-9223372036854775808"))
      assert.equal("integer", math.type(web.parse_long("12")))
    end)

    it("rejects everything else", function()
      for _, s in ipairs { "9223372036854775808", "-9223372036854775809", "99999999999999999999",
                           "1.5", "1e3", "", " 1", "1 ", "0x10", "--1", "+", "abc", "１" } do
        assert.is_nil(web.parse_long(s), s)
      end
      assert.is_nil(web.parse_long(12))
    end)
  end)

  describe("parameters", function()
    it("names the parameter in its failures", function()
      local missing = web.long_param({}, "memberId")
      assert.is_true(web.is_failure(missing))
      assert.equal(400, missing.status)
      assert.equal("required parameter 'memberId' is missing", missing.message)
      assert.equal(400, web.long_param({ memberId = { "" } }, "memberId").status)
      local wrong = web.long_param({ studyId = { "1x" } }, "studyId")
      assert.equal(400, wrong.status)
      assert.equal("parameter 'studyId' must be a 64-bit integer, got '1x'", wrong.message)
      assert.equal(50, web.long_param({}, "size", 50))
      assert.equal(7, web.long_param({ id = { "7", "8" } }, "id"))
    end)

    it("reads int parameters with a lower bound", function()
      assert.equal(0, web.int_param({}, "page", 0, 0))
      assert.equal(3, web.int_param({ page = { "3" } }, "page", 0, 0))
      assert.equal("parameter 'page' must be at least 0", web.int_param({ page = { "-1" } }, "page", 0, 0).message)
      assert.matches("'page' must be a 32%-bit integer", web.int_param({ page = { "2147483648" } }, "page", 0, 0).message)
      assert.matches("'page' must be a 32%-bit integer", web.int_param({ page = { "abc" } }, "page", 0, 0).message)
    end)

    it("checks required texts: blank, length in characters, UTF-8", function()
      assert.equal("parameter 'roomName' must not be blank", web.check_text("  \t", "roomName", 100).message)
      assert.equal("스터디", web.check_text("스터디", "roomName", 3))
      assert.equal("parameter 'roomName' must be at most 3 characters", web.check_text("스터디1", "roomName", 3).message)
      assert.matches("UTF%-8", web.check_text("\xff", "roomName", 3).message)
      assert.equal("field 'roomName' must not be blank", web.check_text("", "roomName", 3, "field").message)
    end)
  end)

  describe("the error JSON", function()
    it("is Spring Boot's, fields in its order, timestamp in Asia/Seoul with millis and offset", function()
      local text = web.error_body(404, "chat room 7 does not exist", "/api/chat/rooms/7/join")
      assert.equal('{"timestamp":"2025-01-09T14:30:00.500+09:00","status":404,"error":"Not Found",'
        .. '"message":"chat room 7 does not exist","path":"/api/chat/rooms/7/join"}', text)
    end)

    it("uses the reason phrase of each status", function()
      for status, reason in pairs { [400] = "Bad Request", [405] = "Method Not Allowed", [409] = "Conflict",
                                    [415] = "Unsupported Media Type", [500] = "Internal Server Error",
                                    [503] = "Service Unavailable" } do
        assert.equal(reason, json.decode(web.error_body(status, "m", "/p")).error)
      end
    end)

    it("comes with a JSON content type and extra headers", function()
      local status, body, headers = web.error_response(405, "no", "/p", { Allow = "POST" })
      assert.equal(405, status)
      assert.equal("application/json", headers["Content-Type"])
      assert.equal("POST", headers.Allow)
      assert.equal(405, json.decode(body).status)
    end)

    it("truncates the millis instead of rounding them", function()
      assert.equal("2025-01-09T14:30:00.999+09:00", web.error_timestamp(1736400600.9996))
      assert.equal("2025-01-09T14:30:00.000+09:00", web.error_timestamp(1736400600))
    end)

    it("stamps the current instant by default", function()
      assert.equal("2025-01-09T14:30:00.500+09:00", web.error_timestamp())
      fake.clock = 1736434800.25 -- 15:00:00.25Z: the next day in Seoul
      assert.equal("2025-01-10T00:00:00.250+09:00", web.error_timestamp())
    end)

    it("takes its zone from chat.config.json_time_zone, Asia/Seoul when unset", function()
      assert.equal("Asia/Seoul", web.ERROR_TIME_ZONE)
      local function reload_with(zone)
        fake.chat.config.json_time_zone = zone
        package.loaded["chat.web"] = nil
        return require "chat.web"
      end
      local utc = reload_with("UTC")
      assert.equal("2025-01-09T05:30:00.500+00:00", utc.error_timestamp())
      assert.equal("2025-01-09T05:30:00.500+00:00", json.decode(utc.error_body(404, "m", "/p")).timestamp)
      assert.equal("2025-01-09T02:30:00.500-03:00", reload_with("America/Sao_Paulo").error_timestamp())
      local default = reload_with(nil)
      assert.equal("Asia/Seoul", default.ERROR_TIME_ZONE)
      assert.equal("2025-01-09T14:30:00.500+09:00", default.error_timestamp())
    end)

    it("no longer has the UTC timestamp", function()
      assert.is_nil(web.utc_timestamp)
    end)
  end)

  it("maps unavailable PostgreSQL to 503 and other database errors to a logged 500", function()
    for _, state in ipairs { "08006", "08001", "57P01", "57P03" } do
      local f = web.db_failure("gone", state)
      assert.equal(503, f.status)
      assert.equal("database unavailable", f.message)
    end
    local f = web.db_failure("syntax error at or near", "42601")
    assert.equal(500, f.status)
    assert.equal("internal server error", f.message)
    assert.equal("error", fake.logs[#fake.logs][1])
    assert.matches("42601", fake.logs[#fake.logs][2])
  end)

  describe("JSON bodies", function()
    local function body(text, ctype)
      return web.json_body({ body = text, headers = { ["content-type"] = ctype } })
    end

    it("accepts JSON objects with any JSON content type, or none", function()
      assert.same({ a = 1 }, body('{"a":1}', "application/json;charset=UTF-8"))
      assert.same({ a = 1 }, body('{"a":1}', "application/problem+json"))
      assert.same({ a = 1 }, body('{"a":1}', nil))
      assert.same({ a = 1 }, body('{"a":1}', "*/*"))
    end)

    it("answers 400 for missing, malformed and non-object bodies", function()
      assert.equal("required request body is missing", body("").message)
      assert.equal(400, body("  ").status)
      assert.matches("^malformed JSON", body("{").message)
      assert.matches("^malformed JSON", body('{"a":1} trailing').message)
      assert.equal("the request body must be a JSON object", body("[1]").message)
      assert.equal("the request body must be a JSON object", body("[]").message)
      assert.equal("the request body must be a JSON object", body("null").message)
      assert.equal("the request body must be a JSON object", body('"x"').message)
    end)

    it("answers 415 for a content type that is clearly not JSON", function()
      local f = body('{"a":1}', "text/plain")
      assert.equal(415, f.status)
      assert.matches("text/plain", f.message)
      assert.equal(415, body("a=1", "application/x-www-form-urlencoded").status)
    end)

    it("reads long fields as Jackson reads a Long", function()
      local b = json.decode('{"a":7,"b":7.0,"c":"8","d":1.5,"e":"x","f":true,"g":null,"h":9223372036854775808,"i":{}}')
      assert.equal(7, web.long_field(b, "a", true))
      assert.equal(7, web.long_field(b, "b", true))
      assert.equal("integer", math.type(web.long_field(b, "b", true)))
      assert.equal(8, web.long_field(b, "c", true))
      for _, name in ipairs { "d", "e", "f", "h", "i" } do
        local f = web.long_field(b, name, true)
        assert.is_true(web.is_failure(f), name)
        assert.equal("field '" .. name .. "' must be a 64-bit integer", f.message)
      end
      assert.equal("field 'g' is required", web.long_field(b, "g", true).message)
      assert.equal("field 'zz' is required", web.long_field(b, "zz", true).message)
      assert.is_nil(web.long_field(b, "g", false))
    end)

    it("reads string fields with scalar coercion and a length limit", function()
      local b = json.decode('{"s":"홍길동","n":12,"o":{},"a":[],"z":null}')
      assert.equal("홍길동", web.string_field(b, "s", true, 3))
      assert.equal("field 's' must be at most 2 characters", web.string_field(b, "s", true, 2).message)
      assert.equal("12", web.string_field(b, "n"))
      assert.equal("field 'o' must be a string", web.string_field(b, "o").message)
      assert.equal("field 'a' must be a string", web.string_field(b, "a").message)
      assert.is_nil(web.string_field(b, "z"))
      assert.equal("field 'z' is required", web.string_field(b, "z", true).message)
    end)
  end)
end)
