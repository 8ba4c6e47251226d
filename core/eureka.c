/* One request at a time, driven by one timer:
 *   register ──2xx──▶ renew every interval ──404──▶ register again
 *       └─failure─▶ next zone, or retry after a growing backoff
 * A failed renewal moves to the next zone as well; a zone that does not know the
 * instance answers 404 and gets a registration. */
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "eureka.h"
#include "eureka_instance.h"
#include "http_client.h"
#include "log.h"

enum {
  REQUEST_TIMEOUT_MS = 5000,
  DEREGISTER_TIMEOUT_MS = 2000, /* shutdown waits at most this for the DELETE */
  FIRST_BACKOFF_MS = 1000,
  MAX_BACKOFF_MS = 60000,
};

typedef enum { REGISTERING, RENEWING, DEREGISTERING } eureka_step;

struct chat_eureka {
  uv_loop_t *loop;
  chat_http_client *http;
  uv_timer_t timer;
  char **zones;
  size_t zone_count, zone;  /* the zone requests go to */
  size_t zones_tried;       /* failed zones in this round: all failed means back off */
  char *app_id;             /* CHAT-SERVICE */
  char *instance_id;
  char hostname[256], ip[64];
  chat_eureka_instance instance;
  long long last_dirty_ms;
  uint64_t renew_ms, backoff_ms, max_backoff_ms;
  eureka_step step;
  chat_http_client_req *inflight;
  int registered;           /* the current zone acknowledged a registration */
  int warned_down;          /* one warning per outage, then debug lines */
  void (*on_stopped)(void *ud);
  void *stopped_ud;
  int pending_closes;
};

static long long wall_clock_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The first non-loopback IPv4 address, as Spring Cloud's InetUtils picks by default. */
static void first_ipv4(char *out, size_t len) {
  snprintf(out, len, "127.0.0.1");
  struct ifaddrs *ifs;
  if (getifaddrs(&ifs) != 0) return;
  for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
    if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET) continue;
    struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
    if ((ntohl(a.s_addr) >> 24) == 127) continue;
    inet_ntop(AF_INET, &a, out, (socklen_t)len);
    break;
  }
  freeifaddrs(ifs);
}

static void schedule(chat_eureka *e, uint64_t delay_ms);
static void do_register(chat_eureka *e);
static void do_renew(chat_eureka *e);

/* A failed request: the next zone at once, or after a backoff once all were tried. */
static void on_failure(chat_eureka *e, const char *what, int status, const char *error) {
  const char *zone = e->zones[e->zone];
  if (!e->warned_down) {
    if (status) chat_log_warn("eureka", "%s at %s failed: HTTP %d; retrying", what, zone, status);
    else chat_log_warn("eureka", "%s at %s failed: %s; retrying", what, zone, error ? error : "no response");
  } else {
    chat_log_debug("eureka", "%s at %s failed again (%d %s)", what, zone, status, error ? error : "");
  }
  e->registered = 0;
  e->zone = (e->zone + 1) % e->zone_count;
  if (++e->zones_tried < e->zone_count) {
    schedule(e, 0);
    return;
  }
  e->warned_down = 1;
  e->zones_tried = 0;
  schedule(e, e->backoff_ms);
  e->backoff_ms = e->backoff_ms * 2 > e->max_backoff_ms ? e->max_backoff_ms : e->backoff_ms * 2;
}

static void on_success(chat_eureka *e) {
  if (e->warned_down) chat_log_info("eureka", "%s answers again", e->zones[e->zone]);
  e->warned_down = 0;
  e->zones_tried = 0;
  e->backoff_ms = FIRST_BACKOFF_MS;
  schedule(e, e->renew_ms);
}

