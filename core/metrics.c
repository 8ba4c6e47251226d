/* Counters, labelled series and the Prometheus text rendering (see metrics.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "kafka_stats.h"

chat_metrics_counters chat_metrics;

/* ---- HTTP request series: (method, route, status) -> latency histogram ---- */

/* Fixed buckets in seconds (Prometheus' base unit): 1 ms .. 1 s, then +Inf. */
static const double BUCKETS[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
enum { NBUCKETS = sizeof BUCKETS / sizeof BUCKETS[0] };

/* Routes x methods x statuses of a real deployment stay well under this; past it every
 * new combination goes to one "OTHER" series, so a bug that leaks raw paths into the
 * route label cannot make scrapes grow without bound. */
enum { MAX_REQUEST_SERIES = 255, MAX_LABEL = 128 };

typedef struct {
  char method[16];
  char route[MAX_LABEL];
  int status; /* 0: the overflow series */
  uint64_t count;
  double sum;
  uint64_t in_bucket[NBUCKETS]; /* observations whose smallest bucket is this one */
} request_series;

static request_series requests[MAX_REQUEST_SERIES + 1];
static size_t nrequests;
static int overflow_used;

static request_series *find_request_series(const char *method, const char *route, int status) {
  for (size_t i = 0; i < nrequests; i++) {
    request_series *s = &requests[i];
    if (s->status == status && strcmp(s->route, route) == 0 && strcmp(s->method, method) == 0) return s;
  }
  if (nrequests < MAX_REQUEST_SERIES && strlen(method) < sizeof requests[0].method &&
      strlen(route) < sizeof requests[0].route) {
    request_series *s = &requests[nrequests++];
    snprintf(s->method, sizeof s->method, "%s", method);
    snprintf(s->route, sizeof s->route, "%s", route);
    s->status = status;
    return s;
  }
  request_series *s = &requests[MAX_REQUEST_SERIES];
  if (!overflow_used) {
    overflow_used = 1;
    snprintf(s->method, sizeof s->method, "OTHER");
    snprintf(s->route, sizeof s->route, "OTHER");
    s->status = 0;
  }
  return s;
}

void chat_metrics_observe_request(const char *method, const char *route, int status, double seconds) {
  if (seconds < 0) seconds = 0;
  request_series *s = find_request_series(method ? method : "OTHER", route ? route : "UNKNOWN", status);
  s->count++;
  s->sum += seconds;
  for (int i = 0; i < NBUCKETS; i++) {
    if (seconds <= BUCKETS[i]) {
      s->in_bucket[i]++;
      return;
    }
  }
  /* Slower than the last bucket: counted in +Inf only, which is the total count. */
}

/* ---- counters by a label the application names: message types, dead-letter topics ---- */

enum { MAX_LABEL_VALUES = 8, MAX_TYPE_LEN = 128 };

/* A bounded set: the last slot is kept for "OTHER", so unexpected values can never grow a
 * scrape or crowd it out. */
typedef struct {
  struct {
    char value[MAX_TYPE_LEN];
    uint64_t count;
  } slot[MAX_LABEL_VALUES];
  size_t n;
} label_counts;

static label_counts message_types, dead_letters;

static void label_counts_add(label_counts *c, const char *value) {
  if (value == NULL || strlen(value) >= MAX_TYPE_LEN) value = "OTHER";
  for (size_t i = 0; i < c->n; i++) {
    if (strcmp(c->slot[i].value, value) == 0) {
      c->slot[i].count++;
      return;
    }
  }
  if (c->n >= MAX_LABEL_VALUES - 1 && strcmp(value, "OTHER") != 0) {
    label_counts_add(c, "OTHER");
    return;
  }
  if (c->n == MAX_LABEL_VALUES) return; /* unreachable: "OTHER" was found above */
  snprintf(c->slot[c->n].value, MAX_TYPE_LEN, "%s", value);
  c->slot[c->n++].count = 1;
}

/* ---- SENDs: answered, by how long it took ---- */

static struct {
  uint64_t count;
  double sum;
  uint64_t in_bucket[NBUCKETS];
} sends;

void chat_metrics_observe_send(double seconds) {
  if (seconds < 0) seconds = 0;
  sends.count++;
  sends.sum += seconds;
  for (int i = 0; i < NBUCKETS; i++) {
    if (seconds <= BUCKETS[i]) {
      sends.in_bucket[i]++;
      return;
    }
  }
}

void chat_metrics_dead_letter(const char *topic) { label_counts_add(&dead_letters, topic); }

const char *const chat_access_denial_names[] = {"unauthenticated", "forbidden", "internal", "origin", "session",
                                                NULL};
const char *const chat_history_outcome_names[] = {"hit", "miss", "bypass", "keyset", NULL};
const char *const chat_send_outcome_names[] = {"stored", "refused", "failed", NULL};

void chat_metrics_message_stored(const char *type) { label_counts_add(&message_types, type); }

void chat_metrics_reset(void) {
  memset(&chat_metrics, 0, sizeof chat_metrics);
  memset(requests, 0, sizeof requests);
  nrequests = 0;
  overflow_used = 0;
  memset(&message_types, 0, sizeof message_types);
  memset(&dead_letters, 0, sizeof dead_letters);
  memset(&sends, 0, sizeof sends);
}

/* ---- rendering ---- */

typedef struct {
  char *data;
  size_t len, cap;
  int failed;
} text;

static void appendf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void appendf(text *t, const char *fmt, ...) {
  if (t->failed) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->data + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      t->failed = 1;
      return;
    }
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    size_t cap = t->cap * 2 + (size_t)n;
    char *d = realloc(t->data, cap);
    if (d == NULL) {
      t->failed = 1;
      return;
    }
    t->data = d;
    t->cap = cap;
  }
}

