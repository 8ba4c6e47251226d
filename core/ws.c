/* WebSocket (RFC 6455), pure: handshake validation, inbound framing on wslay, outbound
 * frame headers. See ws.h for which frames go through wslay and why that is safe. */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "ws.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- handshake ---- */

void chat_ws_accept_key(const char *key, char out[29]) {
  char joined[128];
  int n = snprintf(joined, sizeof joined, "%.64s%s", key, GUID);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)joined, (size_t)n, digest);
  EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

/* True when the comma-separated header value contains `token` (case-insensitive), as
 * "Connection: keep-alive, Upgrade" does for "upgrade". */
static int has_token(const char *value, const char *token) {
  size_t tlen = strlen(token);
  for (const char *p = value; p && *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    size_t n = strcspn(p, ",");
    size_t trimmed = n;
    while (trimmed > 0 && (p[trimmed - 1] == ' ' || p[trimmed - 1] == '\t')) trimmed--;
    if (trimmed == tlen && strncasecmp(p, token, tlen) == 0) return 1;
    p += n;
  }
  return 0;
}

/* The header is looked up here rather than through http.c so that this file links on its
 * own, and every occurrence is searched because a client may split a list header over
 * several lines (RFC 9110 §5.3). */
static int header_has_token(const chat_http_request *req, const char *name, const char *token) {
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0 && has_token(req->headers[i].value, token))
      return 1;
  return 0;
}

static const char *header(const chat_http_request *req, const char *name) {
  for (size_t i = 0; i < req->header_count; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  return NULL;
}

static const char *trim(const char *s, size_t *len) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  *len = n;
  return s;
}

/* RFC 6455 §4.2.1 asks for a key that "when decoded, is 16 bytes in length": in base64
 * that is exactly 22 alphabet characters followed by "==". */
static int valid_key(const char *key, size_t len) {
  if (len != 24 || key[22] != '=' || key[23] != '=') return 0;
  for (size_t i = 0; i < 22; i++) {
    char c = key[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
          c == '+' || c == '/'))
      return 0;
  }
  return 1;
}

const char *chat_ws_select_protocol(const char *offered) {
  /* Spring (and stomp.js, which offers all three) expect the newest version to win. */
  static const char *const preferred[] = {"v12.stomp", "v11.stomp", "v10.stomp"};
  for (int i = 0; i < 3 && offered; i++)
    if (has_token(offered, preferred[i])) return preferred[i];
  return NULL;
}

static const char *select_protocol(const chat_http_request *req) {
  const char *best = NULL;
  for (size_t i = 0; i < req->header_count; i++) {
    if (strcasecmp(req->headers[i].name, "sec-websocket-protocol") != 0) continue;
    const char *p = chat_ws_select_protocol(req->headers[i].value);
    /* The names sort by preference ("v12" > "v11" > "v10"), so comparing them picks the
     * newest across several header lines too. */
    if (p && (best == NULL || strcmp(p, best) > 0)) best = p;
  }
  return best;
}

