/* WebSocket without sockets: the handshake (RFC 6455's example key, subprotocol choice,
 * refusals) and inbound framing through wslay with hand-masked client frames. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"
#include "ws.h"

static chat_http_request *request(const char *raw) {
  chat_http_limits limits = {8192, 8192};
  chat_http_parser *p = chat_http_parser_new(&limits);
  chat_http_parser_feed(p, raw, strlen(raw));
  chat_http_request *r = chat_http_parser_take(p);
  chat_http_parser_free(p);
  return r;
}

#define UPGRADE "GET /ws-chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

static void test_handshake(void) {
  char out[512];
  int status = 0;
  const char *reason = NULL;
  chat_http_request *r = request(UPGRADE "Sec-WebSocket-Version: 13\r\n" KEY
                                         "Sec-WebSocket-Protocol: v10.stomp, v11.stomp, v12.stomp\r\n\r\n");
  long n = chat_ws_handshake(r, out, sizeof out, &status, &reason);
  CHECK(n > 0);
  CHECK(strncmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
  CHECK(strstr(out, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != NULL);
  CHECK(strstr(out, "Sec-WebSocket-Protocol: v12.stomp\r\n") != NULL);
  chat_http_request_free(r);

  r = request(UPGRADE "Sec-WebSocket-Version: 13\r\n" KEY "Sec-WebSocket-Protocol: v11.stomp\r\n\r\n");
  CHECK(chat_ws_handshake(r, out, sizeof out, &status, &reason) > 0);
  CHECK(strstr(out, "Sec-WebSocket-Protocol: v11.stomp\r\n") != NULL);
  chat_http_request_free(r);

  r = request(UPGRADE "Sec-WebSocket-Version: 13\r\n" KEY "Sec-WebSocket-Protocol: mqtt\r\n\r\n");
  CHECK(chat_ws_handshake(r, out, sizeof out, &status, &reason) > 0);
  CHECK(strstr(out, "Sec-WebSocket-Protocol") == NULL);
  chat_http_request_free(r);

  r = request(UPGRADE "Sec-WebSocket-Version: 8\r\n" KEY "\r\n");
  CHECK(chat_ws_handshake(r, out, sizeof out, &status, &reason) == -1 && status == 426);
  chat_http_request_free(r);

  r = request(UPGRADE "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n");
  CHECK(chat_ws_handshake(r, out, sizeof out, &status, &reason) == -1 && status == 400);
  chat_http_request_free(r);

  r = request("POST /ws-chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\n" KEY "\r\n");
  CHECK(chat_ws_handshake(r, out, sizeof out, &status, &reason) == -1 && status == 400);
  chat_http_request_free(r);
}

static void test_frame_header(void) {
  uint8_t h[10];
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 0) == 2 && h[0] == 0x81 && h[1] == 0);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 125) == 2 && h[1] == 125);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 126) == 4 && h[1] == 126 && h[2] == 0 && h[3] == 126);
  CHECK(chat_ws_frame_header(h, CHAT_WS_BINARY, 65535) == 4 && h[0] == 0x82 && h[2] == 0xff && h[3] == 0xff);
  CHECK(chat_ws_frame_header(h, CHAT_WS_TEXT, 65536) == 10 && h[1] == 127 && h[7] == 1 && h[8] == 0 && h[9] == 0);
}

/* ---- framing ---- */

typedef struct {
  char messages[8][256];
  size_t lens[8];
  int nmessages;
  uint8_t written[512];
  size_t nwritten;
  int closed;
  unsigned close_code;
} peer;

static void on_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  (void)opcode;
  peer *p = ud;
  if (p->nmessages < 8 && len < 256) {
    memcpy(p->messages[p->nmessages], data, len);
    p->lens[p->nmessages++] = len;
  }
}
static void on_write(void *ud, const uint8_t *data, size_t len) {
  peer *p = ud;
  if (p->nwritten + len <= sizeof p->written) memcpy(p->written + p->nwritten, data, len);
  p->nwritten += len;
}
static void on_close(void *ud, uint16_t code) {
  peer *p = ud;
  p->closed = 1;
  p->close_code = code;
}
static const chat_ws_callbacks CB = {on_message, on_write, on_close};

