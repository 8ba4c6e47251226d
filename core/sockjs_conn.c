/* SockJS sessions and transports (see sockjs_conn.h). One session = one STOMP session;
 * at most one receiving request at a time; messages queue in the session while no
 * receiver is attached, and the session ends after 5 s without one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "handshake_credentials.h"
#include "hash.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "sockjs.h"
#include "sockjs_conn.h"
#include "stomp_session.h"
#include "ws.h"

enum {
  HEARTBEAT_MS = 25000,
  DISCONNECT_DELAY_MS = 5000,
  STREAM_BYTES_LIMIT = 128 * 1024,
  MAX_QUEUED_BYTES = 512 * 1024,
  BUCKETS = 1024
};

typedef enum { RECV_NONE, RECV_XHR, RECV_XHR_STREAMING, RECV_EVENTSOURCE, RECV_HTMLFILE, RECV_WEBSOCKET } recv_kind;

typedef struct sockjs_session {
  struct sockjs_session *next; /* registry bucket */
  char id[128];
  chat_runtime *rt;
  chat_stomp_session *stomp;
  char *out; /* queued messages: JSON strings joined by ',' */
  size_t out_len, out_cap;
  chat_http_conn *recv; /* the receiving request, if any */
  recv_kind kind;
  char callback[64]; /* htmlfile's JavaScript callback */
  size_t streamed;
  chat_ws *ws;
  uv_timer_t timer; /* heartbeat while a receiver is attached, disconnect delay otherwise */
  int opened;       /* "o" was sent */
  int closing;      /* STOMP asked to close: send "c" once the queue is out */
  int closed;       /* ended: receivers get "c[3000,...]" until the session is freed */
  unsigned char credentials[CHAT_CREDENTIALS_DIGEST_LEN]; /* of the request that opened it */
} sockjs_session;

static sockjs_session *registry[BUCKETS];
static size_t live_sessions; /* created and not ended */

size_t chat_sockjs_sessions(void) { return live_sessions; }

static unsigned bucket_of(const char *id) { return (unsigned)(chat_hash_str(id) % BUCKETS); }

static sockjs_session *find_session(const char *id) {
  for (sockjs_session *s = registry[bucket_of(id)]; s; s = s->next)
    if (strcmp(s->id, id) == 0) return s;
  return NULL;
}

static void unregister(sockjs_session *s) {
  for (sockjs_session **pp = &registry[bucket_of(s->id)]; *pp; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      return;
    }
  }
}

/* ---- response headers ---- */

static const char *cors_origin(const chat_http_request *req) {
  const char *o = chat_http_request_header(req, "origin");
  return o && *o && strcmp(o, "null") != 0 ? o : "*";
}

