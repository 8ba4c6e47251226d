/* chat.log, chat.now, chat.localtime, chat.offsettime, chat.sleep, chat.task_id/wait/wake, chat.config, chat.health, chat.stopping
 * and chat.null: the small primitives every handler needs. */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "handshake_credentials.h"
#include "jwks_fetch.h"
#include "log.h"
#include "lua_api.h"
#include "lua_task.h"
#include "pg.h"
#include "redis.h"
#include "redis_cluster.h"
#include "runtime.h"
#include "time_zone.h"

static chat_runtime *runtime_of(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

/* chat.log.<level>(fmt, ...): formatted with string.format, so scripts log the way they
 * build every other string. */
static int log_at(lua_State *L, chat_log_level level) {
  int n = lua_gettop(L);
  if (n > 1) {
    lua_getglobal(L, "string");
    lua_getfield(L, -1, "format");
    lua_remove(L, -2);
    lua_insert(L, 1);
    lua_call(L, n, 1);
  }
  const char *msg = luaL_tolstring(L, 1, NULL);
  chat_log(level, "lua", "%s", msg);
  return 0;
}
static int log_debug(lua_State *L) { return log_at(L, CHAT_LOG_DEBUG); }
static int log_info(lua_State *L) { return log_at(L, CHAT_LOG_INFO); }
static int log_warn(lua_State *L) { return log_at(L, CHAT_LOG_WARN); }
static int log_error(lua_State *L) { return log_at(L, CHAT_LOG_ERROR); }

static int now(lua_State *L) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  lua_pushnumber(L, (lua_Number)tv.tv_sec + (lua_Number)tv.tv_usec / 1e6);
  return 1;
}

/* The zones scripts name (the database's and the error timestamps'), each prepared once:
 * a zone caches its current offset (time_zone.c), so it must outlive the call. Names come
 * from the configuration, so a handful of slots is plenty; an unknown name is a
 * programmer error and raises. */
static chat_time_zone *zone_arg(lua_State *L, int idx) {
  static chat_time_zone zones[8];
  static size_t nzones;
  const char *name = luaL_checkstring(L, idx);
  for (size_t i = 0; i < nzones; i++) {
    if (strcmp(zones[i].name, name) == 0) return &zones[i];
  }
  if (nzones == sizeof zones / sizeof zones[0]) luaL_error(L, "too many time zones in use");
  char err[256];
  if (chat_time_zone_init(&zones[nzones], name, err, sizeof err) < 0) luaL_error(L, "%s", err);
  return &zones[nzones++];
}

/* chat.localtime(seconds [, zone]): "YYYY-MM-DDTHH:MM:SS[.ffffff]" in the zone, or in the
 * process's zone (TZ) without one, the way Jackson writes a LocalDateTime. */
static int localtime_iso(lua_State *L) {
  long micros;
  time_t whole = chat_time_split(luaL_checknumber(L, 1), 1e6, &micros);
  chat_time_zone *zone = lua_isnoneornil(L, 2) ? NULL : zone_arg(L, 2);
  char buf[48];
  size_t n = chat_time_local_iso(buf, sizeof buf, whole, micros, zone);
  lua_pushlstring(L, buf, n);
  return 1;
}

/* chat.offsettime(seconds, zone): "YYYY-MM-DDTHH:MM:SS.mmm+09:00", an instant with its
 * offset as Jackson writes a java.util.Date (Spring Boot's error timestamps). Milliseconds
 * are truncated, as Date holds them. */
static int offsettime_iso(lua_State *L) {
  lua_Number secs = luaL_checknumber(L, 1);
  time_t whole = (time_t)floor(secs);
  long millis = (long)((secs - (lua_Number)whole) * 1e3);
  if (millis > 999) millis = 999;
  char buf[64];
  size_t n = chat_time_offset_iso(buf, sizeof buf, whole, millis, zone_arg(L, 2));
  lua_pushlstring(L, buf, n);
  return 1;
}

typedef struct {
  uv_timer_t timer;
  chat_task *task;
} sleep_req;

static void sleep_closed(uv_handle_t *h) { free(h->data); }

static void sleep_done(uv_timer_t *timer) {
  sleep_req *req = timer->data;
  uv_close((uv_handle_t *)timer, sleep_closed);
  chat_task_resume(req->task, 0);
}

static int sleep_for(lua_State *L) {
  chat_runtime *rt = runtime_of(L);
  lua_Number secs = luaL_checknumber(L, 1);
  luaL_argcheck(L, secs >= 0 && secs <= 86400, 1, "seconds must be between 0 and 86400");
  chat_task *t = chat_task_from(L);
  if (t == NULL) return luaL_error(L, "chat.sleep is only possible from a handler's own coroutine");
  sleep_req *req = malloc(sizeof *req);
  req->task = t;
  uv_timer_init(rt->loop, &req->timer);
  req->timer.data = req;
  uv_timer_start(&req->timer, sleep_done, (uint64_t)(secs * 1000), 0);
  return chat_task_yield(L);
}

