/* The process-wide state of one chatd: its loop, configuration, connection pools and
 * the Lua generation that new work goes to. Everything that must survive a Lua reload
 * (sockets, pools, subscriptions) hangs off this struct, never off a lua_State.
 *
 * Only the struct lives here, no functions: every area reaches its siblings through it,
 * so a function here would make each of them depend on whatever implements it. The glue
 * that drives the areas (reloads, requests into the Lua application) is app.h. */
#ifndef CHAT_RUNTIME_H
#define CHAT_RUNTIME_H

#include <uv.h>

#include "config.h"

struct chat_vm;
struct chat_pg_pool;
struct chat_redis;
struct chat_redis_cluster;
struct chat_redis_pubsub;
struct chat_http_server;
struct chat_stomp_hub;
struct chat_kafka;
struct chat_script_watch;
struct chat_eureka;
struct chat_jwks;

typedef struct chat_runtime {
  uv_loop_t *loop;
  chat_config config;
  struct chat_pg_pool *pg;
  struct chat_redis *redis;         /* the command link to one Redis; NULL on a cluster */
  struct chat_redis_cluster *redis_cluster; /* commands on a Redis Cluster; NULL on one Redis */
  struct chat_http_server *http;
  struct chat_stomp_hub *stomp;     /* STOMP sessions and the subscription index */
  struct chat_kafka *kafka;        /* NULL when CHAT_KAFKA_ENABLED=0 */
  struct chat_redis_pubsub *pubsub; /* what other instances publish (core/redis_pubsub.h) */
  int redis_lost;                   /* the command link was lost and has not answered since */
  struct chat_eureka *eureka;       /* NULL unless EUREKA_CLIENT_SERVICE_URL_DEFAULTZONE is set */
  struct chat_jwks *jwks;           /* NULL unless CHAT_AUTH=jwt with CHAT_JWT_JWKS_URL */
  struct chat_vm *vm; /* the current generation: new tasks start here */
  int stopping;       /* set on SIGTERM: readiness reports DOWN */
  uint64_t started_ms;
  struct chat_script_watch *script_watch; /* NULL when CHAT_LUA_WATCH=0 */
  /* Reloads after the first load, by SIGHUP or by the watcher: those that replaced the
   * generation, and those rejected (the old scripts kept serving). Read by metrics. */
  uint64_t reloads;
  uint64_t reloads_failed;
  int scripts_rejected; /* the latest reload was rejected: the scripts on disk do not load */
} chat_runtime;

#endif
