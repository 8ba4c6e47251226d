/* The PostgreSQL pool (see pg.h). Every connection runs in pipeline mode: statements
 * from different tasks are written back to back without waiting for each other's
 * results, and each is followed by a sync so it is its own implicit transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "log.h"
#include "pg.h"
#include "pg_statements.h"

enum {
  MAX_IN_FLIGHT = 256,        /* statements sent on one connection, results pending */
  UNAVAILABLE_AFTER_MS = 2000, /* queued work fails this long into an outage */
  BACKOFF_MIN_MS = 250,
  BACKOFF_MAX_MS = 5000
};

typedef enum { CONN_DOWN, CONN_CONNECTING, CONN_READY } conn_state;

typedef struct pg_op {
  struct pg_op *next;
  chat_pg_conn *target; /* a pinned connection, or NULL for any */
  char *sql;
  int nparams;
  char **values;
  chat_pg_result_cb cb;
  chat_pg_pin_cb pin_cb; /* set for a pin request instead of a statement */
  void *ud;
  uint64_t queued_at;
  uint64_t sent_at;
  PGresult *result;
  const char *fail_msg;
  const char *fail_state;
  int statement;  /* the prepared statement's slot on the connection it went to, or -1 */
  int preparing;  /* this statement's Parse went with it */
} pg_op;

typedef struct {
  pg_op *head, *tail;
} op_list;

struct chat_pg_conn {
  chat_pg_pool *pool;
  int index;
  PGconn *pg;
  uv_poll_t *poll; /* heap-allocated: replaced when libpq changes sockets mid-connect */
  int poll_fd;
  int poll_events;
  conn_state state;
  op_list sent;
  int nsent;
  int pinned;
  int pin_lost; /* broke while pinned: the transaction is gone */
  int logged_down;
  int backoff_ms;
  uint64_t connect_started_at;
  uv_timer_t retry;
  chat_pg_statements statements; /* prepared in this server session */
};

struct chat_pg_pool {
  uv_loop_t *loop;
  char *conninfo;
  int size;
  chat_pg_conn *conns;
  op_list queue;  /* statements waiting for a connection */
  op_list pins;   /* pin requests waiting for an idle connection */
  op_list failed; /* completed with an error, callbacks still to run */
  uv_timer_t kick;  /* runs dispatch on the next loop turn: callbacks are never synchronous */
  uint64_t all_down_since; /* when the last connection went down; 0 while one is up */
  uv_timer_t watchdog;
  /* A server that stops answering without closing (paused backends, a partition) holds a
   * connection's statements forever: past these the connection is dropped and made again,
   * and its work fails as "unavailable" (503) instead of stalling. */
  int statement_timeout_ms;
  int connect_timeout_ms;
  unsigned long statement_timeouts, connect_timeouts;
  int closing;
  int handles_open;
  void (*on_closed)(void *ud);
  void *closed_ud;
};

static void conn_connect(chat_pg_conn *c);
static void conn_broken(chat_pg_conn *c, const char *why);
static void kick(chat_pg_pool *p);

/* ---- op lists ---- */

static void push(op_list *l, pg_op *op) {
  op->next = NULL;
  if (l->tail) l->tail->next = op;
  else l->head = op;
  l->tail = op;
}

static pg_op *pop(op_list *l) {
  pg_op *op = l->head;
  if (op) {
    l->head = op->next;
    if (l->head == NULL) l->tail = NULL;
  }
  return op;
}

static void op_free(pg_op *op) {
  if (op->result) PQclear(op->result);
  free(op->sql);
  free(op->values); /* values point into the same allocation */
  free(op);
}

static void op_fail_later(chat_pg_pool *p, pg_op *op, const char *msg, const char *state) {
  op->fail_msg = msg;
  op->fail_state = state;
  push(&p->failed, op);
  kick(p);
}

/* ---- polling ---- */

static void on_poll(uv_poll_t *h, int status, int events);

static void poll_closed(uv_handle_t *h) { free(h); }

static void poll_stop(chat_pg_conn *c) {
  if (c->poll) {
    uv_close((uv_handle_t *)c->poll, poll_closed);
    c->poll = NULL;
  }
}

static void poll_want(chat_pg_conn *c, int events) {
  int fd = PQsocket(c->pg);
  if (c->poll && c->poll_fd != fd) poll_stop(c);
  if (c->poll == NULL) {
    c->poll = malloc(sizeof *c->poll);
    if (c->poll == NULL || uv_poll_init(c->pool->loop, c->poll, fd) != 0) {
      free(c->poll);
      c->poll = NULL;
      conn_broken(c, "cannot watch the socket");
      return;
    }
    c->poll->data = c;
    c->poll_fd = fd;
    c->poll_events = 0;
  }
  if (events != c->poll_events) {
    uv_poll_start(c->poll, events, on_poll);
    c->poll_events = events;
  }
}

