/* chat.metrics: the Prometheus text for /actuator/prometheus, and the one business
 * counter the core cannot see by itself (messages stored; C holds no SQL). Request
 * latency is not here: app.http returns its route pattern and runtime.c observes it. */
#include <lauxlib.h>
#include <stdlib.h>

#include "http_server.h"
#include "kafka.h"
#include "lua_api.h"
#include "lua_task.h"
#include "lua_vm.h"
#include "metrics.h"
#include "pg.h"
#include "process_stats.h"
#include "redis.h"
#include "redis_cluster.h"
#include "redis_pubsub.h"
#include "runtime.h"
#include "sockjs_conn.h"
#include "stomp_session.h"

#ifndef CHAT_VERSION
#define CHAT_VERSION "unknown"
#endif

static chat_runtime *runtime_of(lua_State *L) { return lua_touserdata(L, lua_upvalueindex(1)); }

static void add_link(chat_metrics_snapshot *s, const char *host, int port, const char *link, int up) {
  if (s->redis_links == CHAT_METRICS_MAX_REDIS_LINKS) return;
  s->redis_link[s->redis_links].host = host;
  s->redis_link[s->redis_links].port = port;
  s->redis_link[s->redis_links].link = link;
  s->redis_link[s->redis_links++].up = up;
}

static void fill_redis(chat_metrics_snapshot *s, const chat_runtime *rt) {
  if (rt->redis) {
    s->redis_timeouts = chat_redis_stalls(rt->redis);
    s->redis_connected = chat_redis_connected(rt->redis);
    add_link(s, rt->config.redis_host, rt->config.redis_port, "command", s->redis_connected);
  }
  if (rt->redis_cluster) {
    const chat_redis_cluster *c = rt->redis_cluster;
    s->redis_cluster = 1;
    s->redis_timeouts = chat_redis_cluster_stalls(c);
    s->redis_connected = chat_redis_cluster_ready(c);
    s->redis_cluster_redirects = chat_redis_cluster_redirects(c);
    s->redis_cluster_topology_changes = chat_redis_cluster_topology_changes(c);
    for (size_t i = 0; i < chat_redis_cluster_masters(c); i++) {
      const char *host = "";
      int port = 0, up = 0;
      chat_redis_cluster_master_at(c, i, &host, &port, &up);
      add_link(s, host, port, "command", up);
    }
  }
  if (rt->pubsub) {
    chat_redis_pubsub_stats ps;
    chat_redis_pubsub_stats_get(rt->pubsub, &ps);
    s->redis_pubsub_connected = ps.up;
    s->redis_room_channels = ps.room_channels;
    s->redis_global_channels = ps.global_channels;
    s->redis_room_messages = ps.room_messages;
    s->redis_global_messages = ps.global_messages;
    s->redis_pubsub_stalls = ps.stalls;
    for (size_t i = 0; i < chat_redis_pubsub_links(rt->pubsub); i++) {
      const char *host = "";
      int port = 0, up = 0;
      chat_redis_pubsub_link_at(rt->pubsub, i, &host, &port, &up);
      add_link(s, host, port, "pubsub", up);
    }
  }
}

