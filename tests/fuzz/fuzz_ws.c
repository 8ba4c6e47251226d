/* Fuzzes the inbound WebSocket session (core/ws_session.c, a hand-written RFC 6455
 * decoder) with the bytes a client socket would deliver, in reads of sizes the input
 * chooses, and checks that the callbacks keep the promises ws.h makes:
 *   - text messages are valid UTF-8, opcodes are text or binary;
 *   - the session writes only whole, unmasked pong and close frames, and nothing after
 *     its close frame (no pong, no second close);
 *   - on_close comes at most once, after our close frame, and nothing comes after it;
 *   - chat_ws_feed returns -1 exactly when the session has ended.
 * When the bytes start with "GET " they are first an HTTP upgrade request: it is parsed
 * (core/http.c), answered by chat_ws_handshake, and the bytes after it are the frames,
 * as ws_conn.c receives them.
 *
 * Input: [read sizes seed] [options] [bytes...]; options bits 0-1 pick the message size
 * limit, bits 2-4 the message after which the application starts the closing handshake
 * itself (0: never), bit 5 whether that close carries a long reason. */
#include <string.h>

#include "fuzz_support.h"
#include "http.h"
#include "ws.h"

typedef struct session {
  chat_ws *ws;
  int messages;
  int close_after;       /* chat_ws_close() from on_message after this many messages */
  int long_reason;
  int app_closed;        /* the application called chat_ws_close() */
  uint16_t app_code;
  int close_written;     /* a close frame went to the peer */
  uint16_t close_written_code;
  int ended;             /* on_close was called */
  uint8_t checksum;
} session;

static uint16_t code_of(const uint8_t *payload, size_t len) {
  if (len < 2) return CHAT_WS_CLOSE_NO_STATUS;
  return (uint16_t)(payload[0] << 8 | payload[1]);
}

static void on_write(void *ud, const uint8_t *data, size_t len) {
  session *s = ud;
  FUZZ_ASSERT(!s->ended);
  FUZZ_ASSERT(!s->close_written);
  FUZZ_ASSERT(len >= 2 && len <= 2 + 125);
  FUZZ_ASSERT(data[0] == 0x88 || data[0] == 0x8a); /* FIN + close or pong */
  FUZZ_ASSERT(data[1] == len - 2);                  /* unmasked, 7-bit length */
  if (data[0] == 0x88) {
    FUZZ_ASSERT(len != 3); /* a code is two bytes */
    if (len > 4) FUZZ_ASSERT(chat_ws_utf8_valid(data + 4, len - 4)); /* the reason */
    s->close_written = 1;
    s->close_written_code = code_of(data + 2, len - 2);
  }
}

static void on_message(void *ud, int opcode, const uint8_t *data, size_t len) {
  session *s = ud;
  FUZZ_ASSERT(!s->ended);
  FUZZ_ASSERT(!s->close_written); /* data after our close frame is dropped */
  FUZZ_ASSERT(opcode == CHAT_WS_TEXT || opcode == CHAT_WS_BINARY);
  FUZZ_ASSERT(data != NULL);
  if (opcode == CHAT_WS_TEXT && !chat_ws_utf8_valid(data, len)) abort();
  /* Touch every byte: AddressSanitizer checks the whole message is readable. */
  for (size_t i = 0; i < len; i++) s->checksum ^= data[i];
  if (++s->messages == s->close_after) {
    /* A reason longer than a control frame holds, with multi-byte characters at the
     * cut, so the truncation must keep it valid UTF-8. */
    static const char *const longer = "종료합니다 종료합니다 종료합니다 종료합니다 종료합니다 "
                                      "종료합니다 종료합니다 종료합니다 종료합니다 종료합니다";
    s->app_code = s->long_reason ? CHAT_WS_CLOSE_POLICY : CHAT_WS_CLOSE_GOING_AWAY;
    FUZZ_ASSERT(chat_ws_close(s->ws, s->app_code, s->long_reason ? longer : "bye") == 0);
    FUZZ_ASSERT(s->close_written && s->close_written_code == s->app_code);
    s->app_closed = 1;
  }
}

static void on_close(void *ud, uint16_t code) {
  session *s = ud;
  FUZZ_ASSERT(!s->ended);
  FUZZ_ASSERT(s->close_written); /* we always answer or initiate before ending */
  /* The code reported is the one we sent (an echo of the peer's, or our own). */
  FUZZ_ASSERT(code == s->close_written_code);
  if (s->app_closed) FUZZ_ASSERT(code == s->app_code);
  s->ended = 1;
}

/* The upgrade request in front of the frames; returns how many bytes it took, or -1 when
 * it is not a complete, acceptable handshake (then there are no frames to read). */
static long handshake(const uint8_t *data, size_t len) {
  static const chat_http_limits limits = {.max_header_bytes = 4096, .max_body_bytes = 0};
  chat_http_parser *p = chat_http_parser_new(&limits);
  if (p == NULL) abort();
  long used = chat_http_parser_feed(p, (const char *)data, len);
  chat_http_request *req = used < 0 ? NULL : chat_http_parser_take(p);
  chat_http_parser_free(p);
  if (req == NULL) return -1;
  char out[512];
  int status = 0;
  const char *reason = NULL;
  long n = chat_ws_handshake(req, out, sizeof out, &status, &reason);
  chat_http_request_free(req);
  if (n < 0) {
    FUZZ_ASSERT(reason != NULL && (status == 400 || status == 426));
    return -1;
  }
  FUZZ_ASSERT(strlen(out) == (size_t)n && strstr(out, "\r\nSec-WebSocket-Accept: ") != NULL);
  return used;
}

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static const size_t limits[] = {0, 16, 200, 70000};
  fuzz_chunks chunks;
  fuzz_chunks_init(&chunks, data[0]);
  uint8_t options = data[1];
  data += 2;
  size -= 2;
  if (size >= 4 && memcmp(data, "GET ", 4) == 0) {
    long used = handshake(data, size);
    if (used < 0) return 0;
    data += used;
    size -= (size_t)used;
  }

  session s = {.close_after = (options >> 2) & 7, .long_reason = (options >> 5) & 1};
  chat_ws_callbacks cb = {.on_message = on_message, .write = on_write, .on_close = on_close};
  s.ws = chat_ws_new(&cb, &s, limits[options & 3]);
  if (s.ws == NULL) abort();
  size_t off = 0;
  while (off < size) {
    size_t n = fuzz_chunks_next(&chunks, size - off);
    int rc = chat_ws_feed(s.ws, data + off, n);
    off += n;
    FUZZ_ASSERT(rc == (s.ended ? -1 : 0));
    FUZZ_ASSERT(chat_ws_want_read(s.ws) == !s.ended && chat_ws_want_write(s.ws) == 0);
    if (s.ended) break;
  }
  if (s.ended) {
    /* Nothing is read after the end: no callback may fire (they assert it). */
    static const uint8_t ping[] = {0x89, 0x80, 1, 2, 3, 4};
    FUZZ_ASSERT(chat_ws_feed(s.ws, ping, sizeof ping) == -1);
    FUZZ_ASSERT(chat_ws_close(s.ws, CHAT_WS_CLOSE_GOING_AWAY, NULL) == -1);
  } else {
    /* The server shutting down: a close frame unless one was already written. */
    int had_close = s.close_written;
    FUZZ_ASSERT(chat_ws_close(s.ws, CHAT_WS_CLOSE_GOING_AWAY, NULL) == (had_close ? -1 : 0));
    FUZZ_ASSERT(s.close_written);
  }
  chat_ws_free(s.ws);
  return 0;
}