/* ---- connection lifecycle ---- */

static void on_retry(uv_timer_t *t) { conn_connect(t->data); }

static void conn_teardown(chat_pg_conn *c) {
  poll_stop(c);
  if (c->pg) PQfinish(c->pg);
  c->pg = NULL;
  chat_pg_statements_clear(&c->statements);
  c->state = CONN_DOWN;
}

static void schedule_retry(chat_pg_conn *c) {
  if (c->pool->closing) return;
  uv_timer_start(&c->retry, on_retry, chat_backoff_take(&c->backoff_ms, BACKOFF_MAX_MS), 0);
}

/* The connection is gone: its statements fail with `op_msg` (as a connection failure,
 * so the scripts answer 503), and it is made again after a backoff. */
static void conn_lost(chat_pg_conn *c, const char *why, const char *op_msg) {
  chat_pg_pool *p = c->pool;
  if (!c->logged_down) {
    chat_log_warn("pg", "connection %d %s: %s; reconnecting", c->index,
                  c->state == CONN_READY ? "lost" : "failed", why);
    c->logged_down = 1;
  }
  pg_op *op;
  while ((op = pop(&c->sent)) != NULL) op_fail_later(p, op, op_msg, "08006");
  c->nsent = 0;
  if (c->pinned) c->pin_lost = 1;
  conn_teardown(c);
  if (p->all_down_since == 0 && chat_pg_pool_connected(p) == 0) p->all_down_since = uv_now(p->loop);
  schedule_retry(c);
}

static void conn_broken(chat_pg_conn *c, const char *why) { conn_lost(c, why, "PostgreSQL connection lost"); }

static void conn_ready(chat_pg_conn *c) {
  if (PQenterPipelineMode(c->pg) != 1) {
    conn_broken(c, "cannot enter pipeline mode");
    return;
  }
  c->state = CONN_READY;
  c->pool->all_down_since = 0;
  c->backoff_ms = BACKOFF_MIN_MS;
  if (c->logged_down) chat_log_info("pg", "connection %d restored", c->index);
  else chat_log_debug("pg", "connection %d ready", c->index);
  c->logged_down = 0;
  poll_want(c, UV_READABLE);
  kick(c->pool);
}

static void conn_connect_step(chat_pg_conn *c) {
  switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_OK:
      conn_ready(c);
      break;
    case PGRES_POLLING_READING:
      poll_want(c, UV_READABLE);
      break;
    case PGRES_POLLING_WRITING:
      poll_want(c, UV_WRITABLE);
      break;
    default:
      conn_broken(c, PQerrorMessage(c->pg));
  }
}

void chat_pg_log_notice(void *arg, const char *message) {
  (void)arg;
  chat_log_debug("pg", "%.*s", (int)strcspn(message, "\n"), message);
}

static void conn_connect(chat_pg_conn *c) {
  if (c->pool->closing) return;
  c->pg = PQconnectStart(c->pool->conninfo);
  if (c->pg != NULL) PQsetNoticeProcessor(c->pg, chat_pg_log_notice, NULL);
  if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
    conn_broken(c, c->pg ? PQerrorMessage(c->pg) : "out of memory");
    return;
  }
  PQsetnonblocking(c->pg, 1);
  c->state = CONN_CONNECTING;
  c->connect_started_at = uv_now(c->pool->loop);
  poll_want(c, UV_WRITABLE);
}

/* ---- results ---- */

static void complete(chat_pg_conn *c, pg_op *op) {
  const PGresult *res = op->result;
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
    op->cb(res, NULL, NULL, op->ud);
  } else {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    /* A failed Parse, or a server that lost the statement (26000): prepare it afresh,
     * under a new name, next time. */
    if (op->statement >= 0 && (op->preparing || (state && strcmp(state, "26000") == 0)))
      chat_pg_statements_forget(&c->statements, op->statement);
    op->cb(NULL, msg ? msg : (res ? PQresultErrorMessage(res) : "no result"), state ? state : "XX000", op->ud);
  }
  op_free(op);
}