static void on_registered(int status, const char *body, size_t body_len, const char *error, void *ud) {
  (void)body, (void)body_len;
  chat_eureka *e = ud;
  e->inflight = NULL;
  if (status == 204 || status == 200) {
    e->registered = 1;
    e->step = RENEWING;
    chat_log_info("eureka", "registered %s/%s with %s", e->app_id, e->instance_id, e->zones[e->zone]);
    on_success(e);
    return;
  }
  on_failure(e, "registration", status, error);
}

static void on_renewed(int status, const char *body, size_t body_len, const char *error, void *ud) {
  (void)body, (void)body_len;
  chat_eureka *e = ud;
  e->inflight = NULL;
  if (status == 200) {
    on_success(e);
    return;
  }
  if (status == 404) {
    /* The server forgot the lease (evicted, restarted, or deleted by hand). */
    chat_log_info("eureka", "%s does not know %s/%s: registering again", e->zones[e->zone], e->app_id,
                  e->instance_id);
    e->registered = 0;
    e->step = REGISTERING;
    do_register(e);
    return;
  }
  on_failure(e, "lease renewal", status, error);
}

static void do_register(chat_eureka *e) {
  char url[2048];
  snprintf(url, sizeof url, "%sapps/%s", e->zones[e->zone], e->app_id);
  e->last_dirty_ms = wall_clock_ms();
  char *doc = chat_eureka_instance_json(&e->instance, e->last_dirty_ms);
  static const char *const headers[] = {"Content-Type: application/json", "Accept: application/json", NULL};
  e->step = REGISTERING;
  e->inflight = doc ? chat_http_client_request(e->http, "POST", url, headers, doc, strlen(doc),
                                               REQUEST_TIMEOUT_MS, on_registered, e)
                    : NULL;
  free(doc);
  if (e->inflight == NULL) on_failure(e, "registration", 0, "request not started");
}

static void do_renew(chat_eureka *e) {
  char url[2048];
  snprintf(url, sizeof url, "%sapps/%s/%s?status=UP&lastDirtyTimestamp=%lld", e->zones[e->zone], e->app_id,
           e->instance_id, e->last_dirty_ms);
  static const char *const headers[] = {"Accept: application/json", NULL};
  e->inflight = chat_http_client_request(e->http, "PUT", url, headers, NULL, 0, REQUEST_TIMEOUT_MS, on_renewed, e);
  if (e->inflight == NULL) on_failure(e, "lease renewal", 0, "request not started");
}

static void on_timer(uv_timer_t *t) {
  chat_eureka *e = t->data;
  if (e->step == RENEWING && e->registered) do_renew(e);
  else do_register(e);
}

static void schedule(chat_eureka *e, uint64_t delay_ms) {
  uv_timer_start(&e->timer, on_timer, delay_ms, 0);
}

