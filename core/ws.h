/* WebSocket (RFC 6455), pure: the upgrade handshake, inbound framing on Debian's wslay,
 * and the header of outbound data frames. No sockets; ws_conn.c does the I/O.
 *
 * Outbound data frames never go through wslay's queue: a broadcast writes one shared,
 * already-encoded STOMP body to many sockets, so the socket layer writes our frame
 * header + the per-subscriber head + the shared body with one vectored write. Control
 * frames (pong, close) do go through wslay, whose write callback is always drained
 * completely, so its bytes can never be interleaved with half a data frame. */
#ifndef CHAT_WS_H
#define CHAT_WS_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"

enum { CHAT_WS_TEXT = 1, CHAT_WS_BINARY = 2 };

/* Validates an upgrade request and writes the whole "101 Switching Protocols" response
 * (with the STOMP subprotocol the client offered, preferring v12 > v11 > v10) into
 * `out`. Returns its length, or -1 with the HTTP status (400, 426) and a reason. */
long chat_ws_handshake(const chat_http_request *req, char *out, size_t cap, int *status,
                       const char **reason);

/* Sec-WebSocket-Accept for a client key: base64(SHA-1(key + RFC 6455 GUID)). */
void chat_ws_accept_key(const char *key, char out[29]);

typedef struct chat_ws chat_ws;

typedef struct chat_ws_callbacks {
  /* A complete (reassembled) text or binary message. */
  void (*on_message)(void *ud, int opcode, const uint8_t *data, size_t len);
  /* Bytes for the peer (pong, close): the caller writes them all. */
  void (*write)(void *ud, const uint8_t *data, size_t len);
  /* The closing handshake finished or the peer broke the protocol: close the socket
   * once the bytes written so far are flushed. `code` is what we answered with. */
  void (*on_close)(void *ud, uint16_t code);
} chat_ws_callbacks;

chat_ws *chat_ws_new(const chat_ws_callbacks *cb, void *ud, size_t max_message_bytes);
void chat_ws_free(chat_ws *ws);

/* Bytes read from the socket. */
void chat_ws_feed(chat_ws *ws, const uint8_t *data, size_t len);

/* Starts the closing handshake (code 1000 normal, 1001 going away, 1008 policy). */
void chat_ws_close(chat_ws *ws, uint16_t code, const char *reason);

/* The unmasked server frame header (FIN set) for a payload of `len`: 2, 4 or 10 bytes. */
size_t chat_ws_frame_header(uint8_t out[10], int opcode, uint64_t len);

#endif