/* Raw head of a streaming response: the connection then belongs to the session. */
static size_t streaming_head(char *out, size_t cap, const char *ctype, const chat_http_request *req) {
  int n = snprintf(out, cap,
                   "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nCache-Control: no-store, no-cache, must-revalidate, max-age=0\r\n"
                   "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"
                   "Connection: close\r\n\r\n",
                   ctype, cors_origin(req));
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void respond_text(chat_http_conn *conn, const chat_http_request *req, int status, const char *ctype,
                         const char *body, size_t len) {
  const char *headers[] = {"Content-Type", ctype,
                           "Cache-Control", "no-store, no-cache, must-revalidate, max-age=0",
                           "Access-Control-Allow-Origin", cors_origin(req),
                           "Access-Control-Allow-Credentials", "true",
                           "Vary", "Origin", NULL};
  chat_http_respond(conn, status, headers, body, len);
}

/* ---- writing frames to the receiver ---- */

static void free_written(void *ud) { free(ud); }


static void detach_receiver(sockjs_session *s);
static void arm_timer(sockjs_session *s);

/* Writes a frame on a connection that stays open, in its transport's envelope: a line for
 * xhr-streaming, an event for eventsource, a script call for htmlfile (the frame becomes a
 * JavaScript string, so it is escaped once more), a text message for websocket. One
 * allocation, handed to the write. Returns the bytes written. */
static size_t write_streamed(chat_http_conn *conn, recv_kind kind, const char *frame, size_t len) {
  size_t body = kind == RECV_HTMLFILE ? chat_sockjs_escape(NULL, frame, len) : len;
  char *buf = malloc(body + 32);
  if (buf == NULL) return 0;
  size_t n = 0;
  switch (kind) {
    case RECV_EVENTSOURCE: memcpy(buf, "data: ", 6), n = 6; break;
    case RECV_HTMLFILE: memcpy(buf, "<script>\np(\"", 12), n = 12; break;
    case RECV_WEBSOCKET: n = chat_ws_frame_header((uint8_t *)buf, CHAT_WS_TEXT, len); break;
    default: break;
  }
  if (kind == RECV_HTMLFILE) chat_sockjs_escape(buf + n, frame, len);
  else memcpy(buf + n, frame, len);
  n += body;
  static const char *const trailers[] = {[RECV_XHR_STREAMING] = "\n", [RECV_EVENTSOURCE] = "\r\n\r\n",
                                         [RECV_HTMLFILE] = "\");\n</script>\r\n", [RECV_WEBSOCKET] = ""};
  const char *t = trailers[kind] ? trailers[kind] : "";
  memcpy(buf + n, t, strlen(t));
  n += strlen(t);
  uv_buf_t b = uv_buf_init(buf, (unsigned)n);
  chat_http_conn_write(conn, &b, 1, free_written, buf);
  return n;
}

/* Sends one SockJS frame ("o", "h", "a[...]", "c[...]") to the session's receiver. */
static void send_frame(sockjs_session *s, const char *frame, size_t len) {
  chat_http_conn *conn = s->recv;
  if (conn == NULL) return;
  if (s->kind == RECV_XHR) {
    /* A polling request carries one frame, then ends. */
    char *body = malloc(len + 1);
    memcpy(body, frame, len);
    body[len] = '\n';
    static const char *const headers[] = {"Content-Type", "application/javascript;charset=UTF-8",
                                          "Cache-Control", "no-store, no-cache, must-revalidate, max-age=0",
                                          "Access-Control-Allow-Credentials", "true", NULL};
    s->recv = NULL;
    s->kind = RECV_NONE;
    chat_http_respond(conn, 200, headers, body, len + 1);
    free(body);
    arm_timer(s);
    return;
  }
  s->streamed += write_streamed(conn, s->kind, frame, len);
  /* Streaming requests end after a byte budget so proxies never buffer forever; the
   * client opens the next one (sockjs-client does this by itself). */
  if (s->kind != RECV_WEBSOCKET && s->streamed >= STREAM_BYTES_LIMIT) {
    detach_receiver(s);
    chat_http_conn_close(conn, 1);
  }
}

static void send_close_frame(sockjs_session *s, int code, const char *reason) {
  char frame[96];
  size_t n = chat_sockjs_close_frame(frame, sizeof frame, code, reason);
  send_frame(s, frame, n);
}

/* Delivers the queued messages as one "a[...]" frame, if a receiver is there. */
static void flush(sockjs_session *s) {
  if (s->recv == NULL || s->out_len == 0) return;
  char *frame = malloc(s->out_len + 3);
  frame[0] = 'a';
  frame[1] = '[';
  memcpy(frame + 2, s->out, s->out_len);
  frame[s->out_len + 2] = ']';
  size_t n = s->out_len + 3;
  s->out_len = 0;
  send_frame(s, frame, n);
  free(frame);
  if (s->stomp) chat_stomp_session_wrote(s->stomp);
}

/* ---- session lifetime ---- */

static void session_free_cb(uv_handle_t *h) {
  sockjs_session *s = h->data;
  free(s->out);
  free(s);
}

/* Ends the session: the STOMP session learns its transport is gone. */
static void session_end(sockjs_session *s) {
  if (s->closed) return;
  s->closed = 1;
  live_sessions--;
  if (s->stomp) {
    chat_stomp_session *stomp = s->stomp;
    s->stomp = NULL;
    chat_stomp_session_closed(stomp);
  }
}

static void session_destroy(sockjs_session *s) {
  session_end(s);
  unregister(s);
  if (s->ws) {
    chat_ws_free(s->ws);
    s->ws = NULL;
  }
  uv_timer_stop(&s->timer);
  uv_close((uv_handle_t *)&s->timer, session_free_cb);
}

static void on_timer(uv_timer_t *t) {
  sockjs_session *s = t->data;
  if (s->recv == NULL) {
    /* No receiving request for the disconnect delay: the client is gone. */
    chat_log_debug("sockjs", "session %s timed out", s->id);
    session_destroy(s);
    return;
  }
  if (!s->stomp || !chat_stomp_session_heartbeating(s->stomp)) send_frame(s, "h", 1);
  arm_timer(s);
}

static void arm_timer(sockjs_session *s) {
  if (s->closed && s->recv == NULL) {
    uv_timer_start(&s->timer, on_timer, DISCONNECT_DELAY_MS, 0);
    return;
  }
  uv_timer_start(&s->timer, on_timer, s->recv ? HEARTBEAT_MS : DISCONNECT_DELAY_MS, 0);
}

static void detach_receiver(sockjs_session *s) {
  s->recv = NULL;
  s->kind = RECV_NONE;
  arm_timer(s);
}

/* ---- STOMP transport ---- */

static void stomp_send(void *transport, const char *head, size_t head_len, chat_shared_buf *body) {
  sockjs_session *s = transport;
  if (s->closed) return;
  if (body && body->escaped == NULL) {
    size_t n = chat_sockjs_escape(NULL, body->data, body->len);
    body->escaped = malloc(n + 1);
    if (body->escaped == NULL) return;
    body->escaped_len = chat_sockjs_escape(body->escaped, body->data, body->len);
  }
  size_t need = chat_sockjs_escape(NULL, head, head_len) + (body ? body->escaped_len : 0) + 3;
  if (s->out_len + need > s->out_cap) {
    size_t cap = s->out_cap ? s->out_cap : 1024;
    while (cap < s->out_len + need) cap *= 2;
    char *o = realloc(s->out, cap);
    if (o == NULL) return;
    s->out = o;
    s->out_cap = cap;
  }
  if (s->out_len) s->out[s->out_len++] = ',';
  s->out[s->out_len++] = '"';
  s->out_len += chat_sockjs_escape(s->out + s->out_len, head, head_len);
  if (body) {
    memcpy(s->out + s->out_len, body->escaped, body->escaped_len);
    s->out_len += body->escaped_len;
  }
  s->out[s->out_len++] = '"';
  flush(s);
}

static void stomp_close(void *transport) {
  sockjs_session *s = transport;
  if (s->closing) return;
  s->closing = 1;
  flush(s);
  if (s->recv) {
    send_close_frame(s, 3000, "Go away!");
    if (s->recv && s->kind != RECV_XHR) {
      chat_http_conn *c = s->recv;
      detach_receiver(s);
      chat_http_conn_close(c, 1);
    }
  }
  session_end(s);
  arm_timer(s);
}

static size_t stomp_queued(const void *transport) {
  const sockjs_session *s = transport;
  return s->out_len + (s->recv ? chat_http_conn_queued(s->recv) : 0);
}

static void stomp_pause(void *transport, int paused) {
  sockjs_session *s = transport;
  if (s->kind == RECV_WEBSOCKET && s->recv) chat_http_conn_pause(s->recv, paused);
}

static const chat_stomp_transport_ops STOMP_OPS = {stomp_send, stomp_close, stomp_queued, stomp_pause};

/* A new session is refused over CHAT_SOCKJS_MAX_SESSIONS (each holds a STOMP session and
 * up to 5 s of queued frames without any open connection), or when memory is out. */
static const char *session_refused(chat_runtime *rt) {
  if (live_sessions < rt->config.sockjs_max_sessions) return NULL;
  chat_metrics.sockjs_sessions_refused++;
  return "too many SockJS sessions";
}

static sockjs_session *session_new(chat_runtime *rt, const char *id, chat_http_conn *conn,
                                   const chat_http_request *req) {
  sockjs_session *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  snprintf(s->id, sizeof s->id, "%s", id);
  s->rt = rt;
  s->stomp = chat_stomp_session_new(rt->stomp, &STOMP_OPS, s);
  if (s->stomp == NULL) {
    free(s);
    return NULL;
  }
  chat_stomp_session_set_handshake(s->stomp, chat_handshake_new(req, chat_http_conn_peer(conn)));
  chat_credentials_digest(req, s->credentials);
  uv_timer_init(rt->loop, &s->timer);
  s->timer.data = s;
  unsigned b = bucket_of(id);
  s->next = registry[b];
  registry[b] = s;
  live_sessions++;
  return s;
}

/* Client messages: each string is a chunk of the STOMP byte stream. */
static int deliver_payload(sockjs_session *s, const char *payload, size_t len) {
  chat_sockjs_messages m;
  int rc = chat_sockjs_parse(payload, len, &m);
  if (rc < 0) return rc;
  for (size_t i = 0; i < m.count && s->stomp && !s->closed; i++)
    chat_stomp_session_feed(s->stomp, m.items[i], m.lens[i]);
  chat_sockjs_messages_free(&m);
  return 0;
}

/* ---- receiving requests ---- */

static void on_receiver_data(void *ud, const char *data, size_t len) {
  (void)ud, (void)data, (void)len; /* nothing is expected from a streaming client */
}

static void on_receiver_closed(void *ud) {
  sockjs_session *s = ud;
  if (s->recv != NULL && s->kind != RECV_WEBSOCKET) detach_receiver(s);
}

static const chat_http_upgrade_ops STREAM_OPS = {on_receiver_data, on_receiver_closed};

static const char HTMLFILE_HEAD[] =
    "<!doctype html>\n<html><head>\n  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
    "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n</head><body><h2>Don't panic!</h2>\n"
    "  <script>\n    document.domain = document.domain;\n    var c = parent.%s;\n    c.start();\n"
    "    function p(d) {c.message(d);};\n    window.onload = function() {c.stop();};\n  </script>";

/* A session id travels in URLs and may leak (logs, a shared screen): every request of a
 * session must carry the credentials of the one that opened it, or it may neither post
 * into the session nor read from it. Answers 403 and returns 0 when it does not. */
static int same_caller(sockjs_session *s, chat_http_conn *conn, const chat_http_request *req) {
  unsigned char digest[CHAT_CREDENTIALS_DIGEST_LEN];
  chat_credentials_digest(req, digest);
  if (chat_credentials_equal(digest, s->credentials)) return 1;
  static const char reason[] = "session belongs to another client";
  chat_log_warn("sockjs", "%s: refused a request into another client's session", chat_http_conn_peer(conn));
  chat_metrics.access_denied[CHAT_DENIED_SESSION]++;
  respond_text(conn, req, 403, "text/plain;charset=UTF-8", reason, sizeof reason - 1);
  return 0;
}

/* Attaches a receiving request, or answers it right away when it cannot be one. */
static void attach_receiver(chat_runtime *rt, chat_http_conn *conn, const chat_http_request *req, const char *id,
                            recv_kind kind, const char *callback) {
  sockjs_session *s = find_session(id);
  int fresh = 0;
  if (s == NULL) {
    const char *refused = session_refused(rt);
    s = refused ? NULL : session_new(rt, id, conn, req);
    if (s == NULL) {
      if (refused == NULL) refused = "out of memory";
      respond_text(conn, req, 503, "text/plain;charset=UTF-8", refused, strlen(refused));
      return;
    }
    fresh = 1;
  } else if (!same_caller(s, conn, req)) {
    return;
  }
  if (kind == RECV_XHR) {
    if (s->recv != NULL) {
      static const char busy[] = "c[2010,\"Another connection still open\"]\n";
      respond_text(conn, req, 200, "application/javascript;charset=UTF-8", busy, sizeof busy - 1);
      return;
    }
    s->recv = conn;
    s->kind = RECV_XHR;
  } else {
    char head[1024];
    static const char *const ctypes[] = {NULL, NULL, "application/javascript;charset=UTF-8",
                                         "text/event-stream;charset=UTF-8", "text/html;charset=UTF-8"};
    size_t n = streaming_head(head, sizeof head, ctypes[kind], req);
    chat_http_conn_upgrade(conn, head, n, &STREAM_OPS, s);
    /* Preludes that make browsers and proxies start delivering at once. */
    if (kind == RECV_XHR_STREAMING) {
      char prelude[2049];
      memset(prelude, 'h', 2048);
      prelude[2048] = '\n';
      chat_http_conn_write_copy(conn, prelude, sizeof prelude);
    } else if (kind == RECV_EVENTSOURCE) {
      chat_http_conn_write_copy(conn, "\r\n", 2);
    } else if (kind == RECV_HTMLFILE) {
      char page[2048];
      int len = snprintf(page, sizeof page, HTMLFILE_HEAD, callback);
      memset(page + len, ' ', 1024 > len ? (size_t)(1024 - len) : 0);
      len = len < 1024 ? 1024 : len;
      page[len++] = '\r';
      page[len++] = '\n';
      chat_http_conn_write_copy(conn, page, (size_t)len);
    }
    if (s->recv != NULL) {
      /* One receiver per session: this one is told so and ends. */
      char frame[96];
      size_t fl = chat_sockjs_close_frame(frame, sizeof frame, 2010, "Another connection still open");
      write_streamed(conn, kind, frame, fl);
      chat_http_conn_close(conn, 1);
      return;
    }
    s->recv = conn;
    s->kind = kind;
    s->streamed = 0;
  }
  if (s->closed) {
    send_close_frame(s, 3000, "Go away!");
    if (s->recv) {
      chat_http_conn *c = s->recv;
      detach_receiver(s);
      if (kind != RECV_XHR) chat_http_conn_close(c, 1);
    }
    return;
  }
  if (fresh || !s->opened) {
    s->opened = 1;
    send_frame(s, "o", 1);
    if (kind == RECV_XHR) return; /* the "o" was this poll's answer */
  }
  flush(s);
  if (s->recv) arm_timer(s);
}

/* ---- SockJS over WebSocket ---- */

static void sws_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  (void)opcode;
  sockjs_session *s = ud;
  if (deliver_payload(s, (const char *)data, len) == -1) {
    /* Broken JSON on a WebSocket: Spring closes the session. */
    chat_ws_close(s->ws, 1002, "Broken JSON encoding.");
  }
}

