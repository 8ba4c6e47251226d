/* chatd: start-up, signals and graceful stop. The order matters: configuration (fail
 * fast with one clear line), migrations (before anything is served), pools, the Lua
 * application, and only then the listener, so readiness never lies.
 *
 * The stop on SIGTERM, all within CHAT_SHUTDOWN_TIMEOUT_MS:
 *   1. readiness reports DOWN and Eureka is told; for CHAT_SHUTDOWN_DRAIN_MS everything
 *      else keeps working, so the load balancer can take the pod out first;
 *   2. the listener closes and idle connections with it; every STOMP session stops
 *      reading, finishes the frames it read (a SEND is stored and gets its RECEIPT),
 *      then gets an ERROR and its socket closes; HTTP requests in flight are answered;
 *   3. once no connection is left: Kafka leaves its group, then every Lua task still
 *      running (presence cleanup, a last write) finishes before the pools close. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "eureka.h"
#include "jwks_fetch.h"
#include "http_server.h"
#include "kafka.h"
#include "log.h"
#include "lua_profile.h"
#include "lua_task.h"
#include "lua_vm.h"
#include "migrate.h"
#include "pg.h"
#include "redis.h"
#include "redis_cluster.h"
#include "redis_pubsub.h"
#include "runtime.h"
#include "script_watch.h"
#include "sockjs_conn.h"
#include "stomp_session.h"

enum { MIGRATION_WAIT_SECONDS = 60 };

static chat_runtime rt;
static uv_signal_t sig_hup, sig_term, sig_int;
static uv_timer_t shutdown_deadline, drain_timer, tasks_timer;
static int pending_closes;

enum { TASKS_POLL_MS = 10 };

static const char *env_lookup(const char *name) { return getenv(name); }

static void pubsub_link_changed(void *ud, int up) {
  chat_runtime *r = ud;
  if (r->stomp) chat_stomp_hub_link_changed(r->stomp, up);
}

static void reset_pubsub(void *ud) {
  chat_runtime *r = ud;
  if (r->pubsub) chat_redis_pubsub_reset(r->pubsub);
}

static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Where lua/, migrations/ and web/ are when no variable names them: beside the binary
 * in an installed layout (/opt/chatd/{chatd,lua}), or one level up from a build tree. */
static void find_install_dir(char *out, size_t len) {
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) {
    snprintf(out, len, ".");
    return;
  }
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0';
  char probe[PATH_MAX + 8];
  snprintf(probe, sizeof probe, "%s/lua", exe);
  if (is_dir(probe)) {
    snprintf(out, len, "%s", exe);
    return;
  }
  snprintf(probe, sizeof probe, "%s/../lua", exe);
  if (is_dir(probe) && strlen(exe) + 4 <= len) {
    strcpy(out, exe);
    strcat(out, "/..");
    return;
  }
  snprintf(out, len, "/usr/share/chatd");
}

static void on_handle_closed(uv_handle_t *h) {
  (void)h;
}

static void stop_loop_when_done(void) {
  if (--pending_closes > 0) return;
  uv_close((uv_handle_t *)&sig_hup, on_handle_closed);
  uv_close((uv_handle_t *)&sig_term, on_handle_closed);
  uv_close((uv_handle_t *)&sig_int, on_handle_closed);
  uv_close((uv_handle_t *)&shutdown_deadline, on_handle_closed);
  uv_close((uv_handle_t *)&drain_timer, on_handle_closed);
  uv_close((uv_handle_t *)&tasks_timer, on_handle_closed);
}

static void on_pool_closed(void *ud) {
  (void)ud;
  stop_loop_when_done();
}

static void on_kafka_closed(void *ud);

static void on_http_closed(void *ud) {
  (void)ud;
  /* No client can come back for a SockJS session, and no subscriber is left for what
   * the other instances publish. */
  chat_sockjs_stop_all();
  chat_redis_pubsub_close(rt.pubsub, on_pool_closed, NULL);
  rt.pubsub = NULL;
  /* Kafka first: a record being handled may still need the database. */
  if (rt.kafka) {
    chat_kafka_close(rt.kafka, on_kafka_closed, NULL);
    return;
  }
  on_kafka_closed(NULL);
}

static void close_pools(void) {
  chat_pg_pool_close(rt.pg, on_pool_closed, NULL);
  rt.pg = NULL;
  /* After the Pub/Sub side, which follows the cluster's map. */
  if (rt.redis_cluster) chat_redis_cluster_close(rt.redis_cluster, on_pool_closed, NULL);
  else chat_redis_close(rt.redis, on_pool_closed, NULL);
  rt.redis = NULL;
  rt.redis_cluster = NULL;
  chat_stomp_hub_free(rt.stomp);
  rt.stomp = NULL;
}

