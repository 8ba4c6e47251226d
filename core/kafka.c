#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "kafka_stats.h"
#include "log.h"
#include "lua_task.h"
#include "runtime.h"

enum {
  PAUSE_AT = 200,      /* records waiting on one partition before it is paused */
  RESUME_AT = 20,
  FAILED_RETRY_MS = 1000 /* a record whose handler failed outright is tried again */
};

typedef struct part_state {
  struct part_state *next;
  chat_kafka *k;
  char *topic;
  int32_t partition;
  rd_kafka_message_t **queue; /* fetched, not started */
  size_t head, len, cap;
  rd_kafka_message_t *inflight; /* the record with the application, or waiting to retry */
  int running;                  /* a task is handling `inflight` right now */
  int paused;
  unsigned generation; /* bumped when the partition is revoked */
  uv_timer_t retry;
} part_state;

struct chat_kafka {
  chat_runtime *rt;
  rd_kafka_t *consumer, *producer;
  int cpipe[2], ppipe[2];
  uv_poll_t cpoll, ppoll;
  part_state *parts;
  int assigned;
  int subscribed;
  char last_error[256];
  chat_kafka_stats stats; /* the latest statistics; stats_read: any yet */
  int stats_read;
  int closing, handles_open;
  int tasks; /* records with the application: teardown waits for them */
  void (*on_closed)(void *ud);
  void *closed_ud;
  unsigned long produce_timeouts;
};

typedef struct {
  chat_kafka_delivery_cb cb;
  void *ud;
} delivery;

/* ---- partitions ---- */

static part_state *part_get(chat_kafka *k, const char *topic, int32_t partition) {
  for (part_state *p = k->parts; p; p = p->next)
    if (p->partition == partition && strcmp(p->topic, topic) == 0) return p;
  part_state *p = calloc(1, sizeof *p);
  p->k = k;
  p->topic = strdup(topic);
  p->partition = partition;
  uv_timer_init(k->rt->loop, &p->retry);
  p->retry.data = p;
  p->next = k->parts;
  k->parts = p;
  return p;
}

static void set_paused(part_state *p, int paused) {
  if (p->paused == paused) return;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
  if (paused) rd_kafka_pause_partitions(p->k->consumer, l);
  else rd_kafka_resume_partitions(p->k->consumer, l);
  rd_kafka_topic_partition_list_destroy(l);
  p->paused = paused;
}

static void drop_queue(part_state *p) {
  for (size_t i = 0; i < p->len; i++) rd_kafka_message_destroy(p->queue[(p->head + i) % p->cap]);
  p->head = p->len = 0;
}

static void enqueue(part_state *p, rd_kafka_message_t *m) {
  if (p->len == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    rd_kafka_message_t **q = malloc(cap * sizeof *q);
    for (size_t i = 0; i < p->len; i++) q[i] = p->queue[(p->head + i) % p->cap];
    free(p->queue);
    p->queue = q;
    p->cap = cap;
    p->head = 0;
  }
  p->queue[(p->head + p->len++) % p->cap] = m;
}

/* ---- handing records to the application ---- */

typedef struct {
  part_state *part;
  rd_kafka_message_t *msg;
  unsigned generation;
} record_call;

static void dispatch(part_state *p);
static void teardown(chat_kafka *k);

static int push_record(lua_State *co, void *ud) {
  const rd_kafka_message_t *m = ((record_call *)ud)->msg;
  lua_createtable(co, 0, 7);
  lua_pushstring(co, rd_kafka_topic_name(m->rkt));
  lua_setfield(co, -2, "topic");
  lua_pushinteger(co, m->partition);
  lua_setfield(co, -2, "partition");
  lua_pushinteger(co, m->offset);
  lua_setfield(co, -2, "offset");
  if (m->key) {
    lua_pushlstring(co, m->key, m->key_len);
    lua_setfield(co, -2, "key");
  }
  lua_pushlstring(co, m->payload ? m->payload : "", m->payload ? m->len : 0);
  lua_setfield(co, -2, "value");
  lua_newtable(co);
  rd_kafka_headers_t *hdrs = NULL;
  if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char *name;
    const void *value;
    size_t len;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &value, &len) == RD_KAFKA_RESP_ERR_NO_ERROR; i++) {
      lua_pushlstring(co, value ? value : "", value ? len : 0);
      lua_setfield(co, -2, name);
    }
  }
  lua_setfield(co, -2, "headers");
  return 1;
}

