/* chat.stomp: local delivery from Lua. Lua runs once per message; the per-subscriber
 * work (heads, writes) is all in C (stomp_session.c). */
#include <lauxlib.h>

#include "lua_api.h"
#include "runtime.h"
#include "stomp_session.h"


int chat_lua_stomp_headers(lua_State *L, int idx, const char **out) {
  int n = 0;
  out[0] = NULL;
  if (lua_isnoneornil(L, idx)) return 0;
  if (!lua_istable(L, idx)) return -1;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (n >= CHAT_STOMP_MAX_EXTRA_HEADERS || lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 2);
      out[0] = NULL;
      return -1;
    }
    /* The strings stay alive in the table, which stays on the stack. */
    out[2 * n] = lua_tostring(L, -2);
    out[2 * n + 1] = lua_tostring(L, -1);
    n++;
    lua_pop(L, 1);
  }
  out[2 * n] = NULL;
  return n;
}

static int collect_headers(lua_State *L, int idx, const char **out) {
  int n = chat_lua_stomp_headers(L, idx, out);
  if (n < 0)
    luaL_error(L, "headers: a table of at most %d string names and string values", CHAT_STOMP_MAX_EXTRA_HEADERS);
  return n;
}

/* chat.stomp.broadcast(destination, body[, headers[, message_id]]) -> deliveries */
static int stomp_broadcast(lua_State *L) {
  chat_stomp_hub *hub = lua_touserdata(L, lua_upvalueindex(1));
  const char *dest = luaL_checkstring(L, 1);
  size_t len;
  const char *body = luaL_checklstring(L, 2, &len);
  const char *headers[2 * CHAT_STOMP_MAX_EXTRA_HEADERS + 1];
  int nheaders = collect_headers(L, 3, headers);
  lua_Integer id = luaL_optinteger(L, 4, 0);
  luaL_argcheck(L, id >= 0, 4, "a message id is positive");
  /* A held chat message is kept as its body alone (core/stomp_catch_up.c). */
  luaL_argcheck(L, id == 0 || nheaders == 0, 3, "a chat message (with an id) takes no extra headers");
  lua_pushinteger(L, (lua_Integer)chat_stomp_hub_broadcast(hub, dest, body, len, headers, (uint64_t)id));
  return 1;
}

/* chat.stomp.send_to_session(session_id, destination, body[, headers]) -> deliveries */
static int stomp_send_to_session(lua_State *L) {
  chat_stomp_hub *hub = lua_touserdata(L, lua_upvalueindex(1));
  const char *sid = luaL_checkstring(L, 1);
  const char *dest = luaL_checkstring(L, 2);
  size_t len;
  const char *body = luaL_checklstring(L, 3, &len);
  const char *headers[2 * CHAT_STOMP_MAX_EXTRA_HEADERS + 1];
  collect_headers(L, 4, headers);
  lua_pushinteger(L, (lua_Integer)chat_stomp_hub_send_to_session(hub, sid, dest, body, len, headers));
  return 1;
}

/* chat.stomp.has_subscribers(destination) -> whether any local subscription has it */
static int stomp_has_subscribers(lua_State *L) {
  chat_stomp_hub *hub = lua_touserdata(L, lua_upvalueindex(1));
  lua_pushboolean(L, chat_stomp_hub_has_subscribers(hub, luaL_checkstring(L, 1)));
  return 1;
}

void chat_lua_api_stomp_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg fns[] = {{"broadcast", stomp_broadcast},
                                 {"has_subscribers", stomp_has_subscribers},
                                 {"send_to_session", stomp_send_to_session},
                                 {NULL, NULL}};
  lua_pushlightuserdata(L, rt->stomp);
  luaL_setfuncs(L, fns, 1);
}