chat_eureka *chat_eureka_start(uv_loop_t *loop, const chat_config *cfg) {
  if (cfg->eureka_url == NULL) return NULL;
  chat_eureka *e = calloc(1, sizeof *e);
  if (e == NULL) return NULL;
  e->zones = chat_eureka_zones(cfg->eureka_url, &e->zone_count);
  e->http = chat_http_client_new(loop);
  if (e->zones == NULL || e->http == NULL) {
    chat_log_error("eureka", "cannot register: %s", e->zones ? "no HTTP client" : "no zone URL in the list");
    if (e->http) chat_http_client_close(e->http, NULL, NULL);
    chat_eureka_zones_free(e->zones);
    free(e);
    return NULL;
  }
  e->loop = loop;
  if (cfg->eureka_hostname) snprintf(e->hostname, sizeof e->hostname, "%s", cfg->eureka_hostname);
  else if (gethostname(e->hostname, sizeof e->hostname - 1) != 0 || e->hostname[0] == '\0')
    snprintf(e->hostname, sizeof e->hostname, "localhost");
  if (cfg->eureka_ip_address) snprintf(e->ip, sizeof e->ip, "%s", cfg->eureka_ip_address);
  else first_ipv4(e->ip, sizeof e->ip);
  e->instance = (chat_eureka_instance){
      .app_name = cfg->app_name,
      .instance_id = cfg->eureka_instance_id,
      .hostname = e->hostname,
      .ip_address = e->ip,
      .prefer_ip_address = cfg->eureka_prefer_ip_address,
      .port = cfg->port,
      .renewal_interval_s = cfg->eureka_renewal_interval_s,
      .lease_duration_s = cfg->eureka_lease_duration_s,
  };
  e->app_id = chat_eureka_app_id(cfg->app_name);
  e->instance_id = chat_eureka_instance_id(&e->instance);
  e->renew_ms = (uint64_t)cfg->eureka_renewal_interval_s * 1000;
  e->backoff_ms = FIRST_BACKOFF_MS;
  /* Like the Java client's heartbeat backoff bound (10 intervals), but never above a
   * minute so a pod registers soon after Eureka comes back. */
  e->max_backoff_ms = e->renew_ms * 10 < MAX_BACKOFF_MS ? e->renew_ms * 10 : MAX_BACKOFF_MS;
  if (e->max_backoff_ms < FIRST_BACKOFF_MS) e->max_backoff_ms = FIRST_BACKOFF_MS;
  uv_timer_init(loop, &e->timer);
  e->timer.data = e;
  chat_log_info("eureka", "registering %s/%s (%s, %s:%d) with %s", e->app_id, e->instance_id,
                e->instance.prefer_ip_address ? e->ip : e->hostname, e->ip, cfg->port, cfg->eureka_url);
  do_register(e);
  return e;
}

static void release_step(chat_eureka *e) {
  if (--e->pending_closes > 0) return;
  void (*done)(void *) = e->on_stopped;
  void *ud = e->stopped_ud;
  chat_eureka_zones_free(e->zones);
  free(e->app_id);
  free(e->instance_id);
  free(e);
  if (done) done(ud);
}

static void on_part_closed(void *ud) { release_step(ud); }
static void on_timer_closed(uv_handle_t *h) { release_step(h->data); }

static void finish_stop(chat_eureka *e) {
  e->pending_closes = 2;
  uv_close((uv_handle_t *)&e->timer, on_timer_closed);
  chat_http_client_close(e->http, on_part_closed, e);
}

static void on_deregistered(int status, const char *body, size_t body_len, const char *error, void *ud) {
  (void)body, (void)body_len;
  chat_eureka *e = ud;
  e->inflight = NULL;
  if (status == 200 || status == 404)
    chat_log_info("eureka", "deregistered %s/%s from %s", e->app_id, e->instance_id, e->zones[e->zone]);
  else if (status)
    chat_log_warn("eureka", "deregistration at %s failed: HTTP %d; the lease expires by itself", e->zones[e->zone],
                  status);
  else
    chat_log_warn("eureka", "deregistration at %s failed: %s; the lease expires by itself", e->zones[e->zone],
                  error ? error : "no response");
  finish_stop(e);
}

void chat_eureka_stop(chat_eureka *e, void (*on_stopped)(void *ud), void *ud) {
  e->on_stopped = on_stopped;
  e->stopped_ud = ud;
  uv_timer_stop(&e->timer);
  /* A registration still in flight may have reached the server: cancel the lease too. */
  int maybe_registered = e->registered || (e->step == REGISTERING && e->inflight != NULL);
  chat_http_client_cancel(e->inflight);
  e->inflight = NULL;
  e->step = DEREGISTERING;
  if (maybe_registered) {
    char url[2048];
    snprintf(url, sizeof url, "%sapps/%s/%s", e->zones[e->zone], e->app_id, e->instance_id);
    e->inflight = chat_http_client_request(e->http, "DELETE", url, NULL, NULL, 0, DEREGISTER_TIMEOUT_MS,
                                           on_deregistered, e);
    if (e->inflight) return;
  }
  finish_stop(e);
}
