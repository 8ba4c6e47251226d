#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <sys/resource.h>

#include "http_server.h"
#include "log.h"
#include "metrics.h"

enum { READ_BUFFER_BYTES = 64 * 1024, MAX_PENDING_BYTES = 1024 * 1024 };

typedef enum { CONN_IDLE, CONN_READING, CONN_HANDLING, CONN_UPGRADED, CONN_LINGERING } conn_state;

enum { LINGER_MS = 2000 };

struct chat_http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  const chat_config *cfg;
  chat_http_limits limits;
  chat_http_handler handler;
  void *ud;
  chat_http_conn *conns;
  size_t nconns;
  size_t nupgraded; /* of nconns: WebSocket and SockJS streams (metrics tell them apart) */
  int stopping;
  int listener_closed;
  void (*on_closed)(void *ud);
  void *closed_ud;
  uv_prepare_t flusher;      /* hands the corked writes to the kernel once per loop turn */
  size_t max_conns;          /* beyond this, new connections get 503 and are closed */
  size_t nalive;             /* connections not freed yet, closing ones included */
  uint64_t refused_logged_ms;
  chat_http_conn *dirty;     /* connections with corked writes */
};

/* A connection's writes since the last flush, and who to tell when they are written. */
typedef struct {
  void (*done)(void *ud);
  void *ud;
} write_done;

typedef struct {
  uv_buf_t *bufs;
  write_done *dones;
  unsigned nbufs, bufs_cap, ndones, dones_cap;
  size_t bytes;
} write_cork;

struct chat_http_conn {
  uv_tcp_t tcp; /* first: the handle's address is the connection's */
  uv_timer_t timer;
  chat_http_server *srv;
  chat_http_conn *prev, *next;
  chat_http_parser *parser;
  conn_state state;
  chat_http_request *req; /* with the handler */
  char *pending;          /* bytes read but not parsed yet (pipelining, upgrades) */
  size_t pending_len;
  int processing;         /* inside process(): a synchronous respond must not recurse */
  int closing;
  int upgraded;           /* counted in nupgraded, also once lingering */
  int handles_open;       /* tcp + timer; freed when both closed */
  int req_outstanding;    /* the handler still owes a chat_http_respond */
  uint64_t req_started_ns; /* when the request was complete and handed over (latency metrics) */
  char peer[64];
  const chat_http_upgrade_ops *up_ops;
  void *up_ud;
  write_cork cork;
  chat_http_conn *dirty_prev, *dirty_next;
  int is_dirty;
};

/* One read buffer for the whole process: reads are handled synchronously in the read
 * callback, so an idle connection holds no buffer at all. */
static char read_buffer[READ_BUFFER_BYTES];
static int read_buffer_busy;

static void process(chat_http_conn *c);
static void conn_close(chat_http_conn *c);

/* ---- writing ----
 * Writes are corked: gathered per connection and handed to the kernel once per loop turn,
 * by a uv_prepare handle (it runs before the loop waits for I/O, so nothing waits longer
 * than the current turn). A burst of broadcasts, as when hiredis hands over many Pub/Sub
 * messages from one read, then costs one writev per subscriber instead of one per
 * message: on loopback the kernel's per-write work dominated the fan-out profile. */

enum { CORK_MAX_BUFS = 512 }; /* flush at once beyond this (IOV_MAX is 1024) */

typedef struct {
  uv_write_t req;
  write_done *dones;
  unsigned ndones;
} flush_req;

static void run_dones(write_done *dones, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (dones[i].done) dones[i].done(dones[i].ud);
  free(dones);
}

static void on_flushed(uv_write_t *w, int status) {
  flush_req *fr = (flush_req *)w;
  (void)status; /* a failed write surfaces as a read error or EOF, which closes the conn */
  run_dones(fr->dones, fr->ndones);
  free(fr);
}

static void dirty_unlink(chat_http_conn *c) {
  if (!c->is_dirty) return;
  if (c->dirty_prev) c->dirty_prev->dirty_next = c->dirty_next;
  else c->srv->dirty = c->dirty_next;
  if (c->dirty_next) c->dirty_next->dirty_prev = c->dirty_prev;
  c->dirty_prev = c->dirty_next = NULL;
  c->is_dirty = 0;
}

