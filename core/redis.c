#include <hiredis/async.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "log.h"
#include "redis.h"

/* ---- hiredis on libuv ----
 * hiredis ships a libuv adapter, but it ignores a poll error status: libuv reports a
 * refused connect (POLLERR) as an error and stops the poll, so hiredis never learns the
 * connect failed and the client waits forever. This adapter hands errors to hiredis as
 * readiness instead, and hiredis then reads the socket error itself. */

typedef struct {
  redisAsyncContext *ac;
  uv_poll_t poll;
  int events;
} uv_redis_events;

static void uv_redis_poll(uv_poll_t *h, int status, int events) {
  uv_redis_events *p = h->data;
  if (status < 0) events = UV_READABLE | UV_WRITABLE;
  if (p->ac != NULL && (events & UV_WRITABLE)) redisAsyncHandleWrite(p->ac);
  if (p->ac != NULL && (events & UV_READABLE)) redisAsyncHandleRead(p->ac);
}

static void uv_redis_update(uv_redis_events *p, int add, int del) {
  p->events = (p->events | add) & ~del;
  if (p->events) uv_poll_start(&p->poll, p->events, uv_redis_poll);
  else uv_poll_stop(&p->poll);
}

static void uv_redis_add_read(void *d) { uv_redis_update(d, UV_READABLE, 0); }
static void uv_redis_del_read(void *d) { uv_redis_update(d, 0, UV_READABLE); }
static void uv_redis_add_write(void *d) { uv_redis_update(d, UV_WRITABLE, 0); }
static void uv_redis_del_write(void *d) { uv_redis_update(d, 0, UV_WRITABLE); }
static void uv_redis_closed(uv_handle_t *h) { free(h->data); }

static void uv_redis_cleanup(void *d) {
  uv_redis_events *p = d;
  p->ac = NULL; /* hiredis is freeing the context */
  uv_close((uv_handle_t *)&p->poll, uv_redis_closed);
}

static int uv_redis_attach(redisAsyncContext *ac, uv_loop_t *loop) {
  uv_redis_events *p = calloc(1, sizeof *p);
  if (p == NULL || uv_poll_init(loop, &p->poll, ac->c.fd) != 0) {
    free(p);
    return REDIS_ERR;
  }
  p->ac = ac;
  p->poll.data = p;
  ac->ev.data = p;
  ac->ev.addRead = uv_redis_add_read;
  ac->ev.delRead = uv_redis_del_read;
  ac->ev.addWrite = uv_redis_add_write;
  ac->ev.delWrite = uv_redis_del_write;
  ac->ev.cleanup = uv_redis_cleanup;
  return REDIS_OK;
}

enum { BACKOFF_MIN_MS = 100, BACKOFF_MAX_MS = 5000, IDLE_PROBE_MS = 5000 };

/* A command on its way: replies come back in the order commands were sent, so the oldest
 * unanswered one is the head of this list and its age says whether Redis went silent. */
typedef struct pending_cmd {
  struct pending_cmd *next, *prev;
  chat_redis_reply_cb cb; /* NULL for the link's own probes */
  void *ud;
  uint64_t sent_at;
} pending_cmd;

struct chat_redis {
  uv_loop_t *loop;
  char *host;
  int port;
  redisAsyncContext *ac; /* NULL while disconnected */
  int connected;
  int closing;
  int backoff_ms;
  int logged_down; /* one log line per outage, not one per retry */
  uv_timer_t retry;
  void (*on_closed)(void *ud);
  void *closed_ud;
  /* A Redis that stops answering without closing (paused, partitioned) is detected by the
   * age of the oldest unanswered command (and an idle probe), then the link is dropped and
   * made again, so no caller waits longer than timeout_ms. `healthy` is set only once the
   * new connection has answered (PING, or the first SUBSCRIBE): until then commands fail
   * at once instead of each waiting out the timeout. */
  int timeout_ms;
  uint64_t last_reply_at;
  pending_cmd *pending_head, *pending_tail;
  const char *fail_reason; /* what callers hear while a stalled link is being dropped */
  uv_timer_t watch;
  unsigned long stalls;
  void (*on_stall)(void *ud);
  void *stall_ud;
  void (*on_link)(void *ud, int up);
  void *link_ud;
};

static void link_down(chat_redis *r) {
  if (!r->connected) return;
  r->connected = 0;
  if (r->on_link && !r->closing) r->on_link(r->link_ud, 0);
}