long chat_ws_handshake(const chat_http_request *req, char *out, size_t cap, int *status,
                       const char **reason) {
  *status = 400;
  /* The texts follow Spring's HandshakeFailureException messages where it has one. */
  if (req->method == NULL || strcmp(req->method, "GET") != 0) {
    *reason = "Invalid handshake: a WebSocket handshake must be a GET request.";
    return -1;
  }
  if (req->http_minor < 1) {
    *reason = "Invalid handshake: a WebSocket handshake needs HTTP/1.1.";
    return -1;
  }
  if (!header_has_token(req, "upgrade", "websocket")) {
    *reason = "Can \"Upgrade\" only to \"WebSocket\".";
    return -1;
  }
  if (!header_has_token(req, "connection", "upgrade")) {
    *reason = "\"Connection\" must be \"upgrade\".";
    return -1;
  }
  const char *version = header(req, "sec-websocket-version");
  size_t vlen = 0;
  if (version) version = trim(version, &vlen);
  if (version == NULL || vlen != 2 || memcmp(version, "13", 2) != 0) {
    *status = 426;
    *reason = "Unsupported WebSocket version: this server supports 13.";
    return -1;
  }
  const char *key = header(req, "sec-websocket-key");
  size_t klen = 0;
  if (key) key = trim(key, &klen);
  if (key == NULL || !valid_key(key, klen)) {
    *reason = "Missing or invalid \"Sec-WebSocket-Key\" header.";
    return -1;
  }
  char trimmed_key[25];
  memcpy(trimmed_key, key, 24);
  trimmed_key[24] = '\0';
  char accept[29];
  chat_ws_accept_key(trimmed_key, accept);
  const char *protocol = select_protocol(req);
  int n = snprintf(out, cap,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                   accept, protocol ? "Sec-WebSocket-Protocol: " : "", protocol ? protocol : "",
                   protocol ? "\r\n" : "");
  if (n < 0 || (size_t)n >= cap) {
    *status = 500;
    *reason = "handshake response too long";
    return -1;
  }
  return n;
}

/* ---- outbound data frames ---- */

size_t chat_ws_frame_header(uint8_t out[10], int opcode, uint64_t len) {
  out[0] = (uint8_t)(0x80 | (opcode & 0x0f));
  if (len < 126) {
    out[1] = (uint8_t)len;
    return 2;
  }
  if (len <= 0xffff) {
    out[1] = 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    return 4;
  }
  out[1] = 127;
  for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
  return 10;
}

/* ---- UTF-8 ---- */

int chat_ws_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    /* 0xc0, 0xc1 and 0xf5..0xff can only start overlong or out-of-range sequences. */
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}

/* ---- inbound framing ---- */

struct chat_ws {
  wslay_event_context_ptr ctx;
  chat_ws_callbacks cb;
  void *ud;
  const uint8_t *in; /* the bytes being fed, served to wslay by recv_cb */
  size_t in_len;
  int in_feed;       /* inside wslay_event_recv: chat_ws_feed flushes afterwards */
  int close_queued;  /* we started the closing handshake: drop further data messages */
  int closed;        /* on_close was called */
};

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
  (void)flags;
  chat_ws *ws = user;
  if (ws->in_len == 0) {
    /* Drained: wslay keeps any partial frame and resumes with the next feed. */
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
  size_t n = len < ws->in_len ? len : ws->in_len;
  memcpy(buf, ws->in, n);
  ws->in += n;
  ws->in_len -= n;
  return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user) {
  (void)ctx, (void)flags;
  chat_ws *ws = user;
  /* Taking everything is what keeps wslay from ever holding a partly sent frame. */
  ws->cb.write(ws->ud, data, len);
  return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user) {
  chat_ws *ws = user;
  if (ws->closed || ws->close_queued) return;
  if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME) return;
  /* wslay 1.1 checks UTF-8 itself while reading, but skips it for some configurations
   * (RSV1 extensions, no-buffering mode) and older releases did not check at all; one
   * more pass over a short STOMP frame keeps the guarantee ours. */
  if (arg->opcode == WSLAY_TEXT_FRAME && !chat_ws_utf8_valid(arg->msg, arg->msg_length)) {
    wslay_event_queue_close(ctx, CHAT_WS_CLOSE_INVALID_DATA, NULL, 0);
    /* A peer that sends broken text is failed (RFC 6455 §8.1): nothing more is read, so
     * on_close follows as soon as our close frame is written. */
    wslay_event_shutdown_read(ctx);
    ws->close_queued = 1;
    return;
  }
  ws->cb.on_message(ws->ud, arg->opcode, arg->msg, arg->msg_length);
}