static void commit(part_state *p, const rd_kafka_message_t *m) {
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset = m->offset + 1;
  rd_kafka_resp_err_t err = rd_kafka_commit(p->k->consumer, l, 1);
  if (err) chat_log_warn("kafka", "commit of %s[%d]@%lld failed: %s", p->topic, p->partition,
                         (long long)m->offset, rd_kafka_err2str(err));
  rd_kafka_topic_partition_list_destroy(l);
}

static void on_retry_timer(uv_timer_t *t) { dispatch(t->data); }

static void record_done(chat_task *t, lua_State *co, int ok, int nres, void *ud) {
  (void)t;
  record_call *c = ud;
  part_state *p = c->part;
  p->k->tasks--;
  p->running = 0;
  int handled = ok && nres >= 1 && lua_toboolean(co, lua_gettop(co) - nres + 1);
  if (handled || c->generation != p->generation || p->k->closing) {
    /* Handled or dead-lettered: only now is the offset committed. A record of a partition
     * revoked meanwhile is not committed here: its new owner reads it again. */
    if (handled && c->generation == p->generation && !p->k->closing) commit(p, c->msg);
    rd_kafka_message_destroy(c->msg);
    p->inflight = NULL;
    free(c);
    if (p->k->closing) {
      if (p->k->tasks == 0) teardown(p->k);
      return;
    }
    if (p->paused && p->len <= RESUME_AT) set_paused(p, 0);
    dispatch(p);
    return;
  }
  /* The handler itself failed (a script error, the DLT unreachable): keep the record,
   * keep the partition's order, and try again shortly. */
  chat_log_warn("kafka", "record %s[%d]@%lld not handled; retrying in %d ms", p->topic, p->partition,
                (long long)c->msg->offset, FAILED_RETRY_MS);
  free(c);
  uv_timer_start(&p->retry, on_retry_timer, FAILED_RETRY_MS, 0);
}

static void dispatch(part_state *p) {
  chat_kafka *k = p->k;
  if (k->closing || p->running) return;
  if (p->inflight == NULL) {
    if (p->len == 0) return;
    p->inflight = p->queue[p->head];
    p->head = (p->head + 1) % p->cap;
    p->len--;
  } else if (uv_is_active((uv_handle_t *)&p->retry)) {
    return;
  }
  record_call *c = malloc(sizeof *c);
  c->part = p;
  c->msg = p->inflight;
  c->generation = p->generation;
  k->tasks++;
  p->running = 1;
  if (chat_task_spawn(k->rt->vm, "kafka_record", push_record, c, record_done, c) < 0) {
    chat_log_error("kafka", "the application has no kafka_record handler");
    k->tasks--;
    p->running = 0;
    free(c);
    uv_timer_start(&p->retry, on_retry_timer, FAILED_RETRY_MS, 0);
  }
}

/* ---- the consumer's queue ---- */

static void note_error(chat_kafka *k, const char *what) {
  if (strcmp(k->last_error, what) != 0) chat_log_warn("kafka", "%s", what);
  snprintf(k->last_error, sizeof k->last_error, "%s", what);
}

static void drain_pipe(int fd) {
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

static void on_consumer_ready(uv_poll_t *h, int status, int events) {
  (void)status, (void)events;
  chat_kafka *k = h->data;
  drain_pipe(k->cpipe[0]);
  rd_kafka_message_t *m;
  while (!k->closing && (m = rd_kafka_consumer_poll(k->consumer, 0)) != NULL) {
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) note_error(k, rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    k->last_error[0] = '\0';
    part_state *p = part_get(k, rd_kafka_topic_name(m->rkt), m->partition);
    enqueue(p, m);
    if (p->len >= PAUSE_AT) set_paused(p, 1);
    dispatch(p);
  }
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t *parts, void *opaque) {
  chat_kafka *k = opaque;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    rd_kafka_assign(rk, parts);
    k->assigned = parts->cnt;
    for (int i = 0; i < parts->cnt; i++) part_get(k, parts->elems[i].topic, parts->elems[i].partition)->paused = 0;
    chat_log_info("kafka", "assigned %d partition(s)", parts->cnt);
  } else {
    for (int i = 0; i < parts->cnt; i++) {
      part_state *p = part_get(k, parts->elems[i].topic, parts->elems[i].partition);
      p->generation++;
      drop_queue(p);
      p->paused = 0;
    }
    rd_kafka_assign(rk, NULL);
    k->assigned = 0;
    chat_log_info("kafka", "partitions revoked");
  }
}

