/* chat.pg.array (core/pg_array.c): the array literals a group-committed batch passes to
 * PostgreSQL, byte for byte (the e2e group-commit suite sends them to a real server). */
#include <lauxlib.h>
#include <lualib.h>

#include "check.h"
#include "pg_array.h"

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) == LUA_OK) return 1;
  fprintf(stderr, "    lua: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushcfunction(L, chat_pg_array_literal);
  lua_setglobal(L, "array");
  CHECK(run(L, "assert(array({}) == '{}')"));
  CHECK(run(L, "assert(array({ 1, -2, 3.5, 'x' }) == '{\"1\",\"-2\",\"3.5\",\"x\"}', array({ 1, -2, 3.5, 'x' }))"));
  CHECK(run(L, "assert(array({ 'a\"b', 'c\\\\d', '\"', '', 'NULL', '{a,b}', '한' }) =="
               " [[{\"a\\\"b\",\"c\\\\d\",\"\\\"\",\"\",\"NULL\",\"{a,b}\",\"한\"}]])"));
  CHECK(run(L, "local items = { { room = 7, nick = 'n' }, { room = 8 }, { room = 9, nick = 'x\\\\' } }\n"
               "assert(array(items, 'room') == '{\"7\",\"8\",\"9\"}')\n"
               "assert(array(items, 'nick') == [[{\"n\",NULL,\"x\\\\\"}]], array(items, 'nick'))"));
  CHECK(run(L, "assert(array({ math.mininteger }) == '{\"-9223372036854775808\"}')"));
  /* 200 long texts: the buffer grows past its first block. */
  CHECK(run(L, "local t = {}\n"
               "for i = 1, 200 do t[i] = string.rep('\"', 50) end\n"
               "local s = array(t)\n"
               "assert(#s == 2 + 200 * (2 + 100) + 199)"));
  CHECK(run(L, "local ok, err = pcall(array, { {} })\n"
               "assert(not ok and err:find('element 1 is a table'), err)"));
  CHECK(run(L, "local ok, err = pcall(array, { 1, 'x' }, 'f')\n"
               "assert(not ok and err:find('element 1 is not a table'), err)"));
  CHECK(run(L, "assert(not pcall(array, 'x'))\n"
               "assert(not pcall(array, {}, 5))"));
  lua_close(L);
  CHECK_DONE();
}
