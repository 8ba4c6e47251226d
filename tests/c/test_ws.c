/* WebSocket at the byte level: the upgrade handshake (accept key, subprotocol choice, bad
 * requests), inbound framing (masking, fragments, any split, control frames,
 * the closing handshake, protocol failures, limits, UTF-8) and outbound frame headers.
 * Client frames are built by hand and masked with a fixed key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ws.h"

/* ---- handshake ---- */

/* A request with up to 8 headers given as name/value pairs, NULL-terminated. */
typedef struct {
  chat_http_request req;
  chat_http_header headers[8];
} request;

static void make_request(request *r, const char *method, int http_minor, const char *const *kv) {
  memset(r, 0, sizeof *r);
  r->req.method = method;
  r->req.http_minor = http_minor;
  r->req.headers = r->headers;
  for (size_t i = 0; kv[2 * i] && i < 8; i++) {
    r->headers[i].name = (char *)kv[2 * i];
    r->headers[i].value = (char *)kv[2 * i + 1];
    r->req.header_count = i + 1;
  }
}

static const char KEY[] = "dGhlIHNhbXBsZSBub25jZQ==";

static long handshake(const char *method, int http_minor, const char *const *kv, char *out,
                      size_t cap, int *status, const char **reason) {
  request r;
  make_request(&r, method, http_minor, kv);
  *status = 0;
  *reason = NULL;
  return chat_ws_handshake(&r.req, out, cap, status, reason);
}