/* ---- one task waking another ----
 * chat.task_id() names the running task; chat.wait() suspends it until another task calls
 * chat.wake(id, ...), whose values wait() returns. Group commit needs this: the task that
 * runs a batch statement hands every waiting task its own result. A task can only be woken
 * while it waits: the registry table below lists exactly those, so a stale or repeated id
 * is refused (wake returns false) instead of touching a task that moved on. */

static const char WAITING_KEY = 0; /* registry[&WAITING_KEY]: task (light userdata) -> true */

typedef struct {
  uv_timer_t timer;
  chat_task *task;
  int nargs;
} wake_req;

static void push_waiting(lua_State *L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &WAITING_KEY) != LUA_TTABLE) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &WAITING_KEY);
  }
}

static chat_task *own_task(lua_State *L, const char *fn) {
  chat_task *t = chat_task_from(L);
  if (t == NULL) luaL_error(L, "%s is only possible from a handler's own coroutine", fn);
  return t;
}

static int task_id(lua_State *L) {
  lua_pushlightuserdata(L, own_task(L, "chat.task_id"));
  return 1;
}

static int wait_for_wake(lua_State *L) {
  chat_task *t = own_task(L, "chat.wait");
  push_waiting(L);
  lua_pushboolean(L, 1);
  lua_rawsetp(L, -2, t);
  lua_pop(L, 1);
  return chat_task_yield(L);
}

static void wake_closed(uv_handle_t *h) { free(h->data); }

static void wake_due(uv_timer_t *timer) {
  wake_req *req = timer->data;
  uv_close((uv_handle_t *)timer, wake_closed);
  chat_task_resume(req->task, req->nargs);
}

static int wake(lua_State *L) {
  chat_runtime *rt = runtime_of(L);
  luaL_checktype(L, 1, LUA_TLIGHTUSERDATA);
  chat_task *t = lua_touserdata(L, 1);
  push_waiting(L);
  int waiting = lua_rawgetp(L, -1, t) != LUA_TNIL;
  lua_pop(L, 1);
  if (!waiting) {
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pushnil(L);
  lua_rawsetp(L, -2, t);
  lua_pop(L, 1);
  int nargs = lua_gettop(L) - 1;
  lua_State *co = chat_task_thread(t);
  wake_req *req = malloc(sizeof *req);
  if (req == NULL || !lua_checkstack(co, nargs)) {
    free(req);
    return luaL_error(L, "out of memory waking a task");
  }
  /* The values wait in the suspended coroutine's stack; it resumes on the next loop turn,
   * never inside the waker's call. */
  lua_xmove(L, co, nargs);
  req->task = t;
  req->nargs = nargs;
  uv_timer_init(rt->loop, &req->timer);
  req->timer.data = req;
  uv_timer_start(&req->timer, wake_due, 0, 0);
  lua_pushboolean(L, 1);
  return 1;
}

static int health(lua_State *L) {
  chat_runtime *rt = runtime_of(L);
  lua_createtable(L, 0, 2);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, rt->pg ? chat_pg_pool_connected(rt->pg) : 0);
  lua_setfield(L, -2, "connected");
  lua_pushinteger(L, rt->pg ? chat_pg_pool_size(rt->pg) : 0);
  lua_setfield(L, -2, "size");
  lua_setfield(L, -2, "pg");
  lua_createtable(L, 0, 1);
  lua_pushboolean(L, rt->redis_cluster ? chat_redis_cluster_ready(rt->redis_cluster)
                                       : rt->redis && chat_redis_connected(rt->redis));
  lua_setfield(L, -2, "connected");
  lua_setfield(L, -2, "redis");
  return 1;
}

static int stopping(lua_State *L) {
  lua_pushboolean(L, runtime_of(L)->stopping);
  return 1;
}

/* chat.origin_allowed(origin): CHAT_ALLOWED_ORIGINS, the same check the WebSocket and
 * SockJS handshakes make, for the REST API's CORS answers. */
static int origin_allowed(lua_State *L) {
  lua_pushboolean(L, chat_origin_allowed(runtime_of(L)->config.allowed_origins, luaL_optstring(L, 1, NULL)));
  return 1;
}

/* chat.jwks(known) -> the text of CHAT_JWT_JWKS_URL's key set and its version; nil before
 * the first fetch, and when the version is still `known` (asked on every token, so the
 * text is copied into Lua only when it changed); chat.jwks_refresh(): fetch again soon
 * (a token named an unknown key). */
