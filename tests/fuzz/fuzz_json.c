/* Fuzzes the application's JSON handling, lua/chat/json.lua (dkjson underneath), through
 * embedded Lua 5.4 as chatd runs it: every request body and STOMP payload goes through
 * json.decode before any business rule sees it.
 *
 * The contract of json.decode (read from json.lua, and relied on by routes/ and
 * messaging.lua, which test `if not value`): it never throws; it returns a value, or nil
 * and a string. And what it returns, json.encode must turn into JSON that decodes again
 * and encodes to the same text (encoding normalises numbers once: 1.0 becomes 1).
 * A thrown error, a wrong return shape, or a failed round trip aborts with the message.
 *
 * In the libFuzzer build a line hook feeds the Lua lines executed to libFuzzer as extra
 * coverage counters: the interesting branches are in Lua, where the compiler's
 * instrumentation cannot see. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "fuzz_support.h"

#ifndef CHAT_SOURCE_DIR
#error "CHAT_SOURCE_DIR (the repository root, for lua/) must be defined"
#endif

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
    "  if text2 ~= text3 then error('encoding is not stable: ' .. text2 .. ' then ' .. text3, 0) end\n"
    "end\n";

static lua_State *L;
static int checker_ref;

#ifdef CHAT_FUZZING
/* libFuzzer reads any bytes in this section as coverage counters (FuzzerExtraCounters). */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[1 << 16];
static uint32_t previous_line;

/* An edge between two executed Lua lines, as AFL hashes basic blocks. */
static void on_line(lua_State *state, lua_Debug *ar) {
  if (lua_getinfo(state, "S", ar) == 0) return;
  uint32_t here = (uint32_t)((uintptr_t)ar->source * 2654435761u) ^ (uint32_t)ar->currentline * 40503u;
  here ^= here >> 15;
  lua_edges[(here ^ previous_line) & 0xffff]++;
  previous_line = here >> 1;
}
#endif

static void start_lua(void) {
  L = luaL_newstate();
  if (L == NULL) abort();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", CHAT_SOURCE_DIR, CHAT_SOURCE_DIR,
                  lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
  if (luaL_loadbuffer(L, CHECKER, sizeof CHECKER - 1, "=fuzz_json") != LUA_OK ||
      lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  checker_ref = luaL_ref(L, LUA_REGISTRYINDEX);
#ifdef CHAT_FUZZING
  lua_sethook(L, on_line, LUA_MASKLINE, 0);
#endif
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) start_lua();
#ifdef CHAT_FUZZING
  previous_line = 0;
#endif
  lua_rawgeti(L, LUA_REGISTRYINDEX, checker_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
  return 0;
}