/* Tasks end on their own (their I/O completes or fails); polling for that is cheaper
 * than a notification hook on every task's end, and only runs during a stop. */
static void on_tasks_poll(uv_timer_t *t) {
  if (chat_tasks_running() > 0) return;
  uv_timer_stop(t);
  close_pools();
}

static void on_kafka_closed(void *ud) {
  (void)ud;
  rt.kafka = NULL;
  /* Every request has been answered; the pools go once the last task using them ended. */
  if (chat_tasks_running() == 0) {
    close_pools();
    return;
  }
  chat_log_info("main", "waiting for %d Lua task(s) to finish", chat_tasks_running());
  uv_timer_start(&tasks_timer, on_tasks_poll, TASKS_POLL_MS, TASKS_POLL_MS);
}

static void on_eureka_stopped(void *ud) {
  (void)ud;
  rt.eureka = NULL;
  stop_loop_when_done();
}

static void on_jwks_stopped(void *ud) {
  (void)ud;
  rt.jwks = NULL;
  stop_loop_when_done();
}

static void on_deadline(uv_timer_t *t) {
  (void)t;
  chat_log_error("main", "graceful stop did not finish within %d ms; exiting",
                 rt.config.shutdown_timeout_ms);
  exit(1);
}

static void on_drained(uv_timer_t *t) {
  (void)t;
  /* No new connection from here on. */
  chat_http_server_stop(rt.http, on_http_closed, NULL);
  /* STOMP clients finish what they sent, get an ERROR and reconnect to another pod. */
  chat_stomp_hub_drain(rt.stomp);
}

static void on_stop_signal(uv_signal_t *s, int signum) {
  (void)s;
  if (rt.stopping) {
    chat_log_warn("main", "second %s: exiting now", strsignal(signum));
    exit(1);
  }
  rt.stopping = 1;
  chat_log_info("main", "%s: stopping gracefully within %d ms", strsignal(signum),
                rt.config.shutdown_timeout_ms);
  /* No reload while stopping, and its handles must not keep the loop alive. */
  chat_script_watch_stop(rt.script_watch);
  rt.script_watch = NULL;
  uv_timer_start(&shutdown_deadline, on_deadline, (uint64_t)rt.config.shutdown_timeout_ms, 0);
  uv_unref((uv_handle_t *)&shutdown_deadline);
  pending_closes = 3 + (rt.eureka != NULL) + (rt.jwks != NULL);
  if (rt.jwks) chat_jwks_stop(rt.jwks, on_jwks_stopped, NULL);
  /* Out of the registry first, as Spring does at context close, so clients stop being
   * sent here while the connections drain; the DELETE has its own short timeout. */
  if (rt.eureka) chat_eureka_stop(rt.eureka, on_eureka_stopped, NULL);
  if (rt.config.shutdown_drain_ms > 0) {
    /* Readiness is DOWN from now on, but what arrives meanwhile is still served: the
     * load balancer has not yet noticed, and refusing now would fail those clients. */
    chat_log_info("main", "readiness DOWN; still serving for %d ms (CHAT_SHUTDOWN_DRAIN_MS)",
                  rt.config.shutdown_drain_ms);
    uv_timer_start(&drain_timer, on_drained, (uint64_t)rt.config.shutdown_drain_ms, 0);
    return;
  }
  on_drained(&drain_timer);
}

static void on_reload_signal(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  if (rt.stopping) return; /* the pools a new generation would bind to are closing */
  chat_log_info("reload", "SIGHUP: reloading scripts from %s", rt.config.lua_dir);
  chat_app_reload(&rt);
}