static void redis_connect(chat_redis *r);

static void on_retry(uv_timer_t *t) { redis_connect(t->data); }

static void schedule_retry(chat_redis *r) {
  if (r->closing) return;
  uv_timer_start(&r->retry, on_retry, chat_backoff_take(&r->backoff_ms, BACKOFF_MAX_MS), 0);
}

static void watch_closed(uv_handle_t *h) {
  chat_redis *r = h->data;
  if (r->on_closed) r->on_closed(r->closed_ud);
  free(r->host);
  free(r);
}

static void retry_closed(uv_handle_t *h) {
  chat_redis *r = h->data;
  uv_close((uv_handle_t *)&r->watch, watch_closed);
}

static void pending_push(chat_redis *r, pending_cmd *p) {
  p->next = NULL;
  p->prev = r->pending_tail;
  if (r->pending_tail) r->pending_tail->next = p;
  else r->pending_head = p;
  r->pending_tail = p;
}

static void pending_unlink(chat_redis *r, pending_cmd *p) {
  if (p->prev) p->prev->next = p->next;
  else r->pending_head = p->next;
  if (p->next) p->next->prev = p->prev;
  else r->pending_tail = p->prev;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

/* Sends a command the link tracks; cb NULL for the link's own probes. */
static int send_tracked(chat_redis *r, int argc, const char **argv, const size_t *argvlen,
                        chat_redis_reply_cb cb, void *ud) {
  pending_cmd *p = malloc(sizeof *p);
  if (p == NULL) return -1;
  p->cb = cb;
  p->ud = ud;
  p->sent_at = uv_now(r->loop);
  if (redisAsyncCommandArgv(r->ac, on_reply, p, argc, argv, argvlen) != REDIS_OK) {
    free(p);
    return -1;
  }
  pending_push(r, p);
  return 0;
}

/* The first answer on a new connection makes the link usable. */
static void mark_healthy(chat_redis *r) {
  if (r->connected) return;
  r->connected = 1;
  r->backoff_ms = BACKOFF_MIN_MS;
  chat_log_info("redis", "command link connected to %s:%d", r->host, r->port);
  r->logged_down = 0;
  if (r->on_link) r->on_link(r->link_ud, 1);
}

static void on_connect(const redisAsyncContext *ac, int status) {
  chat_redis *r = ac->data;
  if (status != REDIS_OK) {
    /* hiredis frees the context after this callback. */
    if (!r->logged_down) {
      chat_log_warn("redis", "cannot connect to %s:%d: %s; retrying", r->host, r->port, ac->errstr);
      r->logged_down = 1;
    }
    r->ac = NULL;
    schedule_retry(r);
    return;
  }
  r->last_reply_at = uv_now(r->loop);
  const char *argv[1] = {"PING"};
  size_t argvlen[1] = {4};
  if (send_tracked(r, 1, argv, argvlen, NULL, NULL) < 0) mark_healthy(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status) {
  chat_redis *r = ac->data;
  r->ac = NULL;
  link_down(r);
  if (r->closing) {
    /* Called from inside hiredis, which frees the context right after: close later. */
    uv_close((uv_handle_t *)&r->retry, retry_closed);
    return;
  }
  if (!r->logged_down)
    chat_log_warn("redis", "connection to %s:%d lost%s%s; reconnecting", r->host, r->port,
                  status == REDIS_OK ? "" : ": ", status == REDIS_OK ? "" : ac->errstr);
  r->logged_down = 1;
  schedule_retry(r);
}

static void redis_connect(chat_redis *r) {
  if (r->closing || r->ac != NULL) return;
  redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
  if (ac == NULL || ac->err) {
    if (!r->logged_down) {
      chat_log_warn("redis", "cannot connect to %s:%d: %s; retrying", r->host, r->port,
                    ac ? ac->errstr : "out of memory");
      r->logged_down = 1;
    }
    if (ac) redisAsyncFree(ac);
    schedule_retry(r);
    return;
  }
  ac->data = r;
  if (uv_redis_attach(ac, r->loop) != REDIS_OK) {
    redisAsyncFree(ac);
    schedule_retry(r);
    return;
  }
  redisAsyncSetConnectCallback(ac, on_connect);
  redisAsyncSetDisconnectCallback(ac, on_disconnect);
  r->ac = ac;
}

/* Drops the connection and makes it again; everything pending fails with `why`. */
static void drop_link(chat_redis *r, const char *why) {
  if (r->ac == NULL || r->closing) return;
  r->fail_reason = why;
  redisAsyncContext *ac = r->ac;
  int was_connected = ac->c.flags & REDIS_CONNECTED;
  redisAsyncFree(ac); /* pending callbacks run now with no reply; on_disconnect too if connected */
  r->fail_reason = NULL;
  r->ac = NULL;
  link_down(r);
  if (!was_connected) schedule_retry(r); /* no disconnect callback for a connecting context */
}

static void on_watch(uv_timer_t *t) {
  chat_redis *r = t->data;
  if (r->ac == NULL || r->closing) return;
  uint64_t now = uv_now(r->loop);
  if (r->pending_head && now - r->pending_head->sent_at >= (uint64_t)r->timeout_ms) {
    r->stalls++;
    if (!r->logged_down)
      chat_log_warn("redis", "command link to %s:%d: no answer within %d ms; reconnecting", r->host, r->port,
                    r->timeout_ms);
    r->logged_down = 1;
    drop_link(r, "Redis did not answer in time");
    if (r->on_stall) r->on_stall(r->stall_ud);
    return;
  }
  /* An idle link is probed, so a Redis that went silent between commands is found before
   * the next caller has to wait for it. */
  if (r->pending_head == NULL && r->connected && now - r->last_reply_at >= IDLE_PROBE_MS) {
    const char *argv[1] = {"PING"};
    size_t argvlen[1] = {4};
    send_tracked(r, 1, argv, argvlen, NULL, NULL);
  }
}

chat_redis *chat_redis_new(uv_loop_t *loop, const char *host, int port, int timeout_ms) {
  chat_redis *r = calloc(1, sizeof *r);
  r->loop = loop;
  r->host = strdup(host);
  r->port = port;
  r->timeout_ms = timeout_ms;
  r->backoff_ms = BACKOFF_MIN_MS;
  uv_timer_init(loop, &r->retry);
  r->retry.data = r;
  uv_timer_init(loop, &r->watch);
  r->watch.data = r;
  uint64_t tick = (uint64_t)(timeout_ms / 4 > 10 ? timeout_ms / 4 : 10);
  uv_timer_start(&r->watch, on_watch, tick, tick);
  uv_unref((uv_handle_t *)&r->watch);
  redis_connect(r);
  return r;
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata) {
  chat_redis *r = ac->data;
  pending_cmd *p = privdata;
  redisReply *rep = reply;
  pending_unlink(r, p);
  if (rep != NULL) {
    r->last_reply_at = uv_now(r->loop);
    mark_healthy(r);
  }
  if (p->cb == NULL) {
    /* A probe: its answer (or its loss) is all that mattered. */
  } else if (rep == NULL) {
    p->cb(NULL, r->fail_reason ? r->fail_reason : "Redis connection lost", p->ud);
  } else {
    p->cb(rep, NULL, p->ud);
  }
  free(p);
}

int chat_redis_command(chat_redis *r, int argc, const char **argv, const size_t *argvlen,
                       chat_redis_reply_cb cb, void *ud) {
  if (!r->connected || r->ac == NULL || r->closing) return -1;
  return send_tracked(r, argc, argv, argvlen, cb, ud);
}

void chat_redis_on_stall(chat_redis *r, void (*cb)(void *ud), void *ud) {
  r->on_stall = cb;
  r->stall_ud = ud;
}

void chat_redis_on_link(chat_redis *r, void (*cb)(void *ud, int up), void *ud) {
  r->on_link = cb;
  r->link_ud = ud;
}

unsigned long chat_redis_stalls(const chat_redis *r) { return r->stalls; }

int chat_redis_connected(const chat_redis *r) { return r->connected; }

void chat_redis_close(chat_redis *r, void (*on_closed)(void *ud), void *ud) {
  r->closing = 1;
  r->on_closed = on_closed;
  r->closed_ud = ud;
  uv_timer_stop(&r->retry);
  uv_timer_stop(&r->watch);
  if (r->ac != NULL && r->connected) {
    /* on_disconnect finishes the close once hiredis has answered the pending replies. */
    redisAsyncDisconnect(r->ac);
  } else {
    /* Still connecting: hiredis calls no disconnect callback for such a context. */
    if (r->ac != NULL) redisAsyncFree(r->ac);
    r->ac = NULL;
    uv_close((uv_handle_t *)&r->retry, retry_closed);
  }
}
