describe("chat.routes.openapi", function()
  local openapi, json
  before_each(function()
    require("fake_chat").install()
    openapi = require "chat.routes.openapi"
    json = require "chat.lib.json"
  end)

  it("is a valid OpenAPI 3.0 document whose every $ref resolves", function()
    local doc = json.decode(openapi.document())
    assert.equal("3.0.1", doc.openapi)
    assert.is_string(doc.info.title)
    local refs = 0
    local function walk(v)
      if type(v) ~= "table" then return end
      if v["$ref"] then
        local name = v["$ref"]:match("^#/components/schemas/(.+)$")
        assert.is_table(doc.components.schemas[name], v["$ref"])
        refs = refs + 1
      end
      for _, child in pairs(v) do walk(child) end
    end
    walk(doc)
    assert.is_true(refs > 10)
  end)

  it("describes each of the nine endpoints, the inbox and the read marks with a 200 response and its path parameters", function()
    local doc = json.decode(openapi.document())
    local operations = 0
    for path, item in pairs(doc.paths) do
      for _, op in pairs(item) do
        operations = operations + 1
        assert.is_table(op.responses["200"], path)
        for name in path:gmatch("{(%w+)}") do
          local found = false
          for _, p in ipairs(op.parameters or {}) do found = found or (p.name == name and p["in"] == "path") end
          assert.is_true(found, path .. " documents {" .. name .. "}")
        end
      end
    end
    assert.equal(11, operations)
  end)

  it("names only security schemes it defines, and documents 401 everywhere (CHAT_AUTH)", function()
    local schemes = openapi.DOC.components.securitySchemes
    local function check(requirements)
      for _, req in ipairs(requirements or {}) do
        for name in pairs(req) do assert.is_table(schemes[name], "scheme " .. name) end
      end
    end
    check(openapi.DOC.security)
    for path, item in pairs(openapi.DOC.paths) do
      for _, op in pairs(item) do
        check(op.security)
        assert.is_table(op.responses["401"], path)
      end
    end
    assert.equal("X-Internal-Token", schemes.internalToken.name)
  end)

  it("is encoded once and deterministically", function()
    assert.equal(openapi.document(), openapi.document())
    assert.equal(json.encode(openapi.DOC), openapi.document())
  end)
end)