int main(void) {
  char install_dir[PATH_MAX];
  char err[512];
  find_install_dir(install_dir, sizeof install_dir);
  if (chat_log_set_format(getenv("CHAT_LOG_FORMAT")) < 0) {
    chat_log_error("config", "CHAT_LOG_FORMAT must be auto, json or text");
    return 2;
  }
  if (chat_config_load(&rt.config, env_lookup, install_dir, err, sizeof err) < 0) {
    chat_log_error("config", "%s", err);
    return 2;
  }
  chat_log_set_level(chat_log_parse_level(rt.config.log_level, CHAT_LOG_INFO));
  signal(SIGPIPE, SIG_IGN);
  if (rt.config.redis_cluster_nodes && chat_redis_cluster_seeds(rt.config.redis_cluster_nodes) == 0) {
    chat_log_error("config", "SPRING_DATA_REDIS_CLUSTER_NODES must be host:port[,host:port...], got '%s'",
                   rt.config.redis_cluster_nodes);
    return 2;
  }

  if (chat_migrate_run(rt.config.pg_conninfo, rt.config.migrations_dir, MIGRATION_WAIT_SECONDS) < 0)
    return 1;

  rt.loop = uv_default_loop();
  rt.started_ms = uv_now(rt.loop);
  rt.pg = chat_pg_pool_new(rt.loop, rt.config.pg_conninfo, rt.config.pg_pool_size,
                           rt.config.pg_statement_timeout_ms, rt.config.pg_connect_timeout_ms);
  if (rt.config.redis_cluster_nodes) {
    rt.redis_cluster = chat_redis_cluster_new(rt.loop, rt.config.redis_cluster_nodes, rt.config.redis_timeout_ms);
    if (rt.redis_cluster == NULL) return 1; /* out of memory: the seeds were checked above */
    chat_redis_cluster_on_ready(rt.redis_cluster, chat_app_redis_link_changed, &rt);
  } else {
    rt.redis = chat_redis_new(rt.loop, rt.config.redis_host, rt.config.redis_port, rt.config.redis_timeout_ms);
    /* A subscription alone cannot tell a silent Redis from a quiet one; the command link
     * can, and when it finds Redis silent the Pub/Sub link is made again too (its own
     * PING finds it as well, within the same timeout). */
    chat_redis_on_stall(rt.redis, reset_pubsub, &rt);
    chat_redis_on_link(rt.redis, chat_app_redis_link_changed, &rt);
  }
  rt.pubsub = chat_redis_pubsub_new(rt.loop, rt.config.redis_host, rt.config.redis_port, rt.redis_cluster,
                                    rt.config.redis_timeout_ms);
  /* Messages published while nothing listened are caught up from PostgreSQL. */
  chat_redis_pubsub_on_link(rt.pubsub, pubsub_link_changed, &rt);
  chat_redis_pubsub_on_message(rt.pubsub, chat_app_redis_message, &rt);
  chat_stomp_limits_config stomp_limits = {
      rt.config.stomp_max_frame_bytes, rt.config.stomp_max_queued_bytes,
      (uint64_t)rt.config.stomp_max_stall_ms, (unsigned)rt.config.stomp_heartbeat_ms,
      rt.config.stomp_max_headers, rt.config.stomp_max_subscriptions, rt.config.stomp_max_frames_per_second};
  rt.stomp = chat_stomp_hub_new(&rt, &stomp_limits);
  if (rt.config.kafka_enabled) rt.kafka = chat_kafka_new(&rt, rt.config.kafka_bootstrap, rt.config.kafka_group,
                                                   rt.config.kafka_session_timeout_ms);
  if (chat_app_reload(&rt) < 0) {
    chat_log_error("main", "cannot start without a valid Lua application in %s", rt.config.lua_dir);
    return 1;
  }

  rt.http = chat_http_server_start(rt.loop, &rt.config, chat_app_http_request, &rt);
  if (rt.http == NULL) return 1;

  uv_signal_init(rt.loop, &sig_hup);
  uv_signal_start(&sig_hup, on_reload_signal, SIGHUP);
  uv_signal_init(rt.loop, &sig_term);
  uv_signal_start(&sig_term, on_stop_signal, SIGTERM);
  uv_signal_init(rt.loop, &sig_int);
  uv_signal_start(&sig_int, on_stop_signal, SIGINT);
  uv_timer_init(rt.loop, &shutdown_deadline);
  uv_timer_init(rt.loop, &drain_timer);
  uv_timer_init(rt.loop, &tasks_timer);
  if (rt.config.lua_watch) rt.script_watch = chat_script_watch_start(&rt);

  chat_log_info("main", "chatd listening on %s:%d (pid %d)", rt.config.bind_address,
                rt.config.port, (int)getpid());
  /* Registered only once it serves: discovery never hands out a pod that refuses. */
  rt.eureka = chat_eureka_start(rt.loop, &rt.config);
  if (strcmp(rt.config.auth, "jwt") == 0)
    rt.jwks = chat_jwks_start(rt.loop, rt.config.jwt_jwks_url, rt.config.jwt_jwks_refresh_s);
  uv_run(rt.loop, UV_RUN_DEFAULT);

  chat_vm_retire(rt.vm);
  rt.vm = NULL;
  uv_loop_close(rt.loop);
  if (rt.config.lua_profile != NULL) {
    if (chat_lua_profile_save(rt.config.lua_profile) == 0)
      chat_log_info("main", "Lua profile (%llu samples) written to %s", (unsigned long long)chat_lua_profile_samples(),
                    rt.config.lua_profile);
    else
      chat_log_error("main", "cannot write the Lua profile to %s: %s", rt.config.lua_profile, strerror(errno));
  }
  chat_config_free(&rt.config);
  chat_log_info("main", "stopped");
  return 0;
}
