/* The glue between the servers and the Lua application (app.h): every HTTP request
 * becomes a task running app.http(req), and SIGHUP swaps the generation new tasks start
 * in. Split from runtime.h's struct so the areas it drives need not depend back on it. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "http_server.h"
#include "log.h"
#include "lua_api.h"
#include "lua_task.h"
#include "lua_vm.h"
#include "metrics.h"
#include "kafka.h"
#include "redis.h"
#include "redis_pubsub.h"
#include "runtime.h"
#include "sockjs_conn.h"
#include "static_files.h"
#include "ws_conn.h"

static size_t count(char **list) {
  size_t n = 0;
  while (list && list[n]) n++;
  return n;
}

/* What the scripts listen to on Redis: classic channels (app.redis_channels), and room
 * channels (app.redis_room_channels, for destinations under app.redis_room_prefix). */
static void subscribe_redis(chat_runtime *rt, chat_vm *vm) {
  if (rt->pubsub == NULL) return;
  char **channels = chat_vm_strings(vm, "redis_channels");
  chat_redis_pubsub_set_channels(rt->pubsub, (const char *const *)channels, count(channels));
  chat_vm_strings_free(channels);
  char **rooms = chat_vm_strings(vm, "redis_room_channels");
  char **prefix = chat_vm_strings(vm, "redis_room_prefix");
  if (chat_redis_pubsub_set_rooms(rt->pubsub, prefix ? prefix[0] : NULL, (const char *const *)rooms, count(rooms)) < 0)
    chat_log_error("reload", "app.redis_room_channels: each needs one \"{}\" (the room's hash tag) and a "
                   "redis_room_prefix; a change while rooms are subscribed takes a restart. Kept as they were");
  chat_vm_strings_free(rooms);
  chat_vm_strings_free(prefix);
}

int chat_app_reload(chat_runtime *rt) {
  char err[512] = "";
  chat_vm *vm = chat_vm_new(rt, rt->config.lua_dir, CHAT_LUA_APIS, err, sizeof err);
  if (vm == NULL) {
    if (rt->vm == NULL) {
      /* At start there is nothing to keep serving: main says so and exits. */
      chat_log_error("reload", "cannot load the scripts from %s: %s", rt->config.lua_dir, err);
      return -1;
    }
    chat_log_error("reload", "reload of %s rejected, the previous scripts keep serving: %s",
                   rt->config.lua_dir, err);
    rt->reloads_failed++;
    rt->scripts_rejected = 1;
    return -1;
  }
  chat_vm *old = rt->vm;
  rt->vm = vm;
  rt->scripts_rejected = 0;
  if (old) rt->reloads++;
  subscribe_redis(rt, vm);
  if (rt->kafka) {
    char **topics = chat_vm_strings(vm, "kafka_topics");
    chat_kafka_subscribe(rt->kafka, topics);
    chat_vm_strings_free(topics);
  }
  chat_log_info("reload", "scripts %s loaded from %s%s%s", chat_vm_version(vm), rt->config.lua_dir,
                old ? ", replacing " : "", old ? chat_vm_version(old) : "");
  chat_vm_retire(old);
  return 0;
}

typedef struct {
  chat_http_conn *conn;
  const chat_http_request *req;
} http_call;

static int push_request(lua_State *co, void *ud) {
  const http_call *call = ud;
  const chat_http_request *req = call->req;
  lua_createtable(co, 0, 7);
  lua_pushstring(co, req->method);
  lua_setfield(co, -2, "method");
  lua_pushstring(co, chat_http_conn_peer(call->conn));
  lua_setfield(co, -2, "remote_addr");
  lua_pushstring(co, req->path);
  lua_setfield(co, -2, "path");
  lua_pushstring(co, req->query ? req->query : "");
  lua_setfield(co, -2, "query");
  lua_pushlstring(co, req->body ? req->body : "", req->body ? req->body_len : 0);
  lua_setfield(co, -2, "body");
  lua_createtable(co, 0, (int)req->header_count);
  for (size_t i = 0; i < req->header_count; i++) {
    lua_pushstring(co, req->headers[i].value);
    lua_setfield(co, -2, req->headers[i].name);
  }
  lua_setfield(co, -2, "headers");
  return 1;
}

static const char INTERNAL_ERROR_BODY[] =
    "{\"status\":500,\"error\":\"Internal Server Error\",\"message\":\"internal server error\"}";

/* The request's latency by route pattern: Lua knows the pattern (its router matched
 * it), C knows the clock, so app.http returns the pattern and C observes here. */
static void observe_request(chat_http_conn *conn, const char *route, int status) {
  chat_metrics_observe_request(chat_http_conn_request_method(conn), route, status,
                               chat_http_conn_request_seconds(conn));
}

static void respond_internal_error(chat_http_conn *conn) {
  static const char *const headers[] = {"Content-Type", "application/json", NULL};
  chat_http_respond(conn, 500, headers, INTERNAL_ERROR_BODY, sizeof INTERNAL_ERROR_BODY - 1);
}

