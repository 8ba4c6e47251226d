#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <wslay/wslay.h>

#include "ws.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void chat_ws_accept_key(const char *key, char out[29]) {
  char joined[128];
  int n = snprintf(joined, sizeof joined, "%.64s%s", key, GUID);
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1((const unsigned char *)joined, (size_t)n, digest);
  EVP_EncodeBlock((unsigned char *)out, digest, SHA_DIGEST_LENGTH);
}

/* True when the comma-separated header value contains `token` (case-insensitive). */
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

static int valid_key(const char *key) {
  if (key == NULL || strlen(key) != 24) return 0;
  unsigned char raw[18];
  /* 24 base64 characters with "==" decode to 16 bytes (EVP reports 18 with padding). */
  return key[22] == '=' && key[23] == '=' && EVP_DecodeBlock(raw, (const unsigned char *)key, 24) == 18;
}

long chat_ws_handshake(const chat_http_request *req, char *out, size_t cap, int *status,
                       const char **reason) {
  const char *upgrade = chat_http_request_header(req, "upgrade");
  const char *connection = chat_http_request_header(req, "connection");
  const char *version = chat_http_request_header(req, "sec-websocket-version");
  const char *key = chat_http_request_header(req, "sec-websocket-key");
  const char *offered = chat_http_request_header(req, "sec-websocket-protocol");
  *status = 400;
  if (strcmp(req->method, "GET") != 0) {
    *reason = "a WebSocket handshake must be a GET";
    return -1;
  }
  if (upgrade == NULL || strcasecmp(upgrade, "websocket") != 0 || connection == NULL ||
      !has_token(connection, "upgrade")) {
    *reason = "Can \"Upgrade\" only to \"WebSocket\".";
    return -1;
  }
  if (version == NULL || strcmp(version, "13") != 0) {
    *status = 426;
    *reason = "unsupported WebSocket version: only 13";
    return -1;
  }
  if (!valid_key(key)) {
    *reason = "missing or malformed Sec-WebSocket-Key";
    return -1;
  }
  const char *protocol = NULL;
  static const char *const preferred[] = {"v12.stomp", "v11.stomp", "v10.stomp"};
  for (int i = 0; i < 3 && protocol == NULL && offered; i++)
    if (has_token(offered, preferred[i])) protocol = preferred[i];
  char accept[29];
  chat_ws_accept_key(key, accept);
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

/* ---- inbound framing ---- */

struct chat_ws {
  wslay_event_context_ptr ctx;
  chat_ws_callbacks cb;
  void *ud;
  const uint8_t *in; /* the bytes being fed */
  size_t in_len;
  int closed; /* on_close was called */
};

/* RFC 3629 UTF-8, rejecting overlongs, surrogates and values past U+10FFFF, as RFC 6455
 * requires of text messages (wslay leaves this to the application). */
static int valid_utf8(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07;
    else return 0;
    if (i + len > n) return 0;
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

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user) {
  (void)flags;
  chat_ws *ws = user;
  if (ws->in_len == 0) {
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
  ws->cb.write(ws->ud, data, len);
  return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user) {
  chat_ws *ws = user;
  if (ws->closed) return;
  if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME) {
    if (arg->opcode == WSLAY_TEXT_FRAME && !valid_utf8(arg->msg, arg->msg_length)) {
      wslay_event_queue_close(ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA, NULL, 0);
      return;
    }
    ws->cb.on_message(ws->ud, arg->opcode, arg->msg, arg->msg_length);
  }
  /* Ping (answered by wslay with a pong) and close (answered by wslay) need nothing here. */
}

chat_ws *chat_ws_new(const chat_ws_callbacks *cb, void *ud, size_t max_message_bytes) {
  chat_ws *ws = calloc(1, sizeof *ws);
  if (ws == NULL) return NULL;
  ws->cb = *cb;
  ws->ud = ud;
  struct wslay_event_callbacks callbacks = {recv_cb, send_cb, NULL, NULL, NULL, NULL, msg_cb};
  if (wslay_event_context_server_init(&ws->ctx, &callbacks, ws) != 0) {
    free(ws);
    return NULL;
  }
  wslay_event_config_set_max_recv_msg_length(ws->ctx, max_message_bytes);
  return ws;
}

void chat_ws_free(chat_ws *ws) {
  if (ws == NULL) return;
  wslay_event_context_free(ws->ctx);
  free(ws);
}

/* After wslay has sent its close frame, nothing more will be read: the socket may go. */
static void check_closed(chat_ws *ws) {
  if (ws->closed) return;
  if (wslay_event_get_close_sent(ws->ctx) &&
      (wslay_event_get_close_received(ws->ctx) || !wslay_event_want_read(ws->ctx))) {
    ws->closed = 1;
    uint16_t code = wslay_event_get_status_code_sent(ws->ctx);
    ws->cb.on_close(ws->ud, code);
  }
}

void chat_ws_feed(chat_ws *ws, const uint8_t *data, size_t len) {
  if (ws->closed) return;
  ws->in = data;
  ws->in_len = len;
  if (wslay_event_recv(ws->ctx) != 0) {
    /* Out of memory or a callback failure: nothing sensible is left to say. */
    ws->closed = 1;
    ws->cb.on_close(ws->ud, WSLAY_CODE_ABNORMAL_CLOSURE);
    return;
  }
  ws->in_len = 0;
  wslay_event_send(ws->ctx);
  check_closed(ws);
}

void chat_ws_close(chat_ws *ws, uint16_t code, const char *reason) {
  if (ws->closed) return;
  wslay_event_queue_close(ws->ctx, code, (const uint8_t *)reason, reason ? strlen(reason) : 0);
  wslay_event_send(ws->ctx);
}
