/* chat.redis: any Redis command from a handler, yielding until the reply arrives; or many
 * at once (chat.redis.pipeline), yielding until every reply arrived. */
#include <lauxlib.h>
#include <stdlib.h>

#include "lua_api.h"
#include "lua_task.h"
#include "redis.h"
#include "redis_cluster.h"
#include "runtime.h"

enum { MAX_ARGS = 256, MAX_PIPELINE = 1024 };

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

/* One command to the single Redis or, on a cluster, to its slot's node: 0 when cb will be
 * called, -1 (cb not called) when it cannot be sent. */
static int send_command(chat_runtime *rt, int argc, const char **argv, const size_t *argvlen,
                        chat_redis_reply_cb cb, void *ud) {
  return rt->redis_cluster ? chat_redis_cluster_command(rt->redis_cluster, argc, argv, argvlen, cb, ud)
                           : chat_redis_command(rt->redis, argc, argv, argvlen, cb, ud);
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
  int sent = send_command(rt, argc, argv, argvlen, on_redis_reply, t);
  if (sent < 0) {
    lua_pushnil(L);
    lua_pushliteral(L, "Redis is unavailable");
    return 2;
  }
  return chat_task_yield(L);
}

/* ---- chat.redis.pipeline{ {cmd, args...}, ... } -> replies, errors ----
 * Every command is sent before the first reply is awaited: one round trip for all of
 * them instead of one each. A task that invalidates the rooms of a 200-message batch one
 * INCR at a time waited a loop turn per room, and under load a turn is milliseconds: the
 * batch's messages waited 100 ms and more before their publish. */

typedef struct pipeline pipeline;
typedef struct {
  pipeline *owner;
  int index; /* 1-based, the command's place */
} pipeline_slot;

struct pipeline {
  chat_task *task;
  int pending;      /* replies still to come */
  int replies_ref;  /* registry: the replies table */
  int errors_ref;   /* registry: the errors table (LUA_NOREF until one fails) */
  pipeline_slot slot[];
};

/* Records a failure of command `index` in the errors table; the message is on top of co. */
static void pipeline_error(lua_State *co, pipeline *p, int index) {
  if (p->errors_ref == LUA_NOREF) {
    lua_newtable(co);
    p->errors_ref = luaL_ref(co, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(co, LUA_REGISTRYINDEX, p->errors_ref);
  lua_insert(co, -2);
  lua_rawseti(co, -2, index);
  lua_pop(co, 1);
}

/* Pushes the replies and the errors (or nil) and frees the pipeline. */
static void pipeline_push_results(lua_State *co, pipeline *p) {
  lua_rawgeti(co, LUA_REGISTRYINDEX, p->replies_ref);
  luaL_unref(co, LUA_REGISTRYINDEX, p->replies_ref);
  if (p->errors_ref == LUA_NOREF) {
    lua_pushnil(co);
  } else {
    lua_rawgeti(co, LUA_REGISTRYINDEX, p->errors_ref);
    luaL_unref(co, LUA_REGISTRYINDEX, p->errors_ref);
  }
  free(p);
}

static void on_pipeline_reply(redisReply *reply, const char *err, void *ud) {
  pipeline_slot *slot = ud;
  pipeline *p = slot->owner;
  lua_State *co = chat_task_thread(p->task);
  if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
    if (reply == NULL) lua_pushstring(co, err);
    else lua_pushlstring(co, reply->str, reply->len);
    pipeline_error(co, p, slot->index);
  } else {
    lua_rawgeti(co, LUA_REGISTRYINDEX, p->replies_ref);
    push_reply(co, reply);
    lua_rawseti(co, -2, slot->index);
    lua_pop(co, 1);
  }
  if (--p->pending > 0) return;
  chat_task *t = p->task;
  pipeline_push_results(co, p);
  chat_task_resume(t, 2);
}

static int redis_pipeline(lua_State *L) {
  chat_runtime *rt = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  if (n < 1 || n > MAX_PIPELINE) return luaL_error(L, "chat.redis.pipeline: expected 1 to %d commands", MAX_PIPELINE);
  for (lua_Integer i = 1; i <= n; i++) { /* all checked before any is sent */
    if (lua_rawgeti(L, 1, i) != LUA_TTABLE) return luaL_error(L, "chat.redis.pipeline: command %I is not a list", i);
    lua_Integer argc = (lua_Integer)lua_rawlen(L, -1);
    if (argc < 1 || argc > MAX_ARGS)
      return luaL_error(L, "chat.redis.pipeline: command %I needs 1 to %d arguments", i, MAX_ARGS);
    for (lua_Integer a = 1; a <= argc; a++) {
      int type = lua_rawgeti(L, -1, a);
      if (type != LUA_TSTRING && type != LUA_TNUMBER)
        return luaL_error(L, "chat.redis.pipeline: command %I: Redis arguments must be strings or numbers", i);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.redis.pipeline is only possible from a handler's own coroutine");
  luaL_checkstack(L, MAX_ARGS + 4, "chat.redis.pipeline: a command's arguments"); /* pushed one by one below */
  pipeline *p = malloc(sizeof *p + (size_t)n * sizeof(pipeline_slot));
  if (p == NULL) return luaL_error(L, "out of memory");
  p->task = t;
  p->pending = (int)n + 1; /* one more while sending, so no reply can finish it meanwhile */
  p->errors_ref = LUA_NOREF;
  lua_createtable(L, (int)n, 0);
  p->replies_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, 1, i);
    int argc = (int)lua_rawlen(L, -1);
    const char *argv[MAX_ARGS];
    size_t argvlen[MAX_ARGS];
    for (int a = 0; a < argc; a++) {
      lua_rawgeti(L, -1 - a, a + 1); /* kept on the stack until hiredis formatted it */
      argv[a] = lua_tolstring(L, -1, &argvlen[a]);
    }
    p->slot[i - 1] = (pipeline_slot){.owner = p, .index = (int)i};
    int sent = send_command(rt, argc, argv, argvlen, on_pipeline_reply, &p->slot[i - 1]);
    lua_pop(L, argc + 1);
    if (sent < 0) {
      lua_pushliteral(L, "Redis is unavailable");
      pipeline_error(L, p, (int)i);
      p->pending--;
    }
  }
  if (--p->pending > 0) return chat_task_yield(L);
  pipeline_push_results(L, p); /* no command could be sent */
  return 2;
}

void chat_lua_api_redis_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg fns[] = {{"call", redis_call}, {"pipeline", redis_pipeline}, {NULL, NULL}};
  lua_pushlightuserdata(L, rt);
  luaL_setfuncs(L, fns, 1);
}