static void sws_write(void *ud, const uint8_t *data, size_t len) {
  sockjs_session *s = ud;
  if (s->recv) chat_http_conn_write_copy(s->recv, (const char *)data, len);
}

static void sws_closed(void *ud, uint16_t code) {
  (void)code;
  sockjs_session *s = ud;
  if (s->recv) chat_http_conn_close(s->recv, 1);
}

static const chat_ws_callbacks SWS_CALLBACKS = {sws_message, sws_write, sws_closed};

static void sws_data(void *ud, const char *data, size_t len) {
  sockjs_session *s = ud;
  if (s->ws) chat_ws_feed(s->ws, (const uint8_t *)data, len);
}

static void sws_socket_closed(void *ud) {
  sockjs_session *s = ud;
  s->recv = NULL;
  /* A WebSocket session has no other receiver to wait for: it ends with its socket. */
  session_destroy(s);
}

static const chat_http_upgrade_ops SWS_OPS = {sws_data, sws_socket_closed};

static void websocket_transport(chat_runtime *rt, chat_http_conn *conn, const chat_http_request *req,
                                const char *id) {
  char response[512];
  int status = 400;
  const char *reason = NULL;
  long n = chat_ws_handshake(req, response, sizeof response, &status, &reason);
  if (n < 0) {
    respond_text(conn, req, status, "text/plain;charset=UTF-8", reason, strlen(reason));
    return;
  }
  if (find_session(id)) {
    respond_text(conn, req, 400, "text/plain;charset=UTF-8", "session already exists", 22);
    return;
  }
  const char *refused = session_refused(rt);
  sockjs_session *s = refused ? NULL : session_new(rt, id, conn, req);
  if (s == NULL) {
    if (refused == NULL) refused = "out of memory";
    respond_text(conn, req, 503, "text/plain;charset=UTF-8", refused, strlen(refused));
    return;
  }
  s->ws = chat_ws_new(&SWS_CALLBACKS, s, 0);
  s->recv = conn;
  s->kind = RECV_WEBSOCKET;
  s->opened = 1;
  chat_http_conn_upgrade(conn, response, (size_t)n, &SWS_OPS, s);
  send_frame(s, "o", 1);
  arm_timer(s);
}

