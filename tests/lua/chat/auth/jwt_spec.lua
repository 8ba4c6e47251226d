-- What a valid token is (chat/auth/jwt.lua): algorithms, keys, exp/nbf with leeway, iss and
-- aud. The signatures themselves are C's (tests/c/test_lua_crypto.c and fuzz_jwt use the real
-- crypto); here chat.crypto is a stand-in whose "signature" is readable, so each rule of the
-- module can be changed and caught.
describe("chat.auth.jwt", function()
  local fake, jwt
  local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

  -- base64url without padding, as JWTs carry their parts.
  local function b64url(s)
    local out = {}
    for i = 1, #s, 3 do
      local a, b, c = s:byte(i, i + 2)
      local n = (a << 16) | ((b or 0) << 8) | (c or 0)
      local chars = b == nil and 2 or c == nil and 3 or 4
      for k = 1, chars do
        local v = (n >> (6 * (4 - k))) & 63
        out[#out + 1] = B64:sub(v + 1, v + 1)
      end
    end
    return table.concat(out)
  end

  local function unb64url(s)
    if s:find("[^%w_%-]") then return nil end
    local bits, out = {}, {}
    for i = 1, #s do bits[#bits + 1] = B64:find(s:sub(i, i), 1, true) - 1 end
    local acc, n = 0, 0
    for _, v in ipairs(bits) do
      acc, n = (acc << 6) | v, n + 6
      if n >= 8 then
        n = n - 8
        out[#out + 1] = string.char((acc >> n) & 0xff)
      end
    end
    return table.concat(out)
  end

  before_each(function()
    fake = require("fake_chat").install()
    fake.chat.crypto.b64url_decode = unb64url
    fake.chat.crypto.hmac_sha256 = function(key, data) return "hmac(" .. key .. "," .. data .. ")" end
    fake.chat.crypto.verify_rs256 = function(key, data, sig) return sig == "rsa(" .. key .. "," .. data .. ")" end
    jwt = require "chat.auth.jwt"
  end)

  local json = function(t) return require("chat.lib.json").encode(t) end
  local function token(header, claims, sign)
    local signed = b64url(json(header)) .. "." .. b64url(json(claims))
    return signed .. "." .. b64url(sign(signed))
  end
  local hs = function(secret) return function(signed) return "hmac(" .. secret .. "," .. signed .. ")" end end
  local rs = function(key) return function(signed) return "rsa(" .. key .. "," .. signed .. ")" end end
  local NOW = 1736400600

  it("accepts HS256 signed with the secret and returns the claims", function()
    local claims = jwt.verify(token({ alg = "HS256" }, { sub = "7", exp = NOW + 60 }, hs("s3")), { secret = "s3" }, { now = NOW })
    assert.equal("7", claims.sub)
  end)

  it("refuses a wrong signature, alg none and unknown algorithms", function()
    local _, why = jwt.verify(token({ alg = "HS256" }, { sub = "7" }, hs("other")), { secret = "s3" }, { now = NOW })
    assert.equal(jwt.SIGNATURE, why)
    _, why = jwt.verify(token({ alg = "none" }, { sub = "7" }, function() return "" end), { secret = "s3" }, { now = NOW })
    assert.equal(jwt.ALGORITHM, why)
    _, why = jwt.verify(token({ alg = "HS512" }, { sub = "7" }, hs("s3")), { secret = "s3" }, { now = NOW })
    assert.equal(jwt.ALGORITHM, why)
  end)

  it("never uses an RSA key as an HMAC secret, and needs a matching kid for RS256", function()
    local keys = { rsa = { k1 = "K1" } }
    assert.is_truthy(jwt.verify(token({ alg = "RS256", kid = "k1" }, { sub = "1" }, rs("K1")), keys, { now = NOW }))
    local _, why = jwt.verify(token({ alg = "HS256" }, { sub = "1" }, hs("K1")), keys, { now = NOW })
    assert.equal(jwt.ALGORITHM, why)
    _, why = jwt.verify(token({ alg = "RS256", kid = "k2" }, { sub = "1" }, rs("K1")), keys, { now = NOW })
    assert.equal(jwt.UNKNOWN_KEY, why)
  end)

  it("applies exp and nbf with the leeway", function()
    local keys, t = { secret = "s" }, function(c) return token({ alg = "HS256" }, c, hs("s")) end
    assert.is_truthy(jwt.verify(t { exp = NOW - 29 }, keys, { now = NOW, leeway = 30 }))
    local _, why = jwt.verify(t { exp = NOW - 31 }, keys, { now = NOW, leeway = 30 })
    assert.equal(jwt.EXPIRED, why)
    assert.is_truthy(jwt.verify(t { nbf = NOW + 29 }, keys, { now = NOW, leeway = 30 }))
    _, why = jwt.verify(t { nbf = NOW + 31 }, keys, { now = NOW, leeway = 30 })
    assert.equal(jwt.NOT_YET, why)
    _, why = jwt.verify(t { exp = "tomorrow" }, keys, { now = NOW })
    assert.equal(jwt.MALFORMED, why)
  end)

  it("checks iss and aud (a string or a list) when they are configured", function()
    local keys, t = { secret = "s" }, function(c) return token({ alg = "HS256" }, c, hs("s")) end
    local opts = { now = NOW, issuer = "https://id", audience = "chat" }
    assert.is_truthy(jwt.verify(t { iss = "https://id", aud = "chat" }, keys, opts))
    assert.is_truthy(jwt.verify(t { iss = "https://id", aud = { "x", "chat" } }, keys, opts))
    local _, why = jwt.verify(t { iss = "https://other", aud = "chat" }, keys, opts)
    assert.equal(jwt.ISSUER, why)
    _, why = jwt.verify(t { iss = "https://id", aud = { "x" } }, keys, opts)
    assert.equal(jwt.AUDIENCE, why)
  end)

  it("refuses what is not a compact token, and huge tokens before decoding", function()
    for _, bad in ipairs { "", "a.b", "a.b.c.d", "!!.??.x", ("a"):rep(9000) .. ".b.c" } do
      local _, why = jwt.verify(bad, { secret = "s" }, { now = NOW })
      assert.equal(jwt.MALFORMED, why, bad:sub(1, 20))
    end
  end)
end)