/* A label value as the format wants it: backslash, double quote and newline escaped. */
static const char *label_value(char *out, size_t cap, const char *v) {
  size_t n = 0;
  for (; v && *v && n + 2 < cap; v++) {
    if (*v == '\\' || *v == '"') out[n++] = '\\', out[n++] = *v;
    else if (*v == '\n') out[n++] = '\\', out[n++] = 'n';
    else out[n++] = *v;
  }
  out[n] = '\0';
  return out;
}

static void family(text *t, const char *name, const char *type, const char *help) {
  appendf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(text *t, const char *name, const char *help, uint64_t v) {
  family(t, name, "counter", help);
  appendf(t, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(text *t, const char *name, const char *help, double v) {
  family(t, name, "gauge", help);
  appendf(t, "%s %.17g\n", name, v);
}

static void render_requests(text *t) {
  static const char NAME[] = "chatd_http_server_requests_seconds";
  family(t, NAME, "histogram",
         "Requests answered by the application, by method, route pattern and status, and how long they took.");
  size_t n = nrequests + (overflow_used ? 1 : 0);
  for (size_t i = 0; i < n; i++) {
    const request_series *s = i < nrequests ? &requests[i] : &requests[MAX_REQUEST_SERIES];
    char method[64], route[2 * MAX_LABEL], status[16];
    label_value(method, sizeof method, s->method);
    label_value(route, sizeof route, s->route);
    if (s->status) snprintf(status, sizeof status, "%d", s->status);
    else snprintf(status, sizeof status, "OTHER");
    uint64_t cumulative = 0;
    for (int b = 0; b < NBUCKETS; b++) {
      cumulative += s->in_bucket[b];
      appendf(t, "%s_bucket{method=\"%s\",route=\"%s\",status=\"%s\",le=\"%g\"} %llu\n", NAME, method, route,
              status, BUCKETS[b], (unsigned long long)cumulative);
    }
    appendf(t, "%s_bucket{method=\"%s\",route=\"%s\",status=\"%s\",le=\"+Inf\"} %llu\n", NAME, method, route,
            status, (unsigned long long)s->count);
    appendf(t, "%s_sum{method=\"%s\",route=\"%s\",status=\"%s\"} %.9g\n", NAME, method, route, status, s->sum);
    appendf(t, "%s_count{method=\"%s\",route=\"%s\",status=\"%s\"} %llu\n", NAME, method, route, status,
            (unsigned long long)s->count);
  }
}

/* Cross-instance delivery on Redis: what this instance listens to and receives, and on a
 * cluster how the map moved and which node links are up (docs/redis-cluster.md). */
static void render_redis_pubsub(text *t, const chat_metrics_snapshot *s) {
  family(t, "chatd_redis_pubsub_channels", "gauge",
         "Redis channels subscribed: global ones (every room) and room channels (rooms with local subscribers).");
  appendf(t, "chatd_redis_pubsub_channels{kind=\"global\"} %zu\n", s->redis_global_channels);
  appendf(t, "chatd_redis_pubsub_channels{kind=\"room\"} %zu\n", s->redis_room_channels);
  family(t, "chatd_redis_pubsub_messages_total", "counter", "Messages received from Redis Pub/Sub, by kind of channel.");
  appendf(t, "chatd_redis_pubsub_messages_total{kind=\"global\"} %lu\n", s->redis_global_messages);
  appendf(t, "chatd_redis_pubsub_messages_total{kind=\"room\"} %lu\n", s->redis_room_messages);
  counter(t, "chatd_redis_messages_without_local_subscribers_total",
          "Chat messages received from Redis for a room this instance has no subscriber for.",
          chat_metrics.redis_unrouted);
  if (s->redis_cluster) {
    counter(t, "chatd_redis_cluster_redirects_total", "MOVED and ASK answers followed.", s->redis_cluster_redirects);
    counter(t, "chatd_redis_cluster_topology_changes_total",
            "Times the cluster's slot map changed (a failover, a resharding).", s->redis_cluster_topology_changes);
  }
  family(t, "chatd_redis_link_up", "gauge", "1 when the link to a Redis node answers, by node and kind of link.");
  for (size_t i = 0; i < s->redis_links; i++) {
    char host[2 * 256];
    appendf(t, "chatd_redis_link_up{node=\"%s:%d\",link=\"%s\"} %d\n",
            label_value(host, sizeof host, s->redis_link[i].host), s->redis_link[i].port, s->redis_link[i].link,
            s->redis_link[i].up);
  }
}

static void render_label_counts(text *t, const char *name, const char *label, const label_counts *c) {
  for (size_t i = 0; i < c->n; i++) {
    char value[2 * MAX_TYPE_LEN];
    appendf(t, "%s{%s=\"%s\"} %llu\n", name, label, label_value(value, sizeof value, c->slot[i].value),
            (unsigned long long)c->slot[i].count);
  }
}

/* SENDs to /app destinations: how each ended, and how long its answer took. */
static void render_sends(text *t) {
  family(t, "chatd_stomp_sends_total", "counter",
         "SENDs to /app destinations by outcome: stored (RECEIPT), refused (the client's fault), failed (the server's).");
  for (int i = 0; i < CHAT_SEND_OUTCOMES; i++)
    appendf(t, "chatd_stomp_sends_total{outcome=\"%s\"} %llu\n", chat_send_outcome_names[i],
            (unsigned long long)chat_metrics.stomp_sends[i]);
  static const char *const NAME = "chatd_stomp_send_seconds";
  family(t, NAME, "histogram", "Seconds from a SEND frame read to its answer (stored and published, or refused).");
  uint64_t cumulative = 0;
  for (int b = 0; b < NBUCKETS; b++) {
    cumulative += sends.in_bucket[b];
    appendf(t, "%s_bucket{le=\"%g\"} %llu\n", NAME, BUCKETS[b], (unsigned long long)cumulative);
  }
  appendf(t, "%s_bucket{le=\"+Inf\"} %llu\n", NAME, (unsigned long long)sends.count);
  appendf(t, "%s_sum %.6f\n%s_count %llu\n", NAME, sends.sum, NAME, (unsigned long long)sends.count);
}

/* From librdkafka's statistics: absent until the first arrives (5 s after start). */
static void render_kafka_stats(text *t, const chat_kafka_stats *st) {
  if (st == NULL) return;
  gauge(t, "chatd_kafka_brokers_up", "Kafka brokers (and the group coordinator) the consumer is connected to.",
        st->brokers_up);
  family(t, "chatd_kafka_consumer_lag_records", "gauge",
         "Records behind, by assigned partition, as the broker sees it: its high watermark less the committed offset.");
  for (size_t i = 0; i < st->npartitions; i++) {
    char topic[2 * CHAT_KAFKA_STATS_TOPIC_MAX];
    appendf(t, "chatd_kafka_consumer_lag_records{topic=\"%s\",partition=\"%d\"} %lld\n",
            label_value(topic, sizeof topic, st->partitions[i].topic), st->partitions[i].partition,
            (long long)st->partitions[i].lag);
  }
}

static void render_process(text *t, const chat_metrics_snapshot *s) {
  /* The names every Prometheus client library uses, so stock dashboards work. */
  if (s->cpu_seconds >= 0) {
    family(t, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.");
    appendf(t, "process_cpu_seconds_total %.6f\n", s->cpu_seconds);
  }
  if (s->resident_bytes >= 0) gauge(t, "process_resident_memory_bytes", "Resident memory size in bytes.", s->resident_bytes);
  if (s->virtual_bytes >= 0) gauge(t, "process_virtual_memory_bytes", "Virtual memory size in bytes.", s->virtual_bytes);
  if (s->open_fds >= 0) gauge(t, "process_open_fds", "Open file descriptors.", s->open_fds);
  if (s->max_fds >= 0) gauge(t, "process_max_fds", "The limit of open file descriptors.", s->max_fds);
  if (s->start_time_seconds >= 0)
    gauge(t, "process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.",
          s->start_time_seconds);
  gauge(t, "process_uptime_seconds", "Seconds since chatd started.", s->uptime_seconds);
}

char *chat_metrics_render(const chat_metrics_snapshot *s, size_t *len) {
  text t = {malloc(16384), 0, 16384, 0};
  if (t.data == NULL) return NULL;
  char version[64], scripts[64], app[128];
  family(&t, "chatd_build_info", "gauge", "Always 1; the labels name chatd's version, the scripts' hash and the application.");
  appendf(&t, "chatd_build_info{version=\"%s\",scripts=\"%s\",application=\"%s\"} 1\n",
          label_value(version, sizeof version, s->version), label_value(scripts, sizeof scripts, s->scripts_version),
          label_value(app, sizeof app, s->app_name));
  gauge(&t, "chatd_stopping", "1 once a graceful stop has begun (readiness is DOWN).", s->stopping);
  gauge(&t, "chatd_ready", "1 when readiness answers UP: PostgreSQL connected and no stop begun.", s->ready);
  gauge(&t, "chatd_connections_limit", "Connections accepted at most (CHAT_MAX_CONNECTIONS or the open-file limit).",
        (double)s->connections_limit);
  gauge(&t, "chatd_sockjs_sessions_limit", "SockJS sessions at most (CHAT_SOCKJS_MAX_SESSIONS).",
        (double)s->sockjs_sessions_limit);
  if (s->jwks_enabled) {
    counter(&t, "chatd_jwks_fetch_failures_total", "Fetches of CHAT_JWT_JWKS_URL's key set that failed.",
            chat_metrics.jwks_fetch_failures);
    gauge(&t, "chatd_jwks_last_success_timestamp_seconds",
          "When the key set was last fetched (Unix seconds); 0: never, RS256 tokens are refused.",
          chat_metrics.jwks_last_success);
  }

  family(&t, "chatd_connections", "gauge",
         "Open client connections by transport: raw WebSocket, SockJS sessions, and plain HTTP connections.");
  appendf(&t, "chatd_connections{transport=\"websocket\"} %lld\n", (long long)chat_metrics.websocket_connections);
  appendf(&t, "chatd_connections{transport=\"sockjs\"} %zu\n", s->sockjs_sessions);
  appendf(&t, "chatd_connections{transport=\"http\"} %zu\n", s->connections_http);
  counter(&t, "chatd_http_connections_accepted_total", "TCP connections accepted.",
          chat_metrics.http_connections_accepted);
  counter(&t, "chatd_http_connections_refused_total", "Connections answered 503 over CHAT_MAX_CONNECTIONS.",
          chat_metrics.http_connections_refused);
  counter(&t, "chatd_sockjs_sessions_refused_total", "SockJS sessions refused over CHAT_SOCKJS_MAX_SESSIONS.",
          chat_metrics.sockjs_sessions_refused);
  counter(&t, "chatd_stomp_limit_errors_total", "STOMP sessions closed with an ERROR for a per-connection limit.",
          chat_metrics.stomp_limit_errors);
  family(&t, "chatd_access_denied_total", "counter", "Requests and STOMP frames refused by access control, by reason.");
  for (size_t i = 0; chat_access_denial_names[i]; i++)
    appendf(&t, "chatd_access_denied_total{reason=\"%s\"} %llu\n", chat_access_denial_names[i],
            (unsigned long long)chat_metrics.access_denied[i]);
  family(&t, "chatd_history_cache_requests_total", "counter",
         "History pages answered, by outcome: hit (newest page from memory), miss (read, kept), bypass (read, not kept), keyset (read after the previous page).");
  for (size_t i = 0; chat_history_outcome_names[i]; i++)
    appendf(&t, "chatd_history_cache_requests_total{outcome=\"%s\"} %llu\n", chat_history_outcome_names[i],
            (unsigned long long)chat_metrics.history_cache[i]);
  counter(&t, "chatd_http_received_bytes_total", "Bytes read from client sockets, all protocols.",
          chat_metrics.http_bytes_in);
  counter(&t, "chatd_http_sent_bytes_total", "Bytes written to client sockets, all protocols.",
          chat_metrics.http_bytes_out);
  render_requests(&t);

  gauge(&t, "chatd_stomp_sessions", "Open STOMP sessions (WebSocket and SockJS).", (double)s->stomp_sessions);
  gauge(&t, "chatd_stomp_subscriptions", "STOMP subscriptions.", (double)s->stomp_subscriptions);
  gauge(&t, "chatd_stomp_destinations", "Destinations with at least one subscription.", (double)s->stomp_destinations);
  counter(&t, "chatd_stomp_frames_received_total", "STOMP frames received (heart-beats excluded).",
          chat_metrics.stomp_frames_in);
  counter(&t, "chatd_stomp_frames_sent_total", "STOMP frames sent (MESSAGE deliveries included).",
          chat_metrics.stomp_frames_out);
  counter(&t, "chatd_stomp_received_bytes_total", "Bytes of STOMP received, heart-beats included.",
          chat_metrics.stomp_bytes_in);
  counter(&t, "chatd_stomp_sent_bytes_total", "Bytes of STOMP frames sent, before transport framing.",
          chat_metrics.stomp_bytes_out);
  counter(&t, "chatd_stomp_deliveries_total", "MESSAGE frames delivered to subscriptions (fan-out).",
          chat_metrics.stomp_deliveries);
  counter(&t, "chatd_stomp_slow_consumers_dropped_total", "Sessions dropped for not keeping up with their messages.",
          chat_metrics.stomp_slow_consumers);
  counter(&t, "chatd_stomp_resumes_total", "Subscriptions resumed from a last-message-id.",
          chat_metrics.stomp_resumes);
  counter(&t, "chatd_stomp_replayed_messages_total", "Messages replayed from PostgreSQL to resumed subscriptions.",
          chat_metrics.stomp_replayed_messages);
  counter(&t, "chatd_stomp_duplicates_skipped_total",
          "Chat messages not delivered again to a destination that had them (a replay overlapping live delivery).",
          chat_metrics.stomp_duplicates_skipped);
  counter(&t, "chatd_redis_catch_ups_total", "Catch-ups from PostgreSQL after the Redis Pub/Sub link was down.",
          chat_metrics.redis_catch_ups);
  counter(&t, "chatd_redis_caught_up_messages_total", "Messages delivered by those catch-ups.",
          chat_metrics.redis_caught_up_messages);

  family(&t, "chatd_messages_stored_total", "counter", "Chat messages stored in PostgreSQL, by type.");
  render_label_counts(&t, "chatd_messages_stored_total", "type", &message_types);
  render_sends(&t);

  gauge(&t, "chatd_pg_pool_size", "PostgreSQL connections the pool keeps (CHAT_PG_POOL_SIZE).", s->pg_size);
  gauge(&t, "chatd_pg_pool_connected", "PostgreSQL connections connected now.", s->pg_connected);
  gauge(&t, "chatd_pg_statements_queued", "Statements waiting for a PostgreSQL connection.", (double)s->pg_queued);
  gauge(&t, "chatd_pg_statements_in_flight", "Statements sent to PostgreSQL, results pending.", (double)s->pg_in_flight);
  gauge(&t, "chatd_pg_pool_pinned", "PostgreSQL connections held by a transaction.", (double)s->pg_pinned);
  family(&t, "chatd_redis_connected", "gauge", "1 when the Redis connection is up, by connection.");
  appendf(&t, "chatd_redis_connected{connection=\"commands\"} %d\n", s->redis_connected);
  appendf(&t, "chatd_redis_connected{connection=\"pubsub\"} %d\n", s->redis_pubsub_connected);
  render_redis_pubsub(&t, s);
  family(&t, "chatd_dependency_timeouts_total", "counter",
         "Times a dependency stayed silent past its timeout: the connection was made again and the waiting work failed.");
  appendf(&t, "chatd_dependency_timeouts_total{dependency=\"postgresql\",kind=\"statement\"} %lu\n",
          s->pg_statement_timeouts);
  appendf(&t, "chatd_dependency_timeouts_total{dependency=\"postgresql\",kind=\"connect\"} %lu\n",
          s->pg_connect_timeouts);
  appendf(&t, "chatd_dependency_timeouts_total{dependency=\"redis\",kind=\"command\"} %lu\n", s->redis_timeouts);
  appendf(&t, "chatd_dependency_timeouts_total{dependency=\"redis\",kind=\"pubsub\"} %lu\n", s->redis_pubsub_stalls);
  if (s->kafka_enabled)
    appendf(&t, "chatd_dependency_timeouts_total{dependency=\"kafka\",kind=\"produce\"} %lu\n",
            s->kafka_produce_timeouts);
  if (s->kafka_enabled) {
    family(&t, "chatd_kafka_dead_letters_total", "counter", "Kafka records sent to a dead-letter topic, by that topic.");
    render_label_counts(&t, "chatd_kafka_dead_letters_total", "topic", &dead_letters);
    render_kafka_stats(&t, s->kafka_stats);
    gauge(&t, "chatd_kafka_consumer_assigned_partitions", "Kafka partitions assigned to this consumer.",
          s->kafka_assigned_partitions);
    gauge(&t, "chatd_kafka_consumer_backlog_records",
          "Kafka records fetched and not yet handled by this process (not the broker-side lag).",
          (double)s->kafka_backlog);
  }

  gauge(&t, "chatd_lua_tasks", "Lua handlers running or waiting for I/O.", s->lua_tasks);
  counter(&t, "chatd_lua_reloads_total", "Script reloads that replaced the running scripts.", s->reloads);
  counter(&t, "chatd_lua_reloads_failed_total", "Script reloads rejected (the previous scripts kept serving).",
          s->reloads_failed);
  gauge(&t, "chatd_lua_scripts_rejected",
        "1 while the latest reload was rejected: the scripts on disk do not load, the previous ones serve.",
        s->scripts_rejected);
  render_process(&t, s);
  if (t.failed) {
    free(t.data);
    return NULL;
  }
  *len = t.len;
  return t.data;
}