/* Takes the corked writes out of the connection: their buffers and callbacks. */
static write_cork cork_take(chat_http_conn *c) {
  write_cork k = c->cork;
  memset(&c->cork, 0, sizeof c->cork);
  dirty_unlink(c);
  return k;
}

static void cork_flush(chat_http_conn *c) {
  write_cork k = cork_take(c);
  if (k.nbufs == 0 && k.ndones == 0) return;
  flush_req *fr = malloc(sizeof *fr);
  int rc = -1;
  if (fr != NULL) {
    fr->dones = k.dones;
    fr->ndones = k.ndones;
    /* uv_write copies the buffer array; the bytes stay with their owners until done. */
    rc = k.nbufs ? uv_write(&fr->req, (uv_stream_t *)&c->tcp, k.bufs, k.nbufs, on_flushed) : -1;
  }
  free(k.bufs);
  if (rc != 0) {
    free(fr);
    run_dones(k.dones, k.ndones);
  }
}

/* The connection is going away without writing: its writers still get their callbacks. */
static void cork_discard(chat_http_conn *c) {
  write_cork k = cork_take(c);
  free(k.bufs);
  run_dones(k.dones, k.ndones);
}

static void on_flush_turn(uv_prepare_t *p) {
  chat_http_server *srv = p->data;
  while (srv->dirty) cork_flush(srv->dirty);
  uv_prepare_stop(p);
}

static int grow(void **array, unsigned *cap, unsigned need, size_t item) {
  if (need <= *cap) return 0;
  unsigned cap2 = *cap ? *cap * 2 : 4;
  while (cap2 < need) cap2 *= 2;
  void *a = realloc(*array, cap2 * item);
  if (a == NULL) return -1;
  *array = a;
  *cap = cap2;
  return 0;
}

static int cork_add(chat_http_conn *c, const uv_buf_t *bufs, unsigned n, void (*done)(void *ud), void *ud) {
  write_cork *k = &c->cork;
  if (grow((void **)&k->bufs, &k->bufs_cap, k->nbufs + n, sizeof *k->bufs) < 0 ||
      grow((void **)&k->dones, &k->dones_cap, k->ndones + 1, sizeof *k->dones) < 0)
    return -1;
  for (unsigned i = 0; i < n; i++) {
    if (bufs[i].len == 0) continue;
    k->bufs[k->nbufs++] = bufs[i];
    k->bytes += bufs[i].len;
    chat_metrics.http_bytes_out += bufs[i].len;
  }
  k->dones[k->ndones++] = (write_done){done, ud};
  if (!c->is_dirty) {
    chat_http_server *srv = c->srv;
    c->is_dirty = 1;
    c->dirty_prev = NULL;
    c->dirty_next = srv->dirty;
    if (srv->dirty) srv->dirty->dirty_prev = c;
    srv->dirty = c;
    uv_prepare_start(&srv->flusher, on_flush_turn);
  }
  if (k->nbufs >= CORK_MAX_BUFS) cork_flush(c);
  return 0;
}

int chat_http_conn_write(chat_http_conn *c, const uv_buf_t *bufs, unsigned n, void (*done)(void *ud),
                         void *ud) {
  if (c->closing || cork_add(c, bufs, n, done, ud) < 0) {
    if (done) done(ud);
    return -1;
  }
  return 0;
}

/* Writes a copy of a (and b): for bytes that live on the caller's stack. */
static int write_copy(chat_http_conn *c, const char *a, size_t alen, const char *b, size_t blen) {
  if (c->closing) return -1;
  char *copy = malloc(alen + blen);
  if (copy == NULL) return -1;
  memcpy(copy, a, alen);
  if (blen) memcpy(copy + alen, b, blen);
  uv_buf_t buf = uv_buf_init(copy, (unsigned)(alen + blen));
  return chat_http_conn_write(c, &buf, 1, free, copy);
}

int chat_http_conn_write_copy(chat_http_conn *c, const void *data, size_t len) {
  return write_copy(c, data, len, NULL, 0);
}

size_t chat_http_conn_queued(const chat_http_conn *c) { return c->tcp.write_queue_size + c->cork.bytes; }