static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque) {
  (void)rk;
  chat_kafka *k = opaque;
  chat_kafka_stats st;
  if (chat_kafka_stats_read(json, len, &st) == 0) k->stats = st, k->stats_read = 1;
  return 0; /* librdkafka frees json */
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
  (void)rk, (void)err;
  note_error(opaque, reason);
}

/* ---- the producer's queue ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
  (void)rk;
  chat_kafka *k = opaque;
  if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) k->produce_timeouts++;
  delivery *d = m->_private;
  if (d == NULL) return;
  d->cb(m->err ? rd_kafka_err2str(m->err) : NULL, d->ud);
  free(d);
}

static void on_producer_ready(uv_poll_t *h, int status, int events) {
  (void)status, (void)events;
  chat_kafka *k = h->data;
  drain_pipe(k->ppipe[0]);
  rd_kafka_poll(k->producer, 0);
}

/* ---- setup ---- */

static rd_kafka_conf_t *base_conf(chat_kafka *k, const char *bootstrap) {
  char err[256];
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rd_kafka_conf_set_opaque(conf, k);
  rd_kafka_conf_set_error_cb(conf, on_error);
  return conf;
}

static int bridge(chat_kafka *k, rd_kafka_queue_t *q, int fds[2], uv_poll_t *poll, uv_poll_cb cb) {
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  rd_kafka_queue_io_event_enable(q, fds[1], "1", 1);
  rd_kafka_queue_destroy(q);
  uv_poll_init(k->rt->loop, poll, fds[0]);
  poll->data = k;
  uv_poll_start(poll, UV_READABLE, cb);
  return 0;
}

chat_kafka *chat_kafka_new(chat_runtime *rt, const char *bootstrap, const char *group, int session_timeout_ms) {
  chat_kafka *k = calloc(1, sizeof *k);
  k->rt = rt;
  char err[512];
  rd_kafka_conf_t *cc = base_conf(k, bootstrap);
  rd_kafka_conf_set(cc, "group.id", group, err, sizeof err);
  rd_kafka_conf_set(cc, "auto.offset.reset", "earliest", err, sizeof err);
  rd_kafka_conf_set(cc, "enable.auto.commit", "false", err, sizeof err);
  rd_kafka_conf_set(cc, "enable.auto.offset.store", "false", err, sizeof err);
  char timeout[16];
  snprintf(timeout, sizeof timeout, "%d", session_timeout_ms);
  rd_kafka_conf_set(cc, "session.timeout.ms", timeout, err, sizeof err);
  /* A subscribed topic created later (or its new partitions) is noticed within seconds,
   * not librdkafka's default five minutes. */
  rd_kafka_conf_set(cc, "topic.metadata.refresh.interval.ms", "5000", err, sizeof err);
  rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
  /* Brokers connected and the lag as the broker sees it, for the metrics (kafka_stats.h). */
  rd_kafka_conf_set(cc, "statistics.interval.ms", "5000", err, sizeof err);
  rd_kafka_conf_set_stats_cb(cc, on_stats);
  k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
  rd_kafka_conf_t *pc = base_conf(k, bootstrap);
  rd_kafka_conf_set(pc, "enable.idempotence", "true", err, sizeof err);
  /* A broker that stops answering fails a produce after this long instead of librdkafka's
   * five minutes; the record it was for is then retried, its offset still uncommitted. */
  char produce_timeout[16];
  snprintf(produce_timeout, sizeof produce_timeout, "%d", rt->config.kafka_produce_timeout_ms);
  rd_kafka_conf_set(pc, "message.timeout.ms", produce_timeout, err, sizeof err);
  rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
  k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  if (k->consumer == NULL || k->producer == NULL) {
    chat_log_error("kafka", "cannot create the Kafka client: %s", err);
    if (k->consumer) rd_kafka_destroy(k->consumer);
    if (k->producer) rd_kafka_destroy(k->producer);
    free(k);
    return NULL;
  }
  rd_kafka_poll_set_consumer(k->consumer);
  bridge(k, rd_kafka_queue_get_consumer(k->consumer), k->cpipe, &k->cpoll, on_consumer_ready);
  bridge(k, rd_kafka_queue_get_main(k->producer), k->ppipe, &k->ppoll, on_producer_ready);
  chat_log_info("kafka", "consumer group %s on %s", group, bootstrap);
  return k;
}

