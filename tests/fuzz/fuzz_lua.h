/* Shared by the harnesses that fuzz Lua code (fuzz_json, fuzz_jwt): a Lua 5.4 state with
 * the repository's lua/ on package.path, and, in the libFuzzer build, a line hook that
 * feeds the Lua lines executed to libFuzzer as extra coverage counters (the interesting
 * branches are in Lua, where the compiler's instrumentation cannot see).
 *
 * A harness calls fuzz_lua_start() once, leaves its checker function in the registry,
 * then fuzz_lua_check(name, ref, data, size) per input: the checker raises to report a
 * broken invariant, which aborts with its message. */
#ifndef CHAT_FUZZ_LUA_H
#define CHAT_FUZZ_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef CHAT_SOURCE_DIR
#error "CHAT_SOURCE_DIR (the repository root, for lua/) must be defined"
#endif

#ifdef CHAT_FUZZING
/* libFuzzer reads any bytes in this section as coverage counters (FuzzerExtraCounters). */
__attribute__((used, section("__libfuzzer_extra_counters"))) static uint8_t fuzz_lua_edges[1 << 16];
static uint32_t fuzz_lua_previous_line;

/* An edge between two executed Lua lines, as AFL hashes basic blocks. */
static void fuzz_lua_on_line(lua_State *state, lua_Debug *ar) {
  if (lua_getinfo(state, "S", ar) == 0) return;
  uint32_t here = (uint32_t)((uintptr_t)ar->source * 2654435761u) ^ (uint32_t)ar->currentline * 40503u;
  here ^= here >> 15;
  fuzz_lua_edges[(here ^ fuzz_lua_previous_line) & 0xffff]++;
  fuzz_lua_previous_line = here >> 1;
}
#endif

/* A new state with the standard libraries and lua/ on package.path. */
static lua_State *fuzz_lua_start(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL) abort();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;%s", CHAT_SOURCE_DIR, CHAT_SOURCE_DIR, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 2);
  return L;
}

/* Once the checker is in place: from here on, executed lines count as coverage. */
static void fuzz_lua_hook(lua_State *L) {
#ifdef CHAT_FUZZING
  lua_sethook(L, fuzz_lua_on_line, LUA_MASKLINE, 0);
#else
  (void)L;
#endif
}

/* Runs registry[ref](input); a raised error is a broken invariant. */
static void fuzz_lua_check(lua_State *L, const char *name, int ref, const uint8_t *data, size_t size) {
#ifdef CHAT_FUZZING
  fuzz_lua_previous_line = 0;
#endif
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s: %s\n", name, lua_tostring(L, -1));
    abort();
  }
  lua_settop(L, 0);
}

#endif