const char *chat_http_conn_peer(const chat_http_conn *c) { return c->peer; }

/* ---- closing ---- */

/* A stopping server is done once its listener is closed and its last connection freed:
 * not merely closing, since a closing connection still owes its upgrade's on_close (a
 * SockJS session ends there), which must run before on_closed tears the rest down. */
static void finish_stop(chat_http_server *srv) {
  if (!srv->stopping || srv->nalive > 0 || !srv->listener_closed || srv->on_closed == NULL) return;
  void (*cb)(void *) = srv->on_closed;
  srv->on_closed = NULL;
  uv_close((uv_handle_t *)&srv->flusher, NULL);
  cb(srv->closed_ud);
}

static void conn_free(chat_http_conn *c) {
  chat_http_server *srv = c->srv;
  chat_http_parser_free(c->parser);
  chat_http_request_free(c->req);
  free(c->pending);
  free(c);
  srv->nalive--;
  finish_stop(srv);
}

static void on_handle_closed(uv_handle_t *h) {
  chat_http_conn *c = h->data;
  if (--c->handles_open > 0) return;
  if (c->up_ops && c->up_ops->on_close) c->up_ops->on_close(c->up_ud);
  /* A request still with the handler keeps the struct until chat_http_respond. */
  if (!c->req_outstanding) conn_free(c);
}