static int jwks_text(lua_State *L) {
  uint64_t version = 0;
  const char *text = chat_jwks_text(runtime_of(L)->jwks, &version);
  if (text == NULL || (lua_isinteger(L, 1) && (uint64_t)lua_tointeger(L, 1) == version)) return 0;
  lua_pushstring(L, text);
  lua_pushinteger(L, (lua_Integer)version);
  return 2;
}

static int jwks_refresh(lua_State *L) {
  chat_jwks_refresh_soon(runtime_of(L)->jwks);
  return 0;
}

static void push_config(lua_State *L, const chat_config *c) {
  lua_createtable(L, 0, 8);
  lua_pushinteger(L, c->port);
  lua_setfield(L, -2, "port");
  lua_pushstring(L, c->app_name);
  lua_setfield(L, -2, "app_name");
  lua_pushstring(L, c->redis_host);
  lua_setfield(L, -2, "redis_host");
  lua_pushinteger(L, c->redis_port);
  lua_setfield(L, -2, "redis_port");
  lua_pushboolean(L, c->redis_cluster_nodes != NULL);
  lua_setfield(L, -2, "redis_cluster");
  lua_pushstring(L, c->redis_pubsub_sharded ? "sharded" : "single");
  lua_setfield(L, -2, "redis_pubsub");
  lua_pushstring(L, c->kafka_bootstrap);
  lua_setfield(L, -2, "kafka_bootstrap");
  lua_pushstring(L, c->kafka_group);
  lua_setfield(L, -2, "kafka_group");
  lua_pushstring(L, c->lua_dir);
  lua_setfield(L, -2, "lua_dir");
  lua_pushstring(L, c->static_dir);
  lua_setfield(L, -2, "static_dir");
  lua_pushinteger(L, (lua_Integer)c->http_max_body_bytes);
  lua_setfield(L, -2, "http_max_body_bytes");
  lua_pushboolean(L, c->mixed_fleet);
  lua_setfield(L, -2, "mixed_fleet");
  lua_pushinteger(L, c->resume_max_messages);
  lua_setfield(L, -2, "resume_max_messages");
  lua_pushinteger(L, c->history_cache_mb);
  lua_setfield(L, -2, "history_cache_mb");
  lua_pushstring(L, c->db_time_zone);
  lua_setfield(L, -2, "db_time_zone");
  lua_pushstring(L, c->json_time_zone);
  lua_setfield(L, -2, "json_time_zone");
  /* chat.config.access: read by lua/chat/auth/access.lua (unset ones stay nil). */
  const struct {
    const char *name, *value;
  } access[] = {{"auth", c->auth},
                {"trusted_proxies", c->trusted_proxies},
                {"jwt_secret", c->jwt_secret},
                {"jwt_public_key_file", c->jwt_public_key_file},
                {"jwt_jwks_file", c->jwt_jwks_file},
                {"jwt_jwks_url", c->jwt_jwks_url},
                {"jwt_issuer", c->jwt_issuer},
                {"jwt_audience", c->jwt_audience},
                {"jwt_user_claim", c->jwt_user_claim},
                {"internal_networks", c->internal_networks},
                {"internal_token", c->internal_token},
                {"allowed_origins", c->allowed_origins}};
  lua_createtable(L, 0, (int)(sizeof access / sizeof access[0]) + 1);
  for (size_t i = 0; i < sizeof access / sizeof access[0]; i++) {
    if (access[i].value == NULL) continue;
    lua_pushstring(L, access[i].value);
    lua_setfield(L, -2, access[i].name);
  }
  lua_pushinteger(L, c->jwt_leeway_s);
  lua_setfield(L, -2, "jwt_leeway_s");
  lua_setfield(L, -2, "access");
}

void chat_lua_api_core_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg log_fns[] = {
      {"debug", log_debug}, {"info", log_info}, {"warn", log_warn}, {"error", log_error}, {NULL, NULL}};
  static const luaL_Reg fns[] = {{"now", now},         {"localtime", localtime_iso},
                                 {"offsettime", offsettime_iso},
                                 {"sleep", sleep_for}, {"health", health},
                                 {"stopping", stopping}, {"task_id", task_id},
                                 {"wait", wait_for_wake}, {"wake", wake},
                                 {"origin_allowed", origin_allowed}, {"jwks", jwks_text},
                                 {"jwks_refresh", jwks_refresh}, {NULL, NULL}};
  luaL_newlib(L, log_fns);
  lua_setfield(L, -2, "log");
  lua_pushlightuserdata(L, rt);
  luaL_setfuncs(L, fns, 1);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  push_config(L, &rt->config);
  lua_setfield(L, -2, "config");
}