/* ---- info, greeting, iframe ---- */

static void info(chat_http_conn *conn, const chat_http_request *req) {
  if (strcmp(req->method, "OPTIONS") == 0) {
    const char *headers[] = {"Access-Control-Allow-Origin", cors_origin(req),
                             "Access-Control-Allow-Credentials", "true",
                             "Access-Control-Allow-Methods", "OPTIONS, GET",
                             "Access-Control-Max-Age", "31536000",
                             "Cache-Control", "public, max-age=31536000", "Vary", "Origin", NULL};
    chat_http_respond(conn, 204, headers, NULL, 0);
    return;
  }
  uint32_t entropy;
  uv_random(NULL, NULL, &entropy, sizeof entropy, 0, NULL);
  char body[160];
  int n = snprintf(body, sizeof body, "{\"entropy\":%u,\"origins\":[\"*:*\"],\"cookie_needed\":true,\"websocket\":true}",
                   entropy & 0x7fffffff);
  respond_text(conn, req, 200, "application/json;charset=UTF-8", body, (size_t)n);
}

static const char IFRAME[] =
    "<!DOCTYPE html>\n<html>\n<head>\n  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"
    "  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n  <script>\n"
    "    document.domain = document.domain;\n    _sockjs_onload = function(){SockJS.bootstrap_iframe();};\n"
    "  </script>\n  <script src=\"/js/sockjs.min.js\"></script>\n</head>\n<body>\n"
    "  <h2>Don't panic!</h2>\n  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n"
    "</body>\n</html>";

