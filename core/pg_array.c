/* chat.pg.array (see pg_array.h). In C: a group-committed batch passes seven arrays of up to
 * 200 elements, and building them in Lua (tostring, gsub and concatenation per element)
 * was a quarter of the scripts' instructions for a stored message (CHAT_LUA_PROFILE). */
#include "pg_array.h"

#include <lauxlib.h>
#include <stdio.h>

/* One element, quoted: only the backslash and the double quote need escaping in a quoted
 * array element (PostgreSQL's array input). */
static void add_element(luaL_Buffer *b, const char *s, size_t len) {
  luaL_addchar(b, '"');
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] == '\\' || s[i] == '"') {
      luaL_addlstring(b, s + start, i - start);
      luaL_addchar(b, '\\');
      start = i;
    }
  }
  luaL_addlstring(b, s + start, len - start);
  luaL_addchar(b, '"');
}

int chat_pg_array_literal(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  int by_field = !lua_isnoneornil(L, 2);
  if (by_field) luaL_checktype(L, 2, LUA_TSTRING);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '{');
  for (lua_Integer i = 1; i <= n; i++) {
    /* The value is read off the stack before the buffer is touched (it needs the stack
     * balanced); a string stays alive in its table meanwhile, a number is formatted here. */
    int pushed = 1, type;
    if (by_field) {
      if (lua_rawgeti(L, 1, i) != LUA_TTABLE) return luaL_error(L, "chat.pg.array: element %I is not a table", i);
      lua_pushvalue(L, 2);
      type = lua_rawget(L, -2);
      pushed = 2;
    } else {
      type = lua_rawgeti(L, 1, i);
    }
    char num[64];
    const char *s = NULL;
    size_t len = 0;
    if (type == LUA_TSTRING) {
      s = lua_tolstring(L, -1, &len);
    } else if (type == LUA_TNUMBER) {
      len = lua_isinteger(L, -1)
                ? (size_t)snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, -1))
                : (size_t)snprintf(num, sizeof num, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, -1));
      s = num;
    } else if (type != LUA_TNIL) {
      return luaL_error(L, "chat.pg.array: element %I is a %s", i, lua_typename(L, type));
    }
    lua_pop(L, pushed);
    if (i > 1) luaL_addchar(&b, ',');
    if (s == NULL) {
      luaL_addstring(&b, "NULL");
    } else {
      add_element(&b, s, len);
    }
  }
  luaL_addchar(&b, '}');
  luaL_pushresult(&b);
  return 1;
}
