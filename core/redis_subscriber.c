/* A Pub/Sub connection read as a push stream (redis_subscriber.h). */
#include "redis_subscriber.h"

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "backoff.h"
#include "log.h"

enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000, IDLE_PROBE_MS = 1000 };

/* One TCP connection: its poll handle must be closed before hiredis closes the socket, so
 * it lives apart from the subscriber and is freed when libuv is done with it. */
typedef struct conn {
  uv_poll_t poll;
  redisContext *ctx;
  chat_redis_subscriber *s; /* NULL once dropped */
  int events;
} conn;

/* PINGs on their way, oldest first: Redis answers them in order, after whatever was sent
 * before them, so the oldest one's age says whether the link went silent. */
typedef struct {
  uint64_t sent_at;
  int barrier; /* asked for by the owner; else the link's own probe */
} ping;

struct chat_redis_subscriber {
  uv_loop_t *loop;
  char *host;
  int port;
  int timeout_ms;
  chat_redis_subscriber_events ev;
  void *ud;
  conn *conn; /* NULL while disconnected */
  int connecting, up, closing, logged_down, backoff_ms;
  uv_timer_t retry, watch;
  uint64_t last_reply_at, connect_started_at;
  ping *pings;
  size_t pings_head, pings_len, pings_cap;
  unsigned long stalls;
  void (*on_closed)(void *ud);
  void *closed_ud;
};

static void connect_now(chat_redis_subscriber *s);

static void on_retry(uv_timer_t *t) { connect_now(t->data); }

static void schedule_retry(chat_redis_subscriber *s) {
  if (s->closing) return;
  uv_timer_start(&s->retry, on_retry, chat_backoff_take(&s->backoff_ms, BACKOFF_MAX_MS), 0);
}

static void conn_closed(uv_handle_t *h) {
  conn *c = h->data;
  redisFree(c->ctx);
  free(c);
}

/* Forgets the connection (its handle closes later) and, unless closing, tells the owner
 * and makes another. */
static void drop_conn(chat_redis_subscriber *s) {
  conn *c = s->conn;
  if (c == NULL) return;
  s->conn = NULL;
  c->s = NULL;
  uv_poll_stop(&c->poll);
  uv_close((uv_handle_t *)&c->poll, conn_closed);
  s->pings_head = s->pings_len = 0;
  s->connecting = 0;
  int was_up = s->up;
  s->up = 0;
  if (s->closing) return;
  if (was_up && s->ev.link) s->ev.link(s->ud, s, 0);
  schedule_retry(s);
}

static void lost(chat_redis_subscriber *s, const char *what, const char *why) {
  if (!s->logged_down)
    chat_log_warn("redis", "Pub/Sub link to %s:%d: %s%s%s; reconnecting", s->host, s->port, what, why ? ": " : "",
                  why ? why : "");
  s->logged_down = 1;
  drop_conn(s);
}

static void on_poll(uv_poll_t *h, int status, int events);

static void want(conn *c, int events) {
  if (c->events == events) return;
  c->events = events;
  uv_poll_start(&c->poll, events, on_poll);
}

static int push_ping(chat_redis_subscriber *s, int barrier) {
  if (s->pings_len == s->pings_cap) {
    size_t cap = s->pings_cap ? s->pings_cap * 2 : 8;
    ping *p = malloc(cap * sizeof *p);
    if (p == NULL) return -1;
    for (size_t i = 0; i < s->pings_len; i++) p[i] = s->pings[(s->pings_head + i) % s->pings_cap];
    free(s->pings);
    s->pings = p;
    s->pings_cap = cap;
    s->pings_head = 0;
  }
  static const char *argv[1] = {"PING"};
  static const size_t argvlen[1] = {4};
  if (redisAppendCommandArgv(s->conn->ctx, 1, argv, argvlen) != REDIS_OK) return -1;
  s->pings[(s->pings_head + s->pings_len) % s->pings_cap] = (ping){uv_now(s->loop), barrier};
  s->pings_len++;
  want(s->conn, UV_READABLE | UV_WRITABLE);
  return 0;
}

