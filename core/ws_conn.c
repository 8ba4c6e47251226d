/* Raw WebSocket connections carrying STOMP: the HTTP connection after its upgrade, the
 * WebSocket framing, and one STOMP session, wired together. */
#include <stdlib.h>
#include <string.h>

#include "handshake_credentials.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "runtime.h"
#include "stomp_session.h"
#include "ws.h"
#include "ws_conn.h"

/* A WebSocket message may pack several STOMP frames; each frame is limited to 64 KiB by
 * the STOMP layer, the message itself to this. */
enum { MAX_WS_MESSAGE_BYTES = 1024 * 1024 };

typedef struct ws_conn {
  chat_http_conn *http;
  chat_ws *ws;
  chat_stomp_session *stomp;
  int closing;
} ws_conn;

/* ---- writes: our frame header + STOMP head (one small block) + the shared body ---- */

typedef struct {
  ws_conn *wc;
  chat_shared_buf *body;
  chat_stomp_session *stomp;
  size_t head_len;
  char head[]; /* WebSocket header, then the STOMP head */
} out_frame;

static void frame_written(void *ud) {
  out_frame *f = ud;
  chat_shared_buf_release(f->body);
  free(f);
}

static void stomp_send(void *transport, const char *head, size_t head_len, chat_shared_buf *body) {
  ws_conn *wc = transport;
  if (wc->closing) return;
  size_t body_len = body ? body->len : 0;
  out_frame *f = malloc(sizeof *f + 10 + head_len);
  if (f == NULL) return;
  size_t hdr = chat_ws_frame_header((uint8_t *)f->head, CHAT_WS_TEXT, head_len + body_len);
  memcpy(f->head + hdr, head, head_len);
  f->wc = wc;
  f->body = body ? chat_shared_buf_retain(body) : NULL;
  f->head_len = hdr + head_len;
  uv_buf_t bufs[2] = {uv_buf_init(f->head, (unsigned)f->head_len),
                      uv_buf_init(body ? body->data : NULL, (unsigned)body_len)};
  chat_http_conn_write(wc->http, bufs, body_len ? 2 : 1, frame_written, f);
}

static void stomp_close(void *transport) {
  ws_conn *wc = transport;
  if (wc->closing) return;
  wc->closing = 1;
  /* 1000 after an orderly DISCONNECT or ERROR; the socket closes once it is flushed. */
  chat_ws_close(wc->ws, 1000, NULL);
  chat_http_conn_close(wc->http, 1);
}

static size_t stomp_queued(const void *transport) {
  return chat_http_conn_queued(((const ws_conn *)transport)->http);
}

static void stomp_pause(void *transport, int paused) {
  ws_conn *wc = transport;
  if (!wc->closing) chat_http_conn_pause(wc->http, paused);
}

static const chat_stomp_transport_ops STOMP_OPS = {stomp_send, stomp_close, stomp_queued, stomp_pause};

/* ---- WebSocket callbacks ---- */

static void ws_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  (void)opcode; /* STOMP over binary messages is accepted too, as Spring does */
  ws_conn *wc = ud;
  chat_stomp_session_feed(wc->stomp, (const char *)data, len);
}

static void ws_write(void *ud, const uint8_t *data, size_t len) {
  chat_http_conn_write_copy(((ws_conn *)ud)->http, data, len);
}

static void ws_closed(void *ud, uint16_t code) {
  ws_conn *wc = ud;
  chat_log_debug("ws", "closing handshake done (%u)", code);
  wc->closing = 1;
  chat_http_conn_close(wc->http, 1);
}

static const chat_ws_callbacks WS_CALLBACKS = {ws_message, ws_write, ws_closed};

/* ---- the socket ---- */

static void on_data(void *ud, const char *data, size_t len) {
  ws_conn *wc = ud;
  chat_ws_feed(wc->ws, (const uint8_t *)data, len);
}

static void on_socket_closed(void *ud) {
  ws_conn *wc = ud;
  chat_metrics.websocket_connections--;
  chat_stomp_session_closed(wc->stomp);
  chat_ws_free(wc->ws);
  free(wc);
}

static const chat_http_upgrade_ops UPGRADE_OPS = {on_data, on_socket_closed};

void chat_ws_conn_upgrade(chat_runtime *rt, chat_http_conn *conn, const chat_http_request *req) {
  if (!chat_origin_allowed(rt->config.allowed_origins, chat_http_request_header(req, "origin"))) {
    static const char *const headers[] = {"Content-Type", "text/plain;charset=UTF-8", NULL};
    static const char reason[] = "origin not allowed";
    chat_log_info("ws", "%s: refused the origin %.100s", chat_http_conn_peer(conn),
                  chat_http_request_header(req, "origin"));
    chat_metrics.access_denied[CHAT_DENIED_ORIGIN]++;
    chat_http_respond(conn, 403, headers, reason, sizeof reason - 1);
    return;
  }
  char response[512];
  int status = 400;
  const char *reason = NULL;
  long n = chat_ws_handshake(req, response, sizeof response, &status, &reason);
  if (n < 0) {
    static const char *const headers[] = {"Content-Type", "text/plain;charset=UTF-8",
                                          "Sec-WebSocket-Version", "13", NULL};
    chat_http_respond(conn, status, headers, reason, strlen(reason));
    return;
  }
  ws_conn *wc = calloc(1, sizeof *wc);
  if (wc == NULL) {
    static const char *const none[] = {NULL};
    chat_http_respond(conn, 503, none, NULL, 0);
    return;
  }
  wc->http = conn;
  wc->ws = chat_ws_new(&WS_CALLBACKS, wc, MAX_WS_MESSAGE_BYTES);
  wc->stomp = chat_stomp_session_new(rt->stomp, &STOMP_OPS, wc);
  if (wc->ws == NULL || wc->stomp == NULL) {
    chat_ws_free(wc->ws);
    free(wc);
    static const char *const headers[] = {NULL};
    chat_http_respond(conn, 503, headers, NULL, 0);
    return;
  }
  chat_stomp_session_set_handshake(wc->stomp, chat_handshake_new(req, chat_http_conn_peer(conn)));
  chat_metrics.websocket_connections++;
  chat_http_conn_upgrade(conn, response, (size_t)n, &UPGRADE_OPS, wc);
}
