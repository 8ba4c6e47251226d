/* chat.kafka: producing from a handler, yielding until the broker acknowledges. */
#include <lauxlib.h>
#include <stdlib.h>

#include "kafka.h"
#include "lua_api.h"
#include "lua_task.h"
#include "runtime.h"

enum { MAX_HEADERS = 32 };

static void on_delivered(const char *err, void *ud) {
  chat_task *t = ud;
  lua_State *co = chat_task_thread(t);
  if (err == NULL) {
    lua_pushboolean(co, 1);
    chat_task_resume(t, 1);
  } else {
    lua_pushnil(co);
    lua_pushstring(co, err);
    chat_task_resume(t, 2);
  }
}

/* chat.kafka.produce(topic, key, value[, headers]) -> true | nil, err */
static int kafka_produce(lua_State *L) {
  chat_kafka *k = lua_touserdata(L, lua_upvalueindex(1));
  const char *topic = luaL_checkstring(L, 1);
  size_t key_len = 0, value_len = 0;
  const char *key = luaL_optlstring(L, 2, NULL, &key_len);
  const char *value = luaL_checklstring(L, 3, &value_len);
  chat_kafka_header headers[MAX_HEADERS];
  size_t n = 0;
  if (!lua_isnoneornil(L, 4)) {
    luaL_checktype(L, 4, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 4) != 0) {
      if (n == MAX_HEADERS) return luaL_error(L, "at most %d headers", MAX_HEADERS);
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        return luaL_error(L, "header names and values must be strings");
      headers[n].name = lua_tostring(L, -2);
      headers[n].value = lua_tolstring(L, -1, &headers[n].len);
      n++;
      lua_pop(L, 1); /* the strings stay referenced by the table */
    }
  }
  if (k == NULL) {
    lua_pushnil(L);
    lua_pushliteral(L, "Kafka is disabled (CHAT_KAFKA_ENABLED=0)");
    return 2;
  }
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.kafka.produce is only possible from a handler's own coroutine");
  if (chat_kafka_produce(k, topic, key, key ? key_len : 0, value, value_len, headers, n, on_delivered, t) < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "the record could not be queued");
    return 2;
  }
  return chat_task_yield(L);
}

static int kafka_state(lua_State *L) {
  chat_kafka *k = lua_touserdata(L, lua_upvalueindex(1));
  if (k == NULL) {
    lua_pushnil(L);
    return 1;
  }
  int assigned;
  size_t backlog;
  const char *err;
  chat_kafka_state(k, &assigned, &backlog, &err);
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, assigned);
  lua_setfield(L, -2, "assigned");
  lua_pushinteger(L, (lua_Integer)backlog);
  lua_setfield(L, -2, "backlog");
  if (err) {
    lua_pushstring(L, err);
    lua_setfield(L, -2, "error");
  }
  return 1;
}

void chat_lua_api_kafka_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg fns[] = {{"produce", kafka_produce}, {"state", kafka_state}, {NULL, NULL}};
  lua_pushlightuserdata(L, rt->kafka);
  luaL_setfuncs(L, fns, 1);
}