void chat_kafka_subscribe(chat_kafka *k, char **topics) {
  size_t n = 0;
  while (topics && topics[n]) n++;
  if (n == 0) return;
  rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)n);
  for (size_t i = 0; i < n; i++) rd_kafka_topic_partition_list_add(l, topics[i], RD_KAFKA_PARTITION_UA);
  rd_kafka_resp_err_t err = rd_kafka_subscribe(k->consumer, l);
  rd_kafka_topic_partition_list_destroy(l);
  if (err) chat_log_error("kafka", "subscribe failed: %s", rd_kafka_err2str(err));
  else if (!k->subscribed) chat_log_info("kafka", "subscribed to %zu topic(s)", n);
  k->subscribed = 1;
}

int chat_kafka_produce(chat_kafka *k, const char *topic, const void *key, size_t key_len, const void *value,
                       size_t value_len, const chat_kafka_header *headers, size_t nheaders, chat_kafka_delivery_cb cb,
                       void *ud) {
  if (k->closing) return -1;
  rd_kafka_headers_t *hdrs = rd_kafka_headers_new(nheaders);
  for (size_t i = 0; i < nheaders; i++)
    rd_kafka_header_add(hdrs, headers[i].name, -1, headers[i].value, (ssize_t)headers[i].len);
  delivery *d = malloc(sizeof *d);
  d->cb = cb;
  d->ud = ud;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY((void *)key, key_len),
      RD_KAFKA_V_VALUE((void *)value, value_len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
      RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(d), RD_KAFKA_V_END);
  if (err) {
    rd_kafka_headers_destroy(hdrs);
    free(d);
    chat_log_warn("kafka", "produce to %s failed: %s", topic, rd_kafka_err2str(err));
    return -1;
  }
  return 0;
}

const chat_kafka_stats *chat_kafka_stats_latest(const chat_kafka *k) { return k->stats_read ? &k->stats : NULL; }

void chat_kafka_state(const chat_kafka *k, int *assigned, size_t *backlog, const char **last_error) {
  size_t b = 0;
  for (part_state *p = k->parts; p; p = p->next) b += p->len + (p->inflight != NULL);
  *assigned = k->assigned;
  *backlog = b;
  *last_error = k->last_error[0] ? k->last_error : NULL;
}

static void handle_closed(uv_handle_t *h) {
  chat_kafka *k = h->data;
  if (--k->handles_open > 0) return;
  for (part_state *p = k->parts, *n; p; p = n) {
    n = p->next;
    free(p->topic);
    free(p->queue);
    free(p);
  }
  close(k->cpipe[0]);
  close(k->cpipe[1]);
  close(k->ppipe[0]);
  close(k->ppipe[1]);
  void (*cb)(void *) = k->on_closed;
  void *ud = k->closed_ud;
  free(k);
  if (cb) cb(ud);
}

/* Runs once no record is with the application any more. */
static void teardown(chat_kafka *k) {
  /* Leaving the group lets the others take the partitions at once; records not handled
   * were not committed and are read again by the next owner. */
  rd_kafka_consumer_close(k->consumer);
  rd_kafka_flush(k->producer, 2000);
  for (part_state *p = k->parts; p; p = p->next) {
    drop_queue(p);
    if (p->inflight) rd_kafka_message_destroy(p->inflight);
    p->inflight = NULL;
  }
  rd_kafka_destroy(k->consumer);
  rd_kafka_destroy(k->producer);
  k->handles_open = 2;
  for (part_state *p = k->parts; p; p = p->next) {
    k->handles_open++;
    uv_timer_stop(&p->retry);
    p->retry.data = k;
    uv_close((uv_handle_t *)&p->retry, handle_closed);
  }
  uv_close((uv_handle_t *)&k->cpoll, handle_closed);
  uv_close((uv_handle_t *)&k->ppoll, handle_closed);
}

void chat_kafka_close(chat_kafka *k, void (*on_closed)(void *ud), void *ud) {
  k->closing = 1;
  k->on_closed = on_closed;
  k->closed_ud = ud;
  uv_poll_stop(&k->cpoll);
  /* A record waiting out its retry delay finishes first (at most a few seconds). */
  if (k->tasks == 0) teardown(k);
}

unsigned long chat_kafka_produce_timeouts(const chat_kafka *k) { return k->produce_timeouts; }