/* Reads every gauge from the module that owns it, at scrape time only. */
static void take_snapshot(const chat_runtime *rt, chat_metrics_snapshot *s) {
  s->version = CHAT_VERSION;
  s->scripts_version = rt->vm ? chat_vm_version(rt->vm) : "";
  s->app_name = rt->config.app_name;
  s->stopping = rt->stopping;
  s->ready = !rt->stopping && rt->pg && chat_pg_pool_connected(rt->pg) > 0;
  s->connections_limit = rt->http ? chat_http_server_limit(rt->http) : 0;
  s->sockjs_sessions_limit = rt->config.sockjs_max_sessions;
  s->jwks_enabled = rt->jwks != NULL;
  if (rt->http)
    s->connections_http = chat_http_server_connections(rt->http) - chat_http_server_upgraded(rt->http);
  s->sockjs_sessions = chat_sockjs_sessions();
  if (rt->stomp) {
    s->stomp_sessions = chat_stomp_hub_sessions(rt->stomp);
    s->stomp_subscriptions = chat_stomp_hub_subscriptions(rt->stomp);
    s->stomp_destinations = chat_stomp_hub_destinations(rt->stomp);
  }
  if (rt->pg) {
    s->pg_size = chat_pg_pool_size(rt->pg);
    s->pg_connected = chat_pg_pool_connected(rt->pg);
    chat_pg_pool_stats(rt->pg, &s->pg_queued, &s->pg_in_flight, &s->pg_pinned);
    chat_pg_pool_timeouts(rt->pg, &s->pg_statement_timeouts, &s->pg_connect_timeouts);
  }
  fill_redis(s, rt);
  if (rt->kafka) {
    const char *err;
    s->kafka_enabled = 1;
    chat_kafka_state(rt->kafka, &s->kafka_assigned_partitions, &s->kafka_backlog, &err);
    s->kafka_stats = chat_kafka_stats_latest(rt->kafka);
    s->kafka_produce_timeouts = chat_kafka_produce_timeouts(rt->kafka);
  }
  s->lua_tasks = chat_tasks_running();
  s->reloads = rt->reloads;
  s->reloads_failed = rt->reloads_failed;
  s->scripts_rejected = rt->scripts_rejected;
  s->uptime_seconds = (double)(uv_now(rt->loop) - rt->started_ms) / 1000.0;
  chat_process_stats ps;
  chat_process_stats_read(&ps, s->uptime_seconds);
  s->resident_bytes = ps.resident_bytes;
  s->virtual_bytes = ps.virtual_bytes;
  s->open_fds = ps.open_fds;
  s->max_fds = ps.max_fds;
  s->cpu_seconds = ps.cpu_seconds;
  s->start_time_seconds = ps.start_time_seconds;
}

/* chat.metrics.render() -> the exposition text */
static int render(lua_State *L) {
  chat_metrics_snapshot snap = {0};
  take_snapshot(runtime_of(L), &snap);
  size_t len = 0;
  char *text = chat_metrics_render(&snap, &len);
  if (text == NULL) return luaL_error(L, "out of memory rendering the metrics");
  lua_pushlstring(L, text, len);
  free(text);
  return 1;
}

/* chat.metrics.message_stored(type): after a message's INSERT committed. */
static int message_stored(lua_State *L) {
  chat_metrics_message_stored(luaL_checkstring(L, 1));
  return 0;
}

/* chat.metrics.access_denied(reason): "unauthenticated", "forbidden" or "internal" (the
 * core counts origins and SockJS sessions itself). Another word is a script bug. */
static int access_denied(lua_State *L) {
  chat_metrics.access_denied[luaL_checkoption(L, 1, NULL, chat_access_denial_names)]++;
  return 0;
}

/* chat.metrics.history_cache(outcome): "hit", "miss", "bypass" or "keyset" (history_cache.lua). */
static int history_cache(lua_State *L) {
  chat_metrics.history_cache[luaL_checkoption(L, 1, NULL, chat_history_outcome_names)]++;
  return 0;
}

/* chat.metrics.redis_unrouted(): a chat message came from Redis for a room this instance
 * has no subscriber for (chat/stomp/delivery.lua): the traffic sharded Pub/Sub saves. */
static int redis_unrouted(lua_State *L) {
  (void)L;
  chat_metrics.redis_unrouted++;
  return 0;
}

/* chat.metrics.send_failed(outcome): a SEND answered with an error, "refused" (the
 * client's fault) or "failed" (the server's); the core counts the stored ones. */
static int send_failed(lua_State *L) {
  static const char *const outcomes[] = {"refused", "failed", NULL};
  int i = luaL_checkoption(L, 1, NULL, outcomes);
  chat_metrics.stomp_sends[i == 0 ? CHAT_SEND_REFUSED : CHAT_SEND_FAILED]++;
  return 0;
}

/* chat.metrics.dead_letter(topic): a Kafka record sent to that dead-letter topic. */
static int dead_letter(lua_State *L) {
  chat_metrics_dead_letter(luaL_checkstring(L, 1));
  return 0;
}

void chat_lua_api_metrics_inject(lua_State *L, struct chat_runtime *rt) {
  static const luaL_Reg fns[] = {{"render", render}, {"message_stored", message_stored},
                                 {"access_denied", access_denied}, {"history_cache", history_cache},
                                 {"redis_unrouted", redis_unrouted}, {"send_failed", send_failed},
                                 {"dead_letter", dead_letter},
                                 {NULL, NULL}};
  lua_pushlightuserdata(L, rt);
  luaL_setfuncs(L, fns, 1);
}
