/* chat.redis: any Redis command from a handler, yielding until the reply arrives. */
#include <lauxlib.h>
#include <stdlib.h>

#include "lua_api.h"
#include "lua_task.h"
#include "redis.h"
#include "redis_cluster.h"
#include "runtime.h"

enum { MAX_ARGS = 256 };

/* Converts a reply to Lua the way OpenResty's redis client does: a nil reply is a
 * sentinel (chat.null) so that "no value" and "failed" stay distinguishable. */
static void push_reply(lua_State *L, const redisReply *r) {
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      lua_pushinteger(L, (lua_Integer)r->integer);
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR:
      lua_pushlstring(L, r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      lua_createtable(L, (int)r->elements, 0);
      for (size_t i = 0; i < r->elements; i++) {
        push_reply(L, r->element[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      break;
    default: /* REDIS_REPLY_NIL */
      lua_pushlightuserdata(L, NULL);
  }
}

static void on_redis_reply(redisReply *reply, const char *err, void *ud) {
  chat_task *t = ud;
  lua_State *co = chat_task_thread(t);
  if (reply == NULL) {
    lua_pushnil(co);
    lua_pushstring(co, err);
    chat_task_resume(t, 2);
  } else if (reply->type == REDIS_REPLY_ERROR) {
    lua_pushnil(co);
    lua_pushlstring(co, reply->str, reply->len);
    chat_task_resume(t, 2);
  } else {
    push_reply(co, reply);
    chat_task_resume(t, 1);
  }
}

static int redis_call(lua_State *L) {
  chat_runtime *rt = lua_touserdata(L, lua_upvalueindex(1));
  int argc = lua_gettop(L);
  if (argc < 1 || argc > MAX_ARGS) return luaL_error(L, "chat.redis.call: expected 1 to %d arguments", MAX_ARGS);
  const char *argv[MAX_ARGS];
  size_t argvlen[MAX_ARGS];
  for (int i = 0; i < argc; i++) {
    int type = lua_type(L, i + 1);
    if (type != LUA_TSTRING && type != LUA_TNUMBER)
      return luaL_argerror(L, i + 1, "Redis arguments must be strings or numbers");
    /* The strings stay on this coroutine's stack until hiredis has formatted them,
     * which happens inside redisAsyncCommandArgv. */
    argv[i] = lua_tolstring(L, i + 1, &argvlen[i]);
  }
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.redis.call is only possible from a handler's own coroutine");
  int sent = rt->redis_cluster ? chat_redis_cluster_command(rt->redis_cluster, argc, argv, argvlen, on_redis_reply, t)
                               : chat_redis_command(rt->redis, argc, argv, argvlen, on_redis_reply, t);
  if (sent < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "Redis is unavailable");
    return 2;
  }
  return chat_task_yield(L);
}

void chat_lua_api_redis_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg fns[] = {{"call", redis_call}, {NULL, NULL}};
  lua_pushlightuserdata(L, rt);
  luaL_setfuncs(L, fns, 1);
}