static void test_accept_key(void) {
  char accept[29];
  chat_ws_accept_key(KEY, accept);
  CHECK_STR(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 §1.3 */
}

static void test_handshake_ok(void) {
  char out[512];
  int status;
  const char *reason;
  const char *kv[] = {"host", "x", "upgrade", "WebSocket", "connection", "keep-alive, Upgrade",
                      "sec-websocket-version", "13", "sec-websocket-key", KEY,
                      "sec-websocket-protocol", "v10.stomp, v11.stomp, v12.stomp", NULL};
  long n = handshake("GET", 1, kv, out, sizeof out, &status, &reason);
  CHECK(n > 0 && (size_t)n == strlen(out));
  CHECK_STR(out,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: v12.stomp\r\n\r\n");

  /* No subprotocol offered, or none we speak: no Sec-WebSocket-Protocol line. */
  const char *plain[] = {"upgrade", "websocket", "connection", "Upgrade", "sec-websocket-version",
                         "13", "sec-websocket-key", KEY, "sec-websocket-protocol", "foo", NULL};
  n = handshake("GET", 1, plain, out, sizeof out, &status, &reason);
  CHECK(n > 0);
  CHECK_STR(out,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");

  /* A list split over two header lines is one list. */
  const char *split[] = {"upgrade", "websocket", "connection", "upgrade", "sec-websocket-version",
                         "13", "sec-websocket-key", KEY, "sec-websocket-protocol", "v10.stomp",
                         "sec-websocket-protocol", "v11.stomp", NULL};
  n = handshake("GET", 1, split, out, sizeof out, &status, &reason);
  CHECK(n > 0 && strstr(out, "Sec-WebSocket-Protocol: v11.stomp\r\n") != NULL);

  /* Too small a buffer is reported, not overrun. */
  n = handshake("GET", 1, split, out, 40, &status, &reason);
  CHECK(n == -1 && status == 500);
}

static void test_select_protocol(void) {
  CHECK_STR(chat_ws_select_protocol("v10.stomp, v11.stomp, v12.stomp"), "v12.stomp");
  CHECK_STR(chat_ws_select_protocol("v12.stomp,v10.stomp"), "v12.stomp");
  CHECK_STR(chat_ws_select_protocol("v11.stomp"), "v11.stomp");
  CHECK_STR(chat_ws_select_protocol("foo, V10.STOMP"), "v10.stomp");
  CHECK_STR(chat_ws_select_protocol("foo"), NULL);
  CHECK_STR(chat_ws_select_protocol("v12.stomp2, xv11.stomp"), NULL);
  CHECK_STR(chat_ws_select_protocol(""), NULL);
  CHECK_STR(chat_ws_select_protocol(NULL), NULL);
}

static void expect_bad(const char *method, int http_minor, const char *const *kv, int want_status) {
  char out[512];
  int status;
  const char *reason;
  long n = handshake(method, http_minor, kv, out, sizeof out, &status, &reason);
  CHECK(n == -1);
  CHECK(status == want_status);
  CHECK(reason != NULL && reason[0] != '\0');
}

static void test_handshake_bad(void) {
  const char *no_key[] = {"upgrade", "websocket", "connection", "upgrade",
                          "sec-websocket-version", "13", NULL};
  expect_bad("GET", 1, no_key, 400);
  const char *short_key[] = {"upgrade", "websocket", "connection", "upgrade", "sec-websocket-version",
                             "13", "sec-websocket-key", "dGhlIHNhbXBsZQ==", NULL};
  expect_bad("GET", 1, short_key, 400);
  const char *bad_chars[] = {"upgrade", "websocket", "connection", "upgrade", "sec-websocket-version",
                             "13", "sec-websocket-key", "dGhlIHNhbXBsZSBub25j*Q==", NULL};
  expect_bad("GET", 1, bad_chars, 400);
  const char *v8[] = {"upgrade", "websocket", "connection", "upgrade", "sec-websocket-version", "8",
                      "sec-websocket-key", KEY, NULL};
  expect_bad("GET", 1, v8, 426);
  const char *no_version[] = {"upgrade", "websocket", "connection", "upgrade",
                              "sec-websocket-key", KEY, NULL};
  expect_bad("GET", 1, no_version, 426);
  const char *good[] = {"upgrade", "websocket", "connection", "upgrade", "sec-websocket-version",
                        "13", "sec-websocket-key", KEY, NULL};
  expect_bad("POST", 1, good, 400);
  expect_bad("GET", 0, good, 400); /* HTTP/1.0 */
  const char *h2c[] = {"upgrade", "h2c", "connection", "upgrade", "sec-websocket-version", "13",
                       "sec-websocket-key", KEY, NULL};
  expect_bad("GET", 1, h2c, 400);
  const char *keep_alive[] = {"upgrade", "websocket", "connection", "keep-alive",
                              "sec-websocket-version", "13", "sec-websocket-key", KEY, NULL};
  expect_bad("GET", 1, keep_alive, 400);
  const char *upgrades[] = {"upgrade", "websocket", "connection", "upgrades",
                            "sec-websocket-version", "13", "sec-websocket-key", KEY, NULL};
  expect_bad("GET", 1, upgrades, 400);
}

/* ---- framing ---- */

typedef struct {
  int messages, closes;
  int opcode;
  uint8_t msg[4096];
  size_t msg_len;
  uint8_t out[4096]; /* everything written to the peer */
  size_t out_len;
  uint16_t close_code;
  chat_ws *ws;
  int close_on_message; /* call chat_ws_close from inside on_message */
} peer;

static void on_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  peer *p = ud;
  p->messages++;
  p->opcode = opcode;
  p->msg_len = len < sizeof p->msg ? len : sizeof p->msg;
  memcpy(p->msg, data, p->msg_len);
  if (p->close_on_message) CHECK(chat_ws_close(p->ws, 1008, "policy") == 0);
}

static void on_write(void *ud, const uint8_t *data, size_t len) {
  peer *p = ud;
  CHECK(p->out_len + len <= sizeof p->out);
  if (p->out_len + len > sizeof p->out) return;
  memcpy(p->out + p->out_len, data, len);
  p->out_len += len;
}

static void on_close(void *ud, uint16_t code) {
  peer *p = ud;
  p->closes++;
  p->close_code = code;
}

static const chat_ws_callbacks CALLBACKS = {on_message, on_write, on_close};

static chat_ws *new_session(peer *p, size_t max) {
  memset(p, 0, sizeof *p);
  p->ws = chat_ws_new(&CALLBACKS, p, max);
  CHECK(p->ws != NULL);
  return p->ws;
}

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d}; /* RFC 6455 §5.7's example key */

/* Appends one client frame to `out` (masked unless `masked` is 0); returns its length. */
static size_t client_frame(uint8_t *out, int fin, int opcode, const void *payload, size_t len,
                           int masked) {
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  uint8_t m = masked ? 0x80 : 0;
  if (len < 126) {
    out[n++] = (uint8_t)(m | len);
  } else if (len <= 0xffff) {
    out[n++] = m | 126;
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  } else {
    out[n++] = m | 127;
    for (int i = 0; i < 8; i++) out[n++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  if (masked) {
    memcpy(out + n, MASK, 4);
    n += 4;
  }
  const uint8_t *src = payload;
  for (size_t i = 0; i < len; i++) out[n + i] = masked ? (uint8_t)(src[i] ^ MASK[i % 4]) : src[i];
  return n + len;
}

static void test_text_message(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  uint8_t buf[64];
  size_t n = client_frame(buf, 1, 1, "Hello", 5, 1);
  CHECK(n == 11);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 1 && p.opcode == CHAT_WS_TEXT);
  CHECK(p.msg_len == 5 && memcmp(p.msg, "Hello", 5) == 0);
  CHECK(p.out_len == 0 && p.closes == 0);
  CHECK(chat_ws_want_read(ws) && !chat_ws_want_write(ws));

  /* Two messages in one read, one of them binary with a NUL. */
  n = client_frame(buf, 1, 2, "a\0b", 3, 1);
  n += client_frame(buf + n, 1, 1, "second", 6, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 3 && p.opcode == CHAT_WS_TEXT);
  CHECK(p.msg_len == 6 && memcmp(p.msg, "second", 6) == 0);
  chat_ws_free(ws);
}

static void test_fragments_with_ping(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  uint8_t buf[128];
  size_t n = client_frame(buf, 0, 1, "SEND\n", 5, 1);
  n += client_frame(buf + n, 0, 0, "destination:/app/x\n\n", 20, 1);
  /* A ping may arrive between the fragments of a message (RFC 6455 §5.4). */
  n += client_frame(buf + n, 1, 9, "hb", 2, 1);
  n += client_frame(buf + n, 1, 0, "body", 5, 1); /* with the trailing NUL */
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 1);
  CHECK(p.msg_len == 30 && memcmp(p.msg, "SEND\ndestination:/app/x\n\nbody", 30) == 0);
  static const uint8_t pong[] = {0x8a, 0x02, 'h', 'b'};
  CHECK(p.out_len == sizeof pong && memcmp(p.out, pong, sizeof pong) == 0);
  chat_ws_free(ws);
}

static void test_byte_by_byte(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  uint8_t payload[300];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)('a' + i % 26);
  uint8_t buf[400];
  size_t n = client_frame(buf, 1, 1, payload, sizeof payload, 1); /* a 16-bit length */
  n += client_frame(buf + n, 1, 9, "p", 1, 1);
  for (size_t i = 0; i < n; i++) CHECK(chat_ws_feed(ws, buf + i, 1) == 0);
  CHECK(p.messages == 1 && p.msg_len == sizeof payload && memcmp(p.msg, payload, sizeof payload) == 0);
  static const uint8_t pong[] = {0x8a, 0x01, 'p'};
  CHECK(p.out_len == sizeof pong && memcmp(p.out, pong, sizeof pong) == 0);
  chat_ws_free(ws);
}