static void read_results(chat_pg_conn *c) {
  if (PQconsumeInput(c->pg) != 1) {
    conn_broken(c, PQerrorMessage(c->pg));
    return;
  }
  while (c->sent.head && !PQisBusy(c->pg)) {
    PGresult *res = PQgetResult(c->pg);
    pg_op *op = c->sent.head;
    if (res == NULL) continue; /* the end of one statement's results; its sync follows */
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(res);
      pop(&c->sent);
      c->nsent--;
      complete(c, op);
      if (c->state != CONN_READY) return; /* a callback closed the pool */
      continue;
    }
    /* The last result of a statement is its answer, unless an earlier one failed: after
     * a failed Parse the Execute only reports that the pipeline was aborted. */
    if (op->result && PQresultStatus(op->result) == PGRES_FATAL_ERROR) {
      PQclear(res);
      continue;
    }
    if (op->result) PQclear(op->result);
    op->result = res;
  }
  if (PQstatus(c->pg) == CONNECTION_BAD) conn_broken(c, PQerrorMessage(c->pg));
}

static void flush(chat_pg_conn *c) {
  int rc = PQflush(c->pg);
  if (rc < 0) conn_broken(c, PQerrorMessage(c->pg));
  else poll_want(c, rc == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  chat_pg_conn *c = h->data;
  if (c->poll != h) return; /* a replaced handle's last event */
  if (c->state == CONN_CONNECTING) {
    conn_connect_step(c);
    return;
  }
  if (c->state != CONN_READY) return;
  if (status < 0) {
    conn_broken(c, uv_strerror(status));
    return;
  }
  if (events & UV_WRITABLE) flush(c);
  if (c->state == CONN_READY && (events & UV_READABLE)) read_results(c);
  if (c->state == CONN_READY) kick(c->pool);
}

/* ---- dispatch ---- */

/* Sends one statement and its sync: by name once this connection has prepared it, with
 * its Parse in front the first time (both in the same pipeline, no extra round trip). */
static int send_op(chat_pg_conn *c, pg_op *op) {
  const char *const *values = (const char *const *)op->values;
  int is_new = 0;
  op->statement = chat_pg_statements_lookup(&c->statements, op->sql, &is_new);
  op->preparing = is_new;
  int sent;
  if (op->statement < 0) {
    sent = PQsendQueryParams(c->pg, op->sql, op->nparams, NULL, values, NULL, NULL, 0);
  } else {
    char name[CHAT_PG_STATEMENT_NAME_MAX];
    chat_pg_statements_name(op->statement, name);
    sent = (!is_new || PQsendPrepare(c->pg, name, op->sql, 0, NULL) == 1) &&
           PQsendQueryPrepared(c->pg, name, op->nparams, values, NULL, NULL, 0) == 1;
  }
  if (!sent || PQpipelineSync(c->pg) != 1) return -1;
  op->sent_at = uv_now(c->pool->loop);
  push(&c->sent, op);
  c->nsent++;
  return 0;
}

static chat_pg_conn *least_loaded(chat_pg_pool *p) {
  chat_pg_conn *best = NULL;
  for (int i = 0; i < p->size; i++) {
    chat_pg_conn *c = &p->conns[i];
    if (c->state != CONN_READY || c->pinned || c->nsent >= MAX_IN_FLIGHT) continue;
    if (best == NULL || c->nsent < best->nsent) best = c;
  }
  return best;
}

static void dispatch(chat_pg_pool *p) {
  /* Pins first: a transaction waits for a connection with nothing in flight. */
  while (p->pins.head) {
    chat_pg_conn *idle = NULL;
    for (int i = 0; i < p->size && !idle; i++) {
      chat_pg_conn *c = &p->conns[i];
      if (c->state == CONN_READY && !c->pinned && c->nsent == 0) idle = c;
    }
    if (idle == NULL) break;
    pg_op *op = pop(&p->pins);
    idle->pinned = 1;
    idle->pin_lost = 0;
    op->pin_cb(idle, NULL, op->ud);
    op_free(op);
  }
  /* Then statements, spread over the least busy connections. */
  int touched[64] = {0};
  while (p->queue.head) {
    pg_op *op = p->queue.head;
    chat_pg_conn *c = least_loaded(p);
    /* Leave an idle connection for a waiting transaction rather than filling it. */
    if (c == NULL) break;
    pop(&p->queue);
    if (send_op(c, op) < 0) {
      op_fail_later(p, op, PQerrorMessage(c->pg), "08006");
      continue;
    }
    if (c->index < 64) touched[c->index] = 1;
  }
  for (int i = 0; i < p->size && i < 64; i++)
    if (touched[i] && p->conns[i].state == CONN_READY) flush(&p->conns[i]);
}

static void on_kick(uv_timer_t *t) {
  chat_pg_pool *p = t->data;
  pg_op *op;
  while ((op = pop(&p->failed)) != NULL) {
    if (op->pin_cb) op->pin_cb(NULL, op->fail_msg, op->ud);
    else op->cb(NULL, op->fail_msg, op->fail_state, op->ud);
    op_free(op);
  }
  if (!p->closing) dispatch(p);
}

static void kick(chat_pg_pool *p) {
  if (!uv_is_active((uv_handle_t *)&p->kick)) uv_timer_start(&p->kick, on_kick, 0, 0);
}

/* Connections whose server went silent: libpq's connect_timeout does not apply to
 * PQconnectPoll, and nothing bounds a statement's wait for its result, so both are timed
 * here. Results arrive in the order statements were sent, so the oldest one in flight is
 * the one to time. */
static void check_silent_connections(chat_pg_pool *p, uint64_t now) {
  for (int i = 0; i < p->size; i++) {
    chat_pg_conn *c = &p->conns[i];
    if (c->state == CONN_CONNECTING && now - c->connect_started_at >= (uint64_t)p->connect_timeout_ms) {
      p->connect_timeouts++;
      conn_lost(c, "no answer to the connection attempt in time", "PostgreSQL connection lost");
    } else if (c->state == CONN_READY && c->sent.head &&
               now - c->sent.head->sent_at >= (uint64_t)p->statement_timeout_ms) {
      p->statement_timeouts++;
      conn_lost(c, "a statement got no answer in time", "PostgreSQL did not answer in time");
    }
  }
}

/* During an outage, work fails after a short wait instead of hanging its request. */
static void on_watchdog(uv_timer_t *t) {
  chat_pg_pool *p = t->data;
  uint64_t now = uv_now(p->loop);
  check_silent_connections(p, now);
  op_list *lists[] = {&p->queue, &p->pins};
  for (int l = 0; l < 2; l++) {
    while (lists[l]->head && now - lists[l]->head->queued_at >= UNAVAILABLE_AFTER_MS) {
      pg_op *op = pop(lists[l]);
      op_fail_later(p, op, "PostgreSQL is unavailable", "08006");
    }
  }
}

/* ---- public API ---- */

chat_pg_pool *chat_pg_pool_new(uv_loop_t *loop, const char *conninfo, int size, int statement_timeout_ms,
                               int connect_timeout_ms) {
  chat_pg_pool *p = calloc(1, sizeof *p);
  p->loop = loop;
  p->statement_timeout_ms = statement_timeout_ms;
  p->connect_timeout_ms = connect_timeout_ms;
  p->conninfo = strdup(conninfo);
  p->size = size;
  p->conns = calloc((size_t)size, sizeof *p->conns);
  uv_timer_init(loop, &p->kick);
  p->kick.data = p;
  uv_timer_init(loop, &p->watchdog);
  p->watchdog.data = p;
  uv_timer_start(&p->watchdog, on_watchdog, 250, 250);
  p->all_down_since = uv_now(loop); /* until the first connection is ready */
  uv_unref((uv_handle_t *)&p->watchdog);
  for (int i = 0; i < size; i++) {
    chat_pg_conn *c = &p->conns[i];
    c->pool = p;
    c->index = i;
    c->backoff_ms = BACKOFF_MIN_MS;
    uv_timer_init(loop, &c->retry);
    c->retry.data = c;
    conn_connect(c);
  }
  return p;
}

/* Every connection has been down for the whole grace period. */
static int outage_confirmed(const chat_pg_pool *p) {
  return p->all_down_since && uv_now(p->loop) - p->all_down_since >= UNAVAILABLE_AFTER_MS;
}

int chat_pg_query(chat_pg_pool *p, chat_pg_conn *conn, const char *sql, int nparams,
                  const char *const *values, chat_pg_result_cb cb, void *ud) {
  if (p->closing) return -1;
  size_t total = 0;
  for (int i = 0; i < nparams; i++) total += values[i] ? strlen(values[i]) + 1 : 0;
  pg_op *op = calloc(1, sizeof *op);
  op->values = malloc((size_t)nparams * sizeof(char *) + total + 1);
  op->sql = strdup(sql);
  if (op->values == NULL || op->sql == NULL) {
    op_free(op);
    return -1;
  }
  char *text = (char *)(op->values + nparams);
  for (int i = 0; i < nparams; i++) {
    if (values[i] == NULL) {
      op->values[i] = NULL;
      continue;
    }
    size_t l = strlen(values[i]) + 1;
    memcpy(text, values[i], l);
    op->values[i] = text;
    text += l;
  }
  op->nparams = nparams;
  op->cb = cb;
  op->ud = ud;
  op->target = conn;
  op->queued_at = uv_now(p->loop);
  if (conn == NULL) {
    /* Well into an outage, work fails at once: waiting the full delay for every statement
     * would back up each session's frames behind it. */
    if (outage_confirmed(p)) op_fail_later(p, op, "PostgreSQL is unavailable", "08006");
    else push(&p->queue, op);
    kick(p);
    return 0;
  }
  /* A transaction's statement goes straight to its connection, in order. */
  if (conn->pin_lost || conn->state != CONN_READY) {
    op_fail_later(p, op, "PostgreSQL connection lost during the transaction", "08006");
    return 0;
  }
  if (send_op(conn, op) < 0) {
    op_fail_later(p, op, PQerrorMessage(conn->pg), "08006");
    return 0;
  }
  flush(conn);
  return 0;
}

int chat_pg_pin(chat_pg_pool *p, chat_pg_pin_cb cb, void *ud) {
  if (p->closing) return -1;
  pg_op *op = calloc(1, sizeof *op);
  if (op == NULL) return -1;
  op->pin_cb = cb;
  op->ud = ud;
  op->queued_at = uv_now(p->loop);
  if (outage_confirmed(p)) {
    op_fail_later(p, op, "PostgreSQL is unavailable", "08006");
    return 0;
  }
  push(&p->pins, op);
  kick(p);
  return 0;
}

void chat_pg_unpin(chat_pg_conn *c) {
  c->pinned = 0;
  c->pin_lost = 0;
  if (!c->pool->closing) kick(c->pool);
}

int chat_pg_pool_connected(const chat_pg_pool *p) {
  int n = 0;
  for (int i = 0; i < p->size; i++) n += p->conns[i].state == CONN_READY;
  return n;
}

int chat_pg_pool_size(const chat_pg_pool *p) { return p->size; }

void chat_pg_pool_timeouts(const chat_pg_pool *p, unsigned long *statement, unsigned long *connect) {
  *statement = p->statement_timeouts;
  *connect = p->connect_timeouts;
}

/* Walks the lists instead of keeping counts, so a query pays nothing for metrics; the
 * queue is short by construction (it drains as fast as PostgreSQL answers). */
void chat_pg_pool_stats(const chat_pg_pool *p, size_t *queued, size_t *in_flight, size_t *pinned) {
  *queued = *in_flight = *pinned = 0;
  for (const pg_op *op = p->queue.head; op; op = op->next) (*queued)++;
  for (const pg_op *op = p->pins.head; op; op = op->next) (*queued)++;
  for (int i = 0; i < p->size; i++) {
    *in_flight += (size_t)p->conns[i].nsent;
    *pinned += p->conns[i].pinned != 0;
  }
}

static void pool_handle_closed(uv_handle_t *h) {
  chat_pg_pool *p = h->data; /* every handle points at the pool once closing */
  if (--p->handles_open > 0) return;
  void (*cb)(void *) = p->on_closed;
  void *ud = p->closed_ud;
  free(p->conns);
  free(p->conninfo);
  free(p);
  if (cb) cb(ud);
}

void chat_pg_pool_close(chat_pg_pool *p, void (*on_closed)(void *ud), void *ud) {
  p->closing = 1;
  p->on_closed = on_closed;
  p->closed_ud = ud;
  /* Everything still waiting fails now, synchronously, before the handles go. */
  op_list *lists[] = {&p->queue, &p->pins, &p->failed};
  for (int l = 0; l < 3; l++) {
    pg_op *op;
    while ((op = pop(lists[l])) != NULL) {
      const char *msg = op->fail_msg ? op->fail_msg : "server shutting down";
      if (op->pin_cb) op->pin_cb(NULL, msg, op->ud);
      else op->cb(NULL, msg, "57P01", op->ud);
      op_free(op);
    }
  }
  for (int i = 0; i < p->size; i++) {
    chat_pg_conn *c = &p->conns[i];
    pg_op *op;
    while ((op = pop(&c->sent)) != NULL) {
      op->cb(NULL, "server shutting down", "57P01", op->ud);
      op_free(op);
    }
    conn_teardown(c);
  }
  p->handles_open = 2 + p->size;
  uv_close((uv_handle_t *)&p->kick, pool_handle_closed);
  uv_close((uv_handle_t *)&p->watchdog, pool_handle_closed);
  for (int i = 0; i < p->size; i++) {
    p->conns[i].retry.data = p;
    uv_close((uv_handle_t *)&p->conns[i].retry, pool_handle_closed);
  }
}