static void conn_close(chat_http_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  cork_discard(c);
  chat_http_server *srv = c->srv;
  if (c->prev) c->prev->next = c->next;
  else srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  srv->nconns--;
  if (c->upgraded) srv->nupgraded--;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

typedef struct {
  uv_shutdown_t req;
  chat_http_conn *conn;
} shutdown_req;

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_timeout(uv_timer_t *t);

/* After an error answer the client may still be sending (a body we refused): closing
 * now would reset the connection and destroy the answer before it is read. So, like
 * nginx's lingering close, read and discard for a moment, then close. The same holds
 * for a WebSocket closed by the server (an ERROR frame, a graceful stop): the client
 * may be sending frames while our last ones are on their way, and a close() with
 * unread input sends a RST that can discard them (a RECEIPT, the ERROR). */
static void on_shutdown(uv_shutdown_t *s, int status) {
  shutdown_req *sr = (shutdown_req *)s;
  chat_http_conn *c = sr->conn;
  free(sr);
  if (status < 0 || c->closing) {
    conn_close(c);
    return;
  }
  c->state = CONN_LINGERING;
  uv_timer_start(&c->timer, on_timeout, LINGER_MS, 0);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Closes once everything queued has been written (a response, an ERROR frame). */
static void conn_close_after_writes(chat_http_conn *c) {
  if (c->closing) return;
  cork_flush(c); /* the shutdown is queued behind every write so far */
  shutdown_req *sr = malloc(sizeof *sr);
  uv_read_stop((uv_stream_t *)&c->tcp);
  if (sr == NULL || uv_shutdown(&sr->req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    free(sr);
    conn_close(c);
    return;
  }
  sr->conn = c;
}

void chat_http_conn_close(chat_http_conn *c, int graceful) {
  if (graceful) conn_close_after_writes(c);
  else conn_close(c);
}

/* ---- responses ---- */

static size_t format_date(char *out, size_t cap) {
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  return strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void send_response(chat_http_conn *c, int status, const char *const *headers, const char *body,
                          size_t body_len, int keep_alive) {
  char head[8192];
  char date[64];
  format_date(date, sizeof date);
  size_t n = (size_t)snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
                              chat_http_status_text(status), date);
  for (const char *const *h = headers; h && h[0] && n < sizeof head; h += 2)
    n += (size_t)snprintf(head + n, sizeof head - n, "%s: %s\r\n", h[0], h[1] ? h[1] : "");
  if (n < sizeof head)
    n += (size_t)snprintf(head + n, sizeof head - n, "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                          body_len, keep_alive ? "keep-alive" : "close");
  if (n >= sizeof head) {
    chat_log_error("http", "response headers over %zu bytes; answering 500", sizeof head);
    static const char fallback[] = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    write_copy(c, fallback, sizeof fallback - 1, NULL, 0);
    return;
  }
  write_copy(c, head, n, body, body_len);
}

/* Spring Boot's error JSON, for errors found before a request reaches the application. */
static void send_error(chat_http_conn *c, int status, const char *reason, const char *path) {
  char ts[40];
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  struct tm tm;
  gmtime_r(&now.tv_sec, &tm);
  size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(ts + n, sizeof ts - n, ".%03ld+00:00", now.tv_nsec / 1000000);
  char esc_reason[512], esc_path[1024];
  size_t rl = chat_json_escape(esc_reason, sizeof esc_reason - 1, reason, strlen(reason));
  size_t pl = chat_json_escape(esc_path, sizeof esc_path - 1, path ? path : "", path ? strlen(path) : 0);
  esc_reason[rl < sizeof esc_reason ? rl : sizeof esc_reason - 1] = '\0';
  esc_path[pl < sizeof esc_path ? pl : sizeof esc_path - 1] = '\0';
  char body[2048];
  int bl = snprintf(body, sizeof body,
                    "{\"timestamp\":\"%s\",\"status\":%d,\"error\":\"%s\",\"message\":\"%s\",\"path\":\"%s\"}",
                    ts, status, chat_http_status_text(status), esc_reason, esc_path);
  static const char *const headers[] = {"Content-Type", "application/json", NULL};
  send_response(c, status, headers, body, (size_t)bl < sizeof body ? (size_t)bl : sizeof body - 1, 0);
  conn_close_after_writes(c);
}

void chat_http_respond(chat_http_conn *c, int status, const char *const *headers, const char *body,
                       size_t body_len) {
  chat_http_request *req = c->req;
  c->req = NULL;
  c->req_outstanding = 0;
  if (c->closing) {
    chat_http_request_free(req);
    /* The socket closed while the handler worked; its close callback left the struct to us. */
    if (c->handles_open == 0) conn_free(c);
    return;
  }
  int keep_alive = req && req->keep_alive && !c->srv->stopping;
  send_response(c, status, headers, body, body_len, keep_alive);
  chat_http_request_free(req);
  if (!keep_alive) {
    conn_close_after_writes(c);
    return;
  }
  c->state = CONN_IDLE;
  if (!c->processing) process(c);
}

/* ---- reading ---- */

static void on_timeout(uv_timer_t *t) {
  chat_http_conn *c = t->data;
  if (c->state == CONN_READING) {
    chat_log_info("http", "%s: request not complete within %d ms", c->peer, c->srv->cfg->http_header_timeout_ms);
    send_error(c, 408, "request not received in time", "");
  } else if (c->state == CONN_IDLE || c->state == CONN_LINGERING) {
    conn_close(c);
  }
}

static void arm_timer(chat_http_conn *c) {
  if (c->state == CONN_IDLE)
    uv_timer_start(&c->timer, on_timeout, (uint64_t)c->srv->cfg->http_idle_timeout_ms, 0);
  else if (c->state == CONN_READING)
    uv_timer_start(&c->timer, on_timeout, (uint64_t)c->srv->cfg->http_header_timeout_ms, 0);
  else
    uv_timer_stop(&c->timer);
}

static int keep_pending(chat_http_conn *c, const char *data, size_t len) {
  if (len == 0) return 0;
  if (c->pending_len + len > MAX_PENDING_BYTES) return -1;
  char *p = realloc(c->pending, c->pending_len + len);
  if (p == NULL) return -1;
  memcpy(p + c->pending_len, data, len);
  c->pending = p;
  c->pending_len += len;
  return 0;
}

/* Parses buffered bytes and hands over at most one request at a time. */
static void process(chat_http_conn *c) {
  c->processing = 1;
  while (!c->closing && c->state != CONN_HANDLING && c->state != CONN_UPGRADED && c->pending_len > 0) {
    long n = chat_http_parser_feed(c->parser, c->pending, c->pending_len);
    if (n < 0) {
      const char *reason = NULL;
      int status = chat_http_parser_error(c->parser, &reason);
      chat_log_info("http", "%s: bad request (%d %s)", c->peer, status, reason ? reason : "");
      send_error(c, status, reason ? reason : "bad request", "");
      break;
    }
    memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
    c->pending_len -= (size_t)n;
    chat_http_request *req = chat_http_parser_take(c->parser);
    if (req == NULL) {
      if (c->state == CONN_IDLE) {
        c->state = CONN_READING;
        arm_timer(c);
      }
      break;
    }
    c->state = CONN_HANDLING;
    arm_timer(c);
    c->req = req;
    c->req_outstanding = 1;
    c->req_started_ns = uv_hrtime();
    c->srv->handler(c, req, c->srv->ud);
  }
  if (c->pending_len == 0) {
    free(c->pending);
    c->pending = NULL;
  }
  c->processing = 0;
  if (!c->closing && c->state == CONN_IDLE) arm_timer(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h, (void)suggested;
  if (read_buffer_busy) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  read_buffer_busy = 1;
  *buf = uv_buf_init(read_buffer, sizeof read_buffer);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  chat_http_conn *c = s->data;
  if (buf->base == read_buffer) read_buffer_busy = 0;
  if (nread == 0) return;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  chat_metrics.http_bytes_in += (uint64_t)nread;
  if (c->state == CONN_LINGERING) return; /* discarded */
  if (c->state == CONN_UPGRADED) {
    c->up_ops->on_data(c->up_ud, buf->base, (size_t)nread);
    return;
  }
  if (keep_pending(c, buf->base, (size_t)nread) < 0) {
    send_error(c, 413, "too much data sent ahead of the responses", "");
    return;
  }
  if (c->state == CONN_HANDLING && c->pending_len > 64 * 1024) {
    /* Pipelining client far ahead of us: stop reading until we catch up. */
    uv_read_stop(s);
  }
  if (!c->processing) process(c);
}

void chat_http_conn_pause(chat_http_conn *c, int paused) {
  if (c->closing) return;
  if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
  else uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void chat_http_conn_upgrade(chat_http_conn *c, const char *response, size_t len,
                            const chat_http_upgrade_ops *ops, void *ud) {
  chat_http_request_free(c->req);
  c->req = NULL;
  c->req_outstanding = 0;
  c->state = CONN_UPGRADED;
  c->upgraded = 1;
  c->srv->nupgraded++;
  c->up_ops = ops;
  c->up_ud = ud;
  uv_timer_stop(&c->timer);
  if (response && len) write_copy(c, response, len, NULL, 0);
  /* Bytes the client sent right after its upgrade request belong to the new protocol. */
  if (c->pending_len > 0) {
    char *p = c->pending;
    size_t n = c->pending_len;
    c->pending = NULL;
    c->pending_len = 0;
    ops->on_data(ud, p, n);
    free(p);
  }
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_connection(uv_stream_t *server, int status) {
  chat_http_server *srv = server->data;
  if (status < 0 || srv->stopping) return;
  chat_http_conn *c = calloc(1, sizeof *c);
  if (c == NULL) return;
  c->srv = srv;
  uv_tcp_init(srv->loop, &c->tcp);
  c->tcp.data = c;
  c->handles_open = 2;
  uv_timer_init(srv->loop, &c->timer);
  c->timer.data = c;
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  srv->nconns++;
  srv->nalive++;
  chat_metrics.http_connections_accepted++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
    conn_close(c);
    return;
  }
  c->parser = chat_http_parser_new(&srv->limits);
  uv_tcp_nodelay(&c->tcp, 1);
  struct sockaddr_storage addr;
  int alen = sizeof addr;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&addr, &alen) == 0) {
    if (addr.ss_family == AF_INET)
      uv_ip4_name((struct sockaddr_in *)&addr, c->peer, sizeof c->peer);
    else
      uv_ip6_name((struct sockaddr_in6 *)&addr, c->peer, sizeof c->peer);
  }
  if (srv->nconns > srv->max_conns) {
    /* Answered rather than left in the backlog, so clients and load balancers see why;
     * logged at most once a second, since a flood is when this happens. */
    chat_metrics.http_connections_refused++;
    uint64_t now = uv_now(srv->loop);
    if (now - srv->refused_logged_ms >= 1000) {
      srv->refused_logged_ms = now;
      chat_log_warn("http", "%zu connections open, CHAT_MAX_CONNECTIONS is %zu: refusing %s with 503",
                    srv->nconns - 1, srv->max_conns, c->peer);
    }
    send_error(c, 503, "too many connections", "");
    return;
  }
  c->state = CONN_IDLE;
  arm_timer(c);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* CHAT_MAX_CONNECTIONS, or by default what the open-file limit allows once the soft limit
 * is raised to the hard one (as Redis does for maxclients), less a reserve for the
 * database and Redis pools, Kafka, the scripts and the static files. */
static size_t connection_limit(const chat_config *cfg) {
  enum { RESERVED_FILES = 256 };
  if (cfg->max_connections) return cfg->max_connections;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur == RLIM_INFINITY) return 1000000;
  return rl.rlim_cur > 2 * RESERVED_FILES ? (size_t)rl.rlim_cur - RESERVED_FILES : (size_t)rl.rlim_cur / 2;
}

chat_http_server *chat_http_server_start(uv_loop_t *loop, const chat_config *cfg, chat_http_handler handler,
                                         void *ud) {
  chat_http_server *srv = calloc(1, sizeof *srv);
  srv->loop = loop;
  srv->cfg = cfg;
  srv->handler = handler;
  srv->ud = ud;
  srv->limits.max_header_bytes = cfg->http_max_header_bytes;
  srv->limits.max_body_bytes = cfg->http_max_body_bytes;
  srv->max_conns = connection_limit(cfg);

  struct sockaddr_storage addr;
  int family = strchr(cfg->bind_address, ':') ? AF_INET6 : AF_INET;
  int rc = family == AF_INET6 ? uv_ip6_addr(cfg->bind_address, cfg->port, (struct sockaddr_in6 *)&addr)
                              : uv_ip4_addr(cfg->bind_address, cfg->port, (struct sockaddr_in *)&addr);
  if (rc != 0) {
    chat_log_error("http", "CHAT_BIND_ADDRESS %s is not an IP address", cfg->bind_address);
    free(srv);
    return NULL;
  }
  /* libuv 1.44 has no SO_REUSEPORT flag: create the socket ourselves so several chatd
   * processes can share the port (one per core). */
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (cfg->reuse_port) setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  uv_tcp_init(loop, &srv->listener);
  srv->listener.data = srv;
  uv_prepare_init(loop, &srv->flusher);
  srv->flusher.data = srv;
  if (fd < 0 || uv_tcp_open(&srv->listener, fd) != 0 ||
      (rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection)) != 0) {
    chat_log_error("http", "cannot listen on %s:%d: %s", cfg->bind_address, cfg->port,
                   rc ? uv_strerror(rc) : "socket failed");
    uv_close((uv_handle_t *)&srv->listener, NULL);
    uv_close((uv_handle_t *)&srv->flusher, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    free(srv);
    return NULL;
  }
  return srv;
}

static void on_listener_closed(uv_handle_t *h) {
  chat_http_server *srv = h->data;
  srv->listener_closed = 1;
  finish_stop(srv);
}

void chat_http_server_stop(chat_http_server *srv, void (*on_closed)(void *ud), void *ud) {
  srv->stopping = 1;
  srv->on_closed = on_closed;
  srv->closed_ud = ud;
  for (chat_http_conn *c = srv->conns, *next; c; c = next) {
    next = c->next;
    /* Idle keep-alive connections go now and busy ones after their response. Upgraded
     * ones (WebSocket, SockJS streams) belong to their STOMP session, which closes them
     * once the frame it is handling got its RECEIPT and the ERROR frame is written. */
    if (c->state == CONN_IDLE || c->state == CONN_READING) conn_close(c);
  }
  uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

size_t chat_http_server_connections(const chat_http_server *srv) { return srv->nconns; }
size_t chat_http_server_upgraded(const chat_http_server *srv) { return srv->nupgraded; }
size_t chat_http_server_limit(const chat_http_server *srv) { return srv->max_conns; }

const char *chat_http_conn_request_method(const chat_http_conn *c) { return c->req ? c->req->method : NULL; }

double chat_http_conn_request_seconds(const chat_http_conn *c) {
  return (double)(uv_hrtime() - c->req_started_ns) / 1e9;
}