chat_ws *chat_ws_new(const chat_ws_callbacks *cb, void *ud, size_t max_message_bytes) {
  chat_ws *ws = calloc(1, sizeof *ws);
  if (ws == NULL) return NULL;
  ws->cb = *cb;
  ws->ud = ud;
  struct wslay_event_callbacks callbacks = {
      .recv_callback = recv_cb, .send_callback = send_cb, .on_msg_recv_callback = msg_cb};
  if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0) {
    free(ws);
    return NULL;
  }
  wslay_event_config_set_max_recv_msg_length(
      ws->ctx, max_message_bytes ? max_message_bytes : CHAT_WS_DEFAULT_MAX_MESSAGE);
  return ws;
}

void chat_ws_free(chat_ws *ws) {
  if (ws == NULL) return;
  wslay_event_context_free(ws->ctx);
  free(ws);
}

/* Hands everything wslay has queued to the write callback. It cannot fail: send_cb always
 * takes all the bytes. */
static void flush(chat_ws *ws) { wslay_event_send(ws->ctx); }

/* The session ends once our close frame is out and either the peer's close came in or we
 * stopped reading (a protocol failure). Returns 1 when on_close was called just now. */
static int check_closed(chat_ws *ws) {
  if (ws->closed || !wslay_event_get_close_sent(ws->ctx)) return 0;
  if (!wslay_event_get_close_received(ws->ctx) && wslay_event_want_read(ws->ctx)) return 0;
  ws->closed = 1;
  ws->cb.on_close(ws->ud, wslay_event_get_status_code_sent(ws->ctx));
  return 1;
}

/* wslay_event_recv failed: a frame-level protocol error (a fragmented or oversized
 * control frame, a non-minimal length), for which wslay queues a close frame without a
 * code and reports a callback failure, or out of memory. We send the close frame with a
 * code ourselves; that is safe since wslay never holds a partly written frame. */
static void fail(chat_ws *ws, int err) {
  uint16_t code = err == WSLAY_ERR_NOMEM ? CHAT_WS_CLOSE_INTERNAL_ERROR : CHAT_WS_CLOSE_PROTOCOL_ERROR;
  wslay_event_shutdown_read(ws->ctx);
  if (!wslay_event_get_close_sent(ws->ctx)) {
    wslay_event_shutdown_write(ws->ctx);
    uint8_t frame[4] = {0x88, 2, (uint8_t)(code >> 8), (uint8_t)code};
    ws->cb.write(ws->ud, frame, sizeof frame);
  }
  ws->closed = 1;
  ws->cb.on_close(ws->ud, code);
}

int chat_ws_feed(chat_ws *ws, const uint8_t *data, size_t len) {
  if (ws->closed) return -1;
  ws->in = data;
  ws->in_len = len;
  ws->in_feed = 1;
  int r = wslay_event_recv(ws->ctx);
  ws->in_feed = 0;
  ws->in = NULL;
  ws->in_len = 0;
  if (r != 0) {
    fail(ws, r);
    return -1;
  }
  flush(ws);
  /* Nothing may touch `ws` after on_close, which may free it. */
  return check_closed(ws) ? -1 : 0;
}

int chat_ws_close(chat_ws *ws, uint16_t code, const char *reason) {
  if (ws->closed) return -1;
  size_t rlen = reason ? strlen(reason) : 0;
  if (rlen > 123) {
    /* A control frame carries at most 125 bytes; cut on a character boundary so the
     * reason stays valid UTF-8. */
    rlen = 123;
    while (rlen > 0 && ((uint8_t)reason[rlen] & 0xc0) == 0x80) rlen--;
  }
  if (wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, rlen) != 0) return -1;
  ws->close_queued = 1;
  /* Inside on_message wslay is in the middle of wslay_event_recv; chat_ws_feed flushes
   * when it returns, so the close frame is still written before control returns. */
  if (!ws->in_feed) flush(ws);
  return 0;
}

int chat_ws_want_read(const chat_ws *ws) {
  return !ws->closed && wslay_event_want_read(ws->ctx);
}

int chat_ws_want_write(const chat_ws *ws) {
  return !ws->closed && wslay_event_want_write(ws->ctx);
}
