-- Address lists (chat/auth/networks.lua): CHAT_TRUSTED_PROXIES and CHAT_INTERNAL_NETWORKS.
describe("chat.auth.networks", function()
  local networks
  before_each(function()
    require("fake_chat").install() -- its inet_pton knows IPv4 and ::1
    networks = require "chat.auth.networks"
  end)

  it("matches addresses inside a prefix, bit by bit", function()
    local nets = networks.parse("10.0.0.0/8, 192.168.4.0/23,127.0.0.1", "CHAT_INTERNAL_NETWORKS")
    assert.is_true(networks.contains(nets, "10.255.0.1"))
    assert.is_true(networks.contains(nets, "192.168.5.200"))
    assert.is_false(networks.contains(nets, "192.168.6.1"))
    assert.is_true(networks.contains(nets, "127.0.0.1"))
    assert.is_false(networks.contains(nets, "127.0.0.2"), "an address alone is a /32")
    assert.is_false(networks.contains(nets, "11.0.0.1"))
  end)

  it("keeps IPv4 and IPv6 apart", function()
    local nets = networks.parse("::1", "X")
    assert.is_true(networks.contains(nets, "::1"))
    assert.is_false(networks.contains(nets, "0.0.0.1"))
  end)

  it("is false for anything that is not an address", function()
    local nets = networks.parse("0.0.0.0/0", "X")
    assert.is_true(networks.contains(nets, "8.8.8.8"))
    assert.is_false(networks.contains(nets, "not-an-address"))
    assert.is_false(networks.contains(nets, nil))
  end)

  it("raises naming the variable for a bad entry", function()
    for _, bad in ipairs { "10.0.0/8", "10.0.0.0/33", "host.example", "10.0.0.0/x" } do
      assert.has_error(function() networks.parse(bad, "CHAT_TRUSTED_PROXIES") end,
        "CHAT_TRUSTED_PROXIES: '" .. bad .. "' is not an address or address/prefix")
    end
  end)
end)