enum { MAX_RESPONSE_HEADERS = 32 };

/* app.http returns status, body, headers, route (the matched route's pattern, or a
 * fixed word like "NOT_FOUND"); anything else is a script bug answered 500. */
static void http_done(chat_task *t, lua_State *co, int ok, int nres, void *ud) {
  (void)t;
  chat_http_conn *conn = ud;
  if (!ok) {
    observe_request(conn, "UNKNOWN", 500);
    respond_internal_error(conn);
    return;
  }
  int base = lua_gettop(co) - nres + 1;
  int isnum = 0;
  lua_Integer status = nres >= 1 ? lua_tointegerx(co, base, &isnum) : 0;
  const char *route = nres >= 4 && lua_type(co, base + 3) == LUA_TSTRING ? lua_tostring(co, base + 3) : "UNKNOWN";
  if (!isnum || status < 100 || status > 599) {
    chat_log_error("http", "app.http returned no valid status");
    observe_request(conn, route, 500);
    respond_internal_error(conn);
    return;
  }
  observe_request(conn, route, (int)status);
  size_t body_len = 0;
  const char *body = nres >= 2 ? lua_tolstring(co, base + 1, &body_len) : NULL;
  const char *headers[MAX_RESPONSE_HEADERS * 2 + 1];
  int h = 0;
  if (nres >= 3 && lua_istable(co, base + 2)) {
    lua_pushnil(co);
    while (lua_next(co, base + 2) != 0 && h < MAX_RESPONSE_HEADERS * 2) {
      if (lua_type(co, -2) == LUA_TSTRING && lua_type(co, -1) == LUA_TSTRING) {
        /* Both strings stay referenced by the table, which stays on the stack. */
        headers[h++] = lua_tostring(co, -2);
        headers[h++] = lua_tostring(co, -1);
      }
      lua_pop(co, 1);
    }
  }
  headers[h] = NULL;
  chat_http_respond(conn, (int)status, headers, body, body ? body_len : 0);
}

/* The STOMP endpoint of CONTRACT §4: SockJS under it, raw WebSocket at /ws-chat/websocket
 * and at /ws-chat itself. */
static const char SOCKJS_PREFIX[] = "/ws-chat";

static int is_websocket_path(const char *path) {
  return strcmp(path, "/ws-chat") == 0 || strcmp(path, "/ws-chat/websocket") == 0;
}

void chat_app_http_request(chat_http_conn *conn, const chat_http_request *req, void *ud) {
  chat_runtime *rt = ud;
  if (req->upgrade && is_websocket_path(req->path)) {
    chat_ws_conn_upgrade(rt, conn, req);
    return;
  }
  if (strncmp(req->path, SOCKJS_PREFIX, sizeof SOCKJS_PREFIX - 1) == 0 &&
      (req->path[sizeof SOCKJS_PREFIX - 1] == '\0' || req->path[sizeof SOCKJS_PREFIX - 1] == '/') &&
      chat_sockjs_handle(rt, conn, req, req->path + sizeof SOCKJS_PREFIX - 1))
    return;
  if (chat_static_serve(rt->config.static_dir, conn, req)) return;
  http_call call = {conn, req};
  if (chat_task_spawn(rt->vm, "http", push_request, &call, http_done, conn) < 0) {
    chat_log_error("http", "the application has no http handler");
    observe_request(conn, "UNKNOWN", 500);
    respond_internal_error(conn);
  }
}

typedef struct {
  const char *channel, *payload;
  size_t channel_len, payload_len;
} redis_message;

static int push_redis_message(lua_State *co, void *ud) {
  const redis_message *m = ud;
  lua_pushlstring(co, m->channel, m->channel_len);
  lua_pushlstring(co, m->payload, m->payload_len);
  return 2;
}

static void redis_message_done(chat_task *t, lua_State *co, int ok, int nres, void *ud) {
  (void)t, (void)co, (void)ok, (void)nres, (void)ud;
}

void chat_app_redis_message(const char *channel, size_t channel_len, const char *payload,
                            size_t payload_len, void *ud) {
  chat_runtime *rt = ud;
  redis_message m = {channel, payload, channel_len, payload_len};
  if (chat_task_spawn(rt->vm, "redis_message", push_redis_message, &m, redis_message_done, NULL) < 0)
    chat_log_warn("redis", "message on %.*s but the application has no redis_message handler",
                  (int)channel_len, channel);
}

static int push_nothing(lua_State *co, void *ud) {
  (void)co, (void)ud;
  return 0;
}

void chat_app_redis_link_changed(void *ud, int up) {
  chat_runtime *rt = ud;
  if (!up) {
    rt->redis_lost = 1;
    return;
  }
  if (!rt->redis_lost) return; /* the first connect: nothing was lost */
  rt->redis_lost = 0;
  if (chat_task_spawn(rt->vm, "redis_restored", push_nothing, NULL, redis_message_done, NULL) < 0)
    chat_log_warn("redis", "Redis is back but the application has no redis_restored handler");
}