static void on_pong(chat_redis_subscriber *s) {
  if (s->pings_len == 0) return;
  int barrier = s->pings[s->pings_head].barrier;
  s->pings_head = (s->pings_head + 1) % s->pings_cap;
  s->pings_len--;
  if (!s->up) {
    /* The first answer on a new connection: the owner subscribes now. */
    s->up = 1;
    s->backoff_ms = BACKOFF_MIN_MS;
    s->logged_down = 0;
    chat_log_info("redis", "Pub/Sub link connected to %s:%d", s->host, s->port);
    if (s->ev.link) s->ev.link(s->ud, s, 1);
  }
  if (barrier && s->conn && s->ev.barrier) s->ev.barrier(s->ud, s);
}

static int is(const redisReply *r, const char *word) {
  return r->type == REDIS_REPLY_STRING && strlen(word) == r->len && strncasecmp(r->str, word, r->len) == 0;
}

static void handle_reply(chat_redis_subscriber *s, const redisReply *r) {
  s->last_reply_at = uv_now(s->loop);
  if (r->type == REDIS_REPLY_STATUS && strcasecmp(r->str, "PONG") == 0) {
    on_pong(s);
  } else if (r->type == REDIS_REPLY_ERROR) {
    if (s->ev.error) s->ev.error(s->ud, s, r->str, r->len);
  } else if (r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && is(r->element[0], "pong")) {
    on_pong(s); /* PING on a subscribed connection answers ["pong", ""] */
  } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[1]->type == REDIS_REPLY_STRING) {
    const redisReply *kind = r->element[0], *ch = r->element[1], *payload = r->element[2];
    int sharded = is(kind, "smessage");
    if ((sharded || is(kind, "message")) && payload->type == REDIS_REPLY_STRING) {
      if (s->ev.message) s->ev.message(s->ud, sharded, ch->str, ch->len, payload->str, payload->len);
    } else if (is(kind, "sunsubscribe")) {
      if (s->ev.sharded_unsubscribed) s->ev.sharded_unsubscribed(s->ud, s, ch->str, ch->len);
    }
    /* (s)subscribe and unsubscribe confirmations: nothing to do */
  }
}

static void on_readable(chat_redis_subscriber *s, conn *c) {
  if (redisBufferRead(c->ctx) != REDIS_OK) {
    lost(s, "connection lost", c->ctx->errstr[0] ? c->ctx->errstr : NULL);
    return;
  }
  /* A handler may reset or close the link: stop at once when this connection is gone. */
  while (s->conn == c) {
    void *reply = NULL;
    if (redisGetReplyFromReader(c->ctx, &reply) != REDIS_OK) {
      lost(s, "unreadable answer", c->ctx->errstr);
      return;
    }
    if (reply == NULL) return;
    handle_reply(s, reply);
    freeReplyObject(reply);
  }
}

static void on_connected(chat_redis_subscriber *s, conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(c->ctx->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
    if (!s->logged_down)
      chat_log_warn("redis", "Pub/Sub link cannot connect to %s:%d: %s; retrying", s->host, s->port, strerror(err));
    s->logged_down = 1;
    drop_conn(s);
    return;
  }
  s->connecting = 0;
  s->last_reply_at = uv_now(s->loop);
  /* Its answer makes the link up (and tells it Redis answers, not just accepts). */
  if (push_ping(s, 0) < 0) lost(s, "cannot send", "out of memory");
}

static void on_poll(uv_poll_t *h, int status, int events) {
  conn *c = h->data;
  chat_redis_subscriber *s = c->s;
  if (s == NULL) return;
  if (status < 0) events = UV_READABLE | UV_WRITABLE; /* hiredis reads the socket's error itself */
  if (s->connecting) {
    if (events & UV_WRITABLE) on_connected(s, c);
    return;
  }
  if (events & UV_WRITABLE) {
    int done = 0;
    if (redisBufferWrite(c->ctx, &done) != REDIS_OK) {
      lost(s, "cannot send", c->ctx->errstr);
      return;
    }
    if (done) want(c, UV_READABLE);
  }
  if ((events & UV_READABLE) && s->conn == c) on_readable(s, c);
}