/* A client frame: FIN per `fin`, masked with a fixed key (clients must mask). */
static size_t client_frame(uint8_t *out, int fin, int opcode, const void *payload, size_t len, int mask) {
  static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  size_t n = 0;
  out[n++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (len < 126) {
    out[n++] = (uint8_t)((mask ? 0x80 : 0) | len);
  } else {
    out[n++] = (uint8_t)((mask ? 0x80 : 0) | 126);
    out[n++] = (uint8_t)(len >> 8);
    out[n++] = (uint8_t)len;
  }
  if (mask) {
    memcpy(out + n, key, 4);
    n += 4;
  }
  for (size_t i = 0; i < len; i++) out[n + i] = ((const uint8_t *)payload)[i] ^ (mask ? key[i % 4] : 0);
  return n + len;
}

static void test_messages(void) {
  peer p = {0};
  chat_ws *ws = chat_ws_new(&CB, &p, 1024);
  uint8_t buf[1024];
  size_t n = client_frame(buf, 1, 1, "CONNECT\n\n", 10, 1);
  chat_ws_feed(ws, buf, n);
  CHECK(p.nmessages == 1 && p.lens[0] == 10 && memcmp(p.messages[0], "CONNECT\n\n", 10) == 0);

  /* Fragmented into three frames, then delivered split byte by byte. */
  n = client_frame(buf, 0, 1, "ab", 2, 1);
  n += client_frame(buf + n, 0, 0, "cd", 2, 1);
  n += client_frame(buf + n, 1, 0, "한", 3, 1);
  for (size_t i = 0; i < n; i++) chat_ws_feed(ws, buf + i, 1);
  CHECK(p.nmessages == 2 && p.lens[1] == 7 && memcmp(p.messages[1], "abcd한", 7) == 0);

  /* Ping is answered with a pong carrying the same payload. */
  n = client_frame(buf, 1, 9, "hb", 2, 1);
  chat_ws_feed(ws, buf, n);
  CHECK(p.nwritten == 4 && p.written[0] == 0x8a && p.written[1] == 2 && memcmp(p.written + 2, "hb", 2) == 0);

  /* Close: answered with a close and reported. */
  uint8_t code[2] = {0x03, 0xe8};
  n = client_frame(buf, 1, 8, code, 2, 1);
  chat_ws_feed(ws, buf, n);
  CHECK(p.closed && p.close_code == 1000);
  CHECK(p.written[4] == 0x88);
  chat_ws_free(ws);
}

static void expect_close(const uint8_t *frame, size_t n, unsigned want) {
  peer p = {0};
  chat_ws *ws = chat_ws_new(&CB, &p, 64);
  chat_ws_feed(ws, frame, n);
  CHECK(p.nmessages == 0);
  CHECK(p.closed);
  if (p.close_code != want) fprintf(stderr, "close code %u, want %u\n", p.close_code, want);
  CHECK(p.close_code == want);
  chat_ws_free(ws);
}

static void test_protocol_errors(void) {
  uint8_t buf[256];
  size_t n = client_frame(buf, 1, 1, "unmasked", 8, 0);
  expect_close(buf, n, 1002);
  char big[100];
  memset(big, 'x', sizeof big);
  n = client_frame(buf, 1, 1, big, sizeof big, 1);
  expect_close(buf, n, 1009);
  n = client_frame(buf, 1, 1, "\xc3\x28", 2, 1); /* invalid UTF-8 */
  expect_close(buf, n, 1007);
  n = client_frame(buf, 1, 1, "\xed\xa0\x80", 3, 1); /* a UTF-16 surrogate */
  expect_close(buf, n, 1007);
}

int main(void) {
  test_handshake();
  test_frame_header();
  test_messages();
  test_protocol_errors();
  CHECK_DONE();
}