static void iframe(chat_http_conn *conn, const chat_http_request *req) {
  /* A stable ETag: the page never changes while this binary runs. */
  static char etag[24];
  if (etag[0] == '\0') {
    snprintf(etag, sizeof etag, "\"0%016llx\"", (unsigned long long)chat_hash_str(IFRAME));
  }
  const char *inm = chat_http_request_header(req, "if-none-match");
  const char *headers[] = {"Content-Type", "text/html;charset=UTF-8", "Cache-Control", "public, max-age=31536000",
                           "ETag", etag, NULL};
  if (inm && strcmp(inm, etag) == 0) {
    chat_http_respond(conn, 304, headers + 2, NULL, 0);
    return;
  }
  chat_http_respond(conn, 200, headers, IFRAME, sizeof IFRAME - 1);
}

static void transport_options(chat_http_conn *conn, const chat_http_request *req) {
  const char *req_headers = chat_http_request_header(req, "access-control-request-headers");
  const char *headers[] = {"Access-Control-Allow-Origin", cors_origin(req),
                           "Access-Control-Allow-Credentials", "true",
                           "Access-Control-Allow-Methods", "OPTIONS, POST",
                           "Access-Control-Max-Age", "31536000",
                           "Cache-Control", "public, max-age=31536000", "Vary", "Origin",
                           req_headers ? "Access-Control-Allow-Headers" : NULL, req_headers, NULL};
  chat_http_respond(conn, 204, headers, NULL, 0);
}

