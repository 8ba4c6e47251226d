/* Fuzzes the application's JSON handling, lua/chat/json.lua (dkjson underneath), through
 * embedded Lua 5.4 as chatd runs it: every request body and STOMP payload goes through
 * json.decode before any business rule sees it.
 *
 * The contract of json.decode (read from json.lua, and relied on by routes/ and
 * messaging.lua, which test `if not value`): it never throws; it returns a value, or nil
 * and a string. And what it returns, json.encode must turn into JSON that decodes again
 * and encodes to the same text (encoding normalises numbers once: 1.0 becomes 1).
 * A thrown error, a wrong return shape, or a failed round trip aborts with the message.
 * Lua lines count as coverage (fuzz_lua.h). */
#include <string.h>

#include "fuzz_lua.h"
#include "fuzz_support.h"

static const char CHECKER[] =
    "local json = require 'chat.json'\n"
    "return function(text)\n"
    "  local ok, value, err = pcall(json.decode, text)\n"
    "  if not ok then error('json.decode threw: ' .. tostring(value), 0) end\n"
    "  if value == nil then\n"
    "    if type(err) ~= 'string' then error('json.decode gave nil without a reason', 0) end\n"
    "    return\n"
    "  end\n"
    "  if err ~= nil then error('json.decode gave a value and an error', 0) end\n"
    "  local ok1, text1 = pcall(json.encode, value)\n"
    "  if not ok1 then error('json.encode threw on a decoded value: ' .. tostring(text1), 0) end\n"
    "  local again, err2 = json.decode(text1)\n"
    "  if again == nil then error('encoded text does not decode: ' .. tostring(err2) .. ' in ' .. text1, 0) end\n"
    "  local text2 = json.encode(again)\n"
    "  local text3 = json.encode(json.decode(text2))\n"
    "  local flat = json.decode_flat(text)\n"
    "  if flat then\n"
    "    local general = json.decode_general(text)\n"
    "    if type(general) ~= 'table' then error('decode_flat took what dkjson refuses', 0) end\n"
    "    for k, v in pairs(general) do\n"
    "      if flat[k] ~= v or math.type(flat[k]) ~= math.type(v) then error('decode_flat differs at ' .. tostring(k), 0) end\n"
    "    end\n"
    "    for k in pairs(flat) do if general[k] == nil then error('decode_flat has an extra ' .. tostring(k), 0) end end\n"
    "    local kind = function(t) return (getmetatable(t) or {}).__jsontype end\n"
    "    if kind(flat) ~= kind(general) then error('decode_flat marks its object otherwise', 0) end\n"
    "  end\n"
    "  if text2 ~= text3 then error('encoding is not stable: ' .. text2 .. ' then ' .. text3, 0) end\n"
    "end\n";

static lua_State *L;
static int checker_ref;

static void start_lua(void) {
  L = fuzz_lua_start();
  if (luaL_loadbuffer(L, CHECKER, sizeof CHECKER - 1, "=fuzz_json") != LUA_OK ||
      lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  checker_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  fuzz_lua_hook(L);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) start_lua();
  fuzz_lua_check(L, "fuzz_json", checker_ref, data, size);
  return 0;
}