static void connect_now(chat_redis_subscriber *s) {
  if (s->closing || s->conn != NULL) return;
  redisContext *ctx = redisConnectNonBlock(s->host, s->port);
  conn *c = ctx && !ctx->err ? calloc(1, sizeof *c) : NULL;
  if (c == NULL || uv_poll_init(s->loop, &c->poll, ctx->fd) != 0) {
    if (!s->logged_down)
      chat_log_warn("redis", "Pub/Sub link cannot connect to %s:%d: %s; retrying", s->host, s->port,
                    ctx && ctx->err ? ctx->errstr : "out of memory");
    s->logged_down = 1;
    free(c);
    if (ctx) redisFree(ctx);
    schedule_retry(s);
    return;
  }
  c->ctx = ctx;
  c->s = s;
  c->poll.data = c;
  s->conn = c;
  s->connecting = 1;
  s->connect_started_at = uv_now(s->loop);
  want(c, UV_WRITABLE);
}

static void on_watch(uv_timer_t *t) {
  chat_redis_subscriber *s = t->data;
  if (s->conn == NULL || s->closing) return;
  uint64_t now = uv_now(s->loop);
  /* A connect that does not complete, or the oldest PING unanswered, for timeout_ms. */
  uint64_t since = s->connecting ? s->connect_started_at : s->pings_len ? s->pings[s->pings_head].sent_at : now;
  if (now - since >= (uint64_t)s->timeout_ms) {
    s->stalls++;
    lost(s, s->connecting ? "no connection" : "no answer", s->connecting ? "connect timed out" : "PING timed out");
    return;
  }
  /* A subscription alone cannot tell a quiet Redis from a silent one: probe when idle. */
  if (!s->connecting && s->pings_len == 0 && now - s->last_reply_at >= IDLE_PROBE_MS && push_ping(s, 0) < 0)
    lost(s, "cannot send", "out of memory");
}

chat_redis_subscriber *chat_redis_subscriber_new(uv_loop_t *loop, const char *host, int port, int timeout_ms,
                                                 const chat_redis_subscriber_events *events, void *ud) {
  chat_redis_subscriber *s = calloc(1, sizeof *s);
  if (s == NULL || (s->host = strdup(host)) == NULL) {
    free(s);
    return NULL;
  }
  s->loop = loop;
  s->port = port;
  s->timeout_ms = timeout_ms;
  s->ev = *events;
  s->ud = ud;
  s->backoff_ms = BACKOFF_MIN_MS;
  uv_timer_init(loop, &s->retry);
  s->retry.data = s;
  uv_timer_init(loop, &s->watch);
  s->watch.data = s;
  uint64_t tick = (uint64_t)(timeout_ms / 4 > 10 ? timeout_ms / 4 : 10);
  uv_timer_start(&s->watch, on_watch, tick, tick);
  uv_unref((uv_handle_t *)&s->watch);
  connect_now(s);
  return s;
}

int chat_redis_subscriber_send(chat_redis_subscriber *s, int argc, const char **argv, const size_t *argvlen) {
  if (!s->up || s->conn == NULL) return -1;
  if (redisAppendCommandArgv(s->conn->ctx, argc, argv, argvlen) != REDIS_OK) return -1;
  want(s->conn, UV_READABLE | UV_WRITABLE);
  return 0;
}

int chat_redis_subscriber_barrier(chat_redis_subscriber *s) {
  if (!s->up || s->conn == NULL) return -1;
  return push_ping(s, 1);
}

int chat_redis_subscriber_up(const chat_redis_subscriber *s) { return s->up; }
const char *chat_redis_subscriber_host(const chat_redis_subscriber *s) { return s->host; }
int chat_redis_subscriber_port(const chat_redis_subscriber *s) { return s->port; }
unsigned long chat_redis_subscriber_stalls(const chat_redis_subscriber *s) { return s->stalls; }

void chat_redis_subscriber_reset(chat_redis_subscriber *s) {
  if (s->conn == NULL || s->closing) return;
  s->logged_down = 1; /* the caller has said why */
  drop_conn(s);
}

static void watch_closed(uv_handle_t *h) {
  chat_redis_subscriber *s = h->data;
  if (s->on_closed) s->on_closed(s->closed_ud);
  free(s->pings);
  free(s->host);
  free(s);
}

static void retry_closed(uv_handle_t *h) {
  chat_redis_subscriber *s = h->data;
  uv_close((uv_handle_t *)&s->watch, watch_closed);
}

void chat_redis_subscriber_close(chat_redis_subscriber *s, void (*on_closed)(void *ud), void *ud) {
  s->closing = 1;
  s->on_closed = on_closed;
  s->closed_ud = ud;
  drop_conn(s);
  uv_timer_stop(&s->watch);
  uv_close((uv_handle_t *)&s->retry, retry_closed);
}