static int valid_callback(const char *c) {
  if (*c == '\0') return 0;
  for (; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '.'))
      return 0;
  return 1;
}

int chat_sockjs_handle(chat_runtime *rt, chat_http_conn *conn, const chat_http_request *req, const char *rest) {
  const char *m = req->method;
  if (strcmp(rest, "") == 0 || strcmp(rest, "/") == 0) {
    static const char greeting[] = "Welcome to SockJS!\n";
    static const char *const headers[] = {"Content-Type", "text/plain;charset=UTF-8", NULL};
    chat_http_respond(conn, 200, headers, greeting, sizeof greeting - 1);
    return 1;
  }
  /* CHAT_ALLOWED_ORIGINS, as Spring's setAllowedOriginPatterns checks every SockJS request. */
  const char *origin = chat_http_request_header(req, "origin");
  if (!chat_origin_allowed(rt->config.allowed_origins, origin)) {
    static const char reason[] = "origin not allowed";
    chat_log_info("sockjs", "%s: refused the origin %.100s", chat_http_conn_peer(conn), origin);
    static const char *const headers[] = {"Content-Type", "text/plain;charset=UTF-8", NULL};
    chat_metrics.access_denied[CHAT_DENIED_ORIGIN]++;
    chat_http_respond(conn, 403, headers, reason, sizeof reason - 1);
    return 1;
  }
  if (strcmp(rest, "/info") == 0) {
    info(conn, req);
    return 1;
  }
  if (strncmp(rest, "/iframe", 7) == 0 && strlen(rest) >= 12 && strcmp(rest + strlen(rest) - 5, ".html") == 0) {
    iframe(conn, req);
    return 1;
  }
  char server[128], id[128], transport[32];
  if (chat_sockjs_split_path(rest, server, sizeof server, id, sizeof id, transport, sizeof transport) < 0) return 0;
  int is_post = strcmp(m, "POST") == 0, is_get = strcmp(m, "GET") == 0, is_options = strcmp(m, "OPTIONS") == 0;
  if (strcmp(transport, "websocket") == 0 && is_get) {
    websocket_transport(rt, conn, req, id);
    return 1;
  }
  if (is_options && (strcmp(transport, "xhr") == 0 || strcmp(transport, "xhr_send") == 0 ||
                     strcmp(transport, "xhr_streaming") == 0)) {
    transport_options(conn, req);
    return 1;
  }
  if (strcmp(transport, "xhr_send") == 0 && is_post) {
    sockjs_session *s = find_session(id);
    if (s == NULL || s->closed) {
      respond_text(conn, req, 404, "text/plain;charset=UTF-8", "session not found", 17);
      return 1;
    }
    if (!same_caller(s, conn, req)) return 1;
    int rc = deliver_payload(s, req->body, req->body_len);
    if (rc == -2) respond_text(conn, req, 500, "text/plain;charset=UTF-8", "Payload expected.", 17);
    else if (rc < 0) respond_text(conn, req, 500, "text/plain;charset=UTF-8", "Broken JSON encoding.", 21);
    else respond_text(conn, req, 204, "text/plain;charset=UTF-8", NULL, 0);
    return 1;
  }
  if (strcmp(transport, "xhr") == 0 && is_post) {
    attach_receiver(rt, conn, req, id, RECV_XHR, NULL);
    return 1;
  }
  if (strcmp(transport, "xhr_streaming") == 0 && is_post) {
    attach_receiver(rt, conn, req, id, RECV_XHR_STREAMING, NULL);
    return 1;
  }
  if (strcmp(transport, "eventsource") == 0 && is_get) {
    attach_receiver(rt, conn, req, id, RECV_EVENTSOURCE, NULL);
    return 1;
  }
  if (strcmp(transport, "htmlfile") == 0 && is_get) {
    char cb[64] = "";
    char *c = chat_http_request_query_param(req, "c");
    if (c && strlen(c) < sizeof cb) strcpy(cb, c);
    free(c);
    if (!valid_callback(cb)) {
      respond_text(conn, req, 500, "text/plain;charset=UTF-8", "\"callback\" parameter required", 30);
      return 1;
    }
    attach_receiver(rt, conn, req, id, RECV_HTMLFILE, cb);
    return 1;
  }
  respond_text(conn, req, 404, "text/plain;charset=UTF-8", "unknown SockJS transport", 24);
  return 1;
}

/* ---- graceful stop ---- */

void chat_sockjs_stop_all(void) {
  for (unsigned b = 0; b < BUCKETS; b++) {
    while (registry[b] != NULL) {
      sockjs_session *s = registry[b];
      /* A poll still waiting is answered, so its request is released. */
      if (s->recv && s->kind == RECV_XHR) send_close_frame(s, 3000, "Go away!");
      s->recv = NULL;
      session_destroy(s);
    }
  }
}
