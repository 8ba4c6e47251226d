/* WebSocket (RFC 6455), pure: the upgrade handshake, the inbound session (ws_session.c)
 * and the header of outbound data frames. No sockets and no libuv; ws_conn.c does the I/O.
 *
 * Outbound DATA frames (text, binary) are written by the socket layer itself: a broadcast
 * writes one shared, already-encoded STOMP body to many sockets, so it writes
 * chat_ws_frame_header() + the per-subscriber head + the shared body with one vectored
 * write and no copy per subscriber. Outbound CONTROL frames (pong, close) come from the
 * session, whole, through its write callback, so they can never land inside a data frame. */
#ifndef CHAT_WS_H
#define CHAT_WS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

enum { CHAT_WS_TEXT = 1, CHAT_WS_BINARY = 2 };

/* Close codes this module sends (RFC 6455 §7.4.1). */
enum {
  CHAT_WS_CLOSE_NORMAL = 1000,
  CHAT_WS_CLOSE_GOING_AWAY = 1001,
  CHAT_WS_CLOSE_PROTOCOL_ERROR = 1002,
  CHAT_WS_CLOSE_NO_STATUS = 1005,   /* the peer's close frame carried no code */
  CHAT_WS_CLOSE_ABNORMAL = 1006,    /* never sent; reported locally only */
  CHAT_WS_CLOSE_INVALID_DATA = 1007,
  CHAT_WS_CLOSE_POLICY = 1008,
  CHAT_WS_CLOSE_TOO_BIG = 1009,
  CHAT_WS_CLOSE_INTERNAL_ERROR = 1011
};

/* The limit on one reassembled inbound message when chat_ws_new() is given 0. */
#define CHAT_WS_DEFAULT_MAX_MESSAGE ((size_t)1024 * 1024)

/* ---- handshake ---- */

/* Validates an upgrade request (GET, HTTP/1.1, "Upgrade: websocket", a "Connection" list
 * holding "upgrade", "Sec-WebSocket-Version: 13", a Sec-WebSocket-Key of 16 base64-encoded
 * bytes) and writes the whole "101 Switching Protocols" response into `out`, with
 * Sec-WebSocket-Protocol when the client offered a STOMP subprotocol. Returns the
 * response's length, or -1 with *status (400; 426 for a missing or unsupported version,
 * to be answered with a "Sec-WebSocket-Version: 13" header; 500 when `cap` is too small)
 * and a static *reason. Only req->method, req->http_minor and req->headers are read. */
long chat_ws_handshake(const chat_http_request *req, char *out, size_t cap, int *status,
                       const char **reason);

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + RFC 6455 GUID)), NUL-ended. */
void chat_ws_accept_key(const char *key, char out[29]);

/* The subprotocol to answer for one Sec-WebSocket-Protocol value (a comma-separated list,
 * matched case-insensitively): the highest STOMP version offered, "v12.stomp" over
 * "v11.stomp" over "v10.stomp", whatever the client's order. NULL when none is offered. */
const char *chat_ws_select_protocol(const char *offered);

/* ---- inbound framing (a server session) ---- */

typedef struct chat_ws chat_ws;

typedef struct chat_ws_callbacks {
  /* A complete text or binary message, reassembled from its fragments; text is valid
   * UTF-8. `data` lives until the callback returns. */
  void (*on_message)(void *ud, int opcode, const uint8_t *data, size_t len);
  /* Bytes for the peer (pong, close): the callee must take them all, at once (copy or
   * queue them); a short write is not possible in this interface. */
  void (*write)(void *ud, const uint8_t *data, size_t len);
  /* Called once: the closing handshake finished, or the peer broke the protocol and we
   * answered with a close frame (1002, 1007, 1009). Close the socket once the bytes
   * written so far are flushed. `code` is the code we sent. */
  void (*on_close)(void *ud, uint16_t code);
} chat_ws_callbacks;

/* A server session; `max_message_bytes` limits one reassembled message (0: the default,
 * CHAT_WS_DEFAULT_MAX_MESSAGE), a bigger one is answered with close 1009. NULL when out
 * of memory. Callbacks must not free the session, except on_close, which is always the
 * last thing a call into this module does. */
chat_ws *chat_ws_new(const chat_ws_callbacks *cb, void *ud, size_t max_message_bytes);
void chat_ws_free(chat_ws *ws);

/* Bytes read from the socket, in any split: frames may span feeds. Calls on_message for
 * each complete message, write for the control replies, and on_close when the session
 * ends. Returns 0 while the session is open, -1 once it has ended (then or before). */
int chat_ws_feed(chat_ws *ws, const uint8_t *data, size_t len);

/* Starts the closing handshake (1000 normal, 1001 going away, 1008 policy...) and writes
 * the close frame; `reason` may be NULL and is cut to the 123 bytes a frame can carry.
 * Data messages that arrive afterwards are dropped. on_close is not called from here: it
 * follows when the peer's close arrives through chat_ws_feed(). Safe to call from
 * on_message. Returns 0, or -1 when a close frame was already queued or sent. */
int chat_ws_close(chat_ws *ws, uint16_t code, const char *reason);

/* Whether the session still reads frames / still has control bytes to write. want_write is
 * always 0 (control frames are handed over as soon as they are made); it is exported so
 * the socket layer can assert that. */
int chat_ws_want_read(const chat_ws *ws);
int chat_ws_want_write(const chat_ws *ws);

/* ---- outbound data frames ---- */

/* The unmasked server frame header (FIN set) for a payload of `len`: 2, 4 or 10 bytes.
 * `opcode` is CHAT_WS_TEXT or CHAT_WS_BINARY. */
size_t chat_ws_frame_header(uint8_t out[10], int opcode, uint64_t len);

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
int chat_ws_utf8_valid(const uint8_t *s, size_t n);

#endif