static void test_ping_pong(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  uint8_t buf[64];
  size_t n = client_frame(buf, 1, 9, "ping-data", 9, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.out_len == 11 && p.out[0] == 0x8a && p.out[1] == 9 && memcmp(p.out + 2, "ping-data", 9) == 0);
  CHECK(p.messages == 0);
  /* An unsolicited pong is ignored. */
  n = client_frame(buf, 1, 10, "x", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.out_len == 11 && p.messages == 0 && p.closes == 0);
  chat_ws_free(ws);
}

static void test_peer_close(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  uint8_t buf[64];
  static const uint8_t close_payload[] = {0x03, 0xe8, 'b', 'y', 'e'};
  size_t n = client_frame(buf, 1, 8, close_payload, sizeof close_payload, 1);
  /* Anything after the close is not read. */
  n += client_frame(buf + n, 1, 1, "late", 4, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  static const uint8_t reply[] = {0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'};
  CHECK(p.out_len == sizeof reply && memcmp(p.out, reply, sizeof reply) == 0);
  CHECK(p.closes == 1 && p.close_code == 1000);
  CHECK(p.messages == 0);
  CHECK(!chat_ws_want_read(ws) && !chat_ws_want_write(ws));
  /* Feeding after the end does nothing. */
  n = client_frame(buf, 1, 1, "x", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 0 && p.closes == 1);
  chat_ws_free(ws);

  /* A close without a code is answered without one and reported as 1005. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 8, "", 0, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.out_len == 2 && p.out[0] == 0x88 && p.out[1] == 0);
  CHECK(p.closes == 1 && p.close_code == 1005);
  chat_ws_free(ws);
}

static void test_server_close(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  CHECK(chat_ws_close(ws, 1001, "bye") == 0);
  static const uint8_t frame[] = {0x88, 0x05, 0x03, 0xe9, 'b', 'y', 'e'};
  CHECK(p.out_len == sizeof frame && memcmp(p.out, frame, sizeof frame) == 0);
  CHECK(p.closes == 0);
  CHECK(chat_ws_close(ws, 1000, NULL) == -1); /* only one close frame */
  /* Data arriving before the peer's reply is dropped; the reply ends the session. */
  uint8_t buf[64];
  size_t n = client_frame(buf, 1, 1, "late", 4, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 0);
  static const uint8_t reply[] = {0x03, 0xe9};
  n = client_frame(buf, 1, 8, reply, 2, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.closes == 1 && p.close_code == 1001);
  CHECK(p.out_len == sizeof frame); /* nothing more written */
  chat_ws_free(ws);

  /* A long reason is cut to fit a control frame, on a character boundary. */
  ws = new_session(&p, 0);
  char reason[200];
  memset(reason, 'a', 122);
  strcpy(reason + 122, "\xc3\xa9tail"); /* "é" straddles byte 123 */
  CHECK(chat_ws_close(ws, 1000, reason) == 0);
  CHECK(p.out_len == 2 + 2 + 122 && p.out[1] == 124);
  chat_ws_free(ws);
}

static void test_close_from_on_message(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  p.close_on_message = 1;
  uint8_t buf[64];
  size_t n = client_frame(buf, 1, 1, "first", 5, 1);
  n += client_frame(buf + n, 1, 1, "second", 6, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 1 && p.msg_len == 5);
  static const uint8_t frame[] = {0x88, 0x08, 0x03, 0xf0, 'p', 'o', 'l', 'i', 'c', 'y'};
  CHECK(p.out_len == sizeof frame && memcmp(p.out, frame, sizeof frame) == 0);
  CHECK(p.closes == 0 && chat_ws_want_read(ws));
  chat_ws_free(ws);
}

/* The session must have written exactly one close frame with `code` and reported it. */
static void expect_failed(peer *p, uint16_t code) {
  CHECK(p->out_len >= 4);
  CHECK(p->out[0] == 0x88);
  CHECK(p->out_len >= 4 && p->out[1] == p->out_len - 2);
  CHECK(p->out_len >= 4 && (uint16_t)(p->out[2] << 8 | p->out[3]) == code);
  CHECK(p->closes == 1 && p->close_code == code);
  CHECK(!chat_ws_want_read(p->ws));
}

static void test_unmasked(void) {
  peer p;
  chat_ws *ws = new_session(&p, 0);
  uint8_t buf[64];
  size_t n = client_frame(buf, 1, 1, "Hello", 5, 0);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 0);
  expect_failed(&p, 1002);
  chat_ws_free(ws);
}

static void test_protocol_errors(void) {
  peer p;
  uint8_t buf[300];
  /* A fragmented ping. */
  chat_ws *ws = new_session(&p, 0);
  size_t n = client_frame(buf, 0, 9, "x", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* A control frame longer than 125 bytes. */
  ws = new_session(&p, 0);
  uint8_t big[126] = {0};
  n = client_frame(buf, 1, 9, big, sizeof big, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* A reserved opcode. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 3, "x", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* A continuation with no message to continue. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 0, "x", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* A new text frame in the middle of a fragmented message. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 0, 1, "a", 1, 1);
  n += client_frame(buf + n, 1, 1, "b", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 0);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* RSV bits without a negotiated extension. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 1, "a", 1, 1);
  buf[0] |= 0x40;
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* A length in the 8-byte form that fits in two bytes (not minimal). */
  ws = new_session(&p, 0);
  static const uint8_t long_form[] = {0x81, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};
  CHECK(chat_ws_feed(ws, long_form, sizeof long_form) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* An unmasked frame is refused from its first two bytes. */
  ws = new_session(&p, 0);
  static const uint8_t unmasked_head[] = {0x81, 0x05};
  CHECK(chat_ws_feed(ws, unmasked_head, sizeof unmasked_head) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);

  /* A close payload of one byte, and a close reason that is not UTF-8. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 8, "\x03", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 8, "\x03\xe8\xc0\xaf", 4, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1007);
  chat_ws_free(ws);

  /* A close code that may not be sent on the wire. */
  ws = new_session(&p, 0);
  static const uint8_t bad_code[] = {0x03, 0xee}; /* 1006 */
  n = client_frame(buf, 1, 8, bad_code, 2, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  expect_failed(&p, 1002);
  chat_ws_free(ws);
}

static void test_oversize(void) {
  peer p;
  uint8_t buf[300];
  chat_ws *ws = new_session(&p, 16);
  size_t n = client_frame(buf, 1, 1, "0123456789abcdef", 16, 1); /* exactly the limit */
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 1);
  n = client_frame(buf, 1, 1, "0123456789abcdefg", 17, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 1);
  expect_failed(&p, 1009);
  chat_ws_free(ws);

  /* The limit is on the reassembled message, not on each fragment. */
  ws = new_session(&p, 16);
  n = client_frame(buf, 0, 1, "0123456789", 10, 1);
  n += client_frame(buf + n, 1, 0, "0123456789", 10, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 0);
  expect_failed(&p, 1009);
  chat_ws_free(ws);

  /* The default limit is 1 MiB; the header alone is enough to refuse more. */
  ws = new_session(&p, 0);
  uint8_t header[15] = {0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x10, 0x00, 0x01, 0x37, 0xfa, 0x21, 0x3d, 0};
  CHECK(chat_ws_feed(ws, header, sizeof header - 1) == -1);
  expect_failed(&p, 1009);
  chat_ws_free(ws);

  ws = new_session(&p, 0);
  size_t big_len = CHAT_WS_DEFAULT_MAX_MESSAGE;
  uint8_t *big = malloc(big_len + 14);
  uint8_t *payload = calloc(1, big_len);
  CHECK(big != NULL && payload != NULL);
  n = client_frame(big, 1, 2, payload, big_len, 1);
  CHECK(chat_ws_feed(ws, big, n) == 0);
  CHECK(p.messages == 1 && p.closes == 0);
  free(payload);
  free(big);
  chat_ws_free(ws);
}

static void test_invalid_utf8(void) {
  peer p;
  uint8_t buf[64];
  chat_ws *ws = new_session(&p, 0);
  size_t n = client_frame(buf, 1, 1, "a\xc0\xaf", 3, 1); /* an overlong '/' */
  n += client_frame(buf + n, 1, 1, "next", 4, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 0);
  expect_failed(&p, 1007);
  chat_ws_free(ws);

  /* A binary message is not text: any bytes go. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 2, "a\xc0\xaf", 3, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 1 && p.opcode == CHAT_WS_BINARY);
  chat_ws_free(ws);

  /* A character split between two fragments is fine. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 0, 1, "caf\xc3", 4, 1);
  n += client_frame(buf + n, 1, 0, "\xa9", 1, 1);
  CHECK(chat_ws_feed(ws, buf, n) == 0);
  CHECK(p.messages == 1 && p.msg_len == 5 && memcmp(p.msg, "caf\xc3\xa9", 5) == 0);
  chat_ws_free(ws);

  /* A message that ends in the middle of a character. */
  ws = new_session(&p, 0);
  n = client_frame(buf, 1, 1, "caf\xc3", 4, 1);
  CHECK(chat_ws_feed(ws, buf, n) == -1);
  CHECK(p.messages == 0);
  expect_failed(&p, 1007);
  chat_ws_free(ws);
}

static void test_utf8_validator(void) {
#define U(s) chat_ws_utf8_valid((const uint8_t *)(s), sizeof(s) - 1)
  CHECK(U(""));
  CHECK(U("plain ascii"));
  CHECK(U("\xec\x95\x88\xeb\x85\x95")); /* 안녕 */
  CHECK(U("\xf0\x9f\x98\x80"));         /* U+1F600 */
  CHECK(U("\xf4\x8f\xbf\xbf"));         /* U+10FFFF */
  CHECK(U("\xef\xbf\xbf"));             /* U+FFFF */
  CHECK(!U("\x80"));                    /* a lone continuation byte */
  CHECK(!U("\xc0\x80"));                /* overlong NUL */
  CHECK(!U("\xe0\x80\xaf"));            /* overlong, 3 bytes */
  CHECK(!U("\xf0\x80\x80\xaf"));        /* overlong, 4 bytes */
  CHECK(!U("\xed\xa0\x80"));            /* U+D800, a surrogate */
  CHECK(!U("\xf4\x90\x80\x80"));        /* past U+10FFFF */
  CHECK(!U("\xf5\x80\x80\x80"));
  CHECK(!U("\xff"));
  CHECK(!U("\xe2\x82"));                /* truncated */
  CHECK(!U("\xe2\x28\xa1"));            /* a bad continuation */
#undef U
}

static void test_frame_header(void) {
  uint8_t h[10];
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 0) == 2);
  CHECK(h[0] == 0x81 && h[1] == 0);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 125) == 2);
  CHECK(h[0] == 0x81 && h[1] == 125);
  CHECK(chat_ws_frame_header(h, CHAT_WS_BINARY, 126) == 4);
  CHECK(h[0] == 0x82 && h[1] == 126 && h[2] == 0 && h[3] == 126);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 65535) == 4);
  CHECK(h[1] == 126 && h[2] == 0xff && h[3] == 0xff);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 65536) == 10);
  static const uint8_t want[] = {0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0};
  CHECK(memcmp(h, want, 10) == 0);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 0x0102030405060708ull) == 10);
  static const uint8_t want64[] = {0x81, 127, 1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(memcmp(h, want64, 10) == 0);
}

int main(void) {
  test_accept_key();
  test_handshake_ok();
  test_select_protocol();
  test_handshake_bad();
  test_text_message();
  test_fragments_with_ping();
  test_byte_by_byte();
  test_ping_pong();
  test_peer_close();
  test_server_close();
  test_close_from_on_message();
  test_unmasked();
  test_protocol_errors();
  test_oversize();
  test_invalid_utf8();
  test_utf8_validator();
  test_frame_header();
  CHECK_DONE();
}
