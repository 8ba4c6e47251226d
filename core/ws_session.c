/* The inbound side of a server WebSocket session (RFC 6455 §5, §7): frames are decoded as
 * they arrive, in any split, with no buffer held between messages.
 *
 * Why not Debian's wslay, which chatd used first: each wslay session allocates two
 * contexts with a 4 KiB input buffer apiece, 8.7 KiB per connection measured with
 * heaptrack, more than twice the whole per-connection budget (bench/, issue 6). A server
 * only needs the decoding half of a WebSocket library, and that half is small: here an
 * idle session is this struct (~200 bytes); a message's bytes are held only while its
 * frames are arriving. */
#include <stdlib.h>
#include <string.h>

#include "ws.h"

enum { OP_CONTINUATION = 0, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };
enum { MAX_HEADER = 14, MAX_CONTROL = 125 };

struct chat_ws {
  chat_ws_callbacks cb;
  void *ud;
  size_t max_message;

  /* The frame being read: its header bytes until complete, then its payload. */
  uint8_t header[MAX_HEADER];
  uint8_t header_len;
  int in_payload;
  int fin;
  uint8_t opcode;
  uint8_t mask[4];
  uint64_t payload_len, payload_read;

  /* A data message being reassembled from fragments (opcode 0: none). */
  uint8_t msg_opcode;
  uint8_t *msg;
  size_t msg_len, msg_cap;

  uint8_t control[MAX_CONTROL]; /* a control frame's payload; they may come between fragments */

  int close_sent;     /* our close frame is written: data messages are dropped from now on */
  uint16_t code_sent;
  int closed;         /* on_close was called: nothing more is read */
};

chat_ws *chat_ws_new(const chat_ws_callbacks *cb, void *ud, size_t max_message_bytes) {
  chat_ws *ws = calloc(1, sizeof *ws);
  if (ws == NULL) return NULL;
  ws->cb = *cb;
  ws->ud = ud;
  ws->max_message = max_message_bytes ? max_message_bytes : CHAT_WS_DEFAULT_MAX_MESSAGE;
  return ws;
}

void chat_ws_free(chat_ws *ws) {
  if (ws == NULL) return;
  free(ws->msg);
  free(ws);
}

static void write_close(chat_ws *ws, const uint8_t *payload, size_t len) {
  uint8_t frame[2 + MAX_CONTROL];
  frame[0] = 0x80 | OP_CLOSE;
  frame[1] = (uint8_t)len;
  memcpy(frame + 2, payload, len);
  ws->cb.write(ws->ud, frame, 2 + len);
  ws->close_sent = 1;
}

/* Ends the session: on_close is the last thing a call into this module does, since the
 * callee may free the session. Always returns -1, for the caller to pass on. */
static int finish(chat_ws *ws, uint16_t code) {
  ws->closed = 1;
  ws->cb.on_close(ws->ud, code);
  return -1;
}

/* The peer broke the protocol: a close frame with the reason, then the end (§7.1.7). */
static int fail(chat_ws *ws, uint16_t code) {
  if (!ws->close_sent) {
    uint8_t payload[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    write_close(ws, payload, sizeof payload);
    ws->code_sent = code;
  }
  return finish(ws, ws->code_sent);
}

/* Codes a peer may put on the wire (§7.4): 1004-1006 and 1015 are reserved for local
 * reporting, 1012-2999 for future standards; 3000-4999 are for libraries and apps. */
static int close_code_allowed(uint16_t code) {
  return (code >= 1000 && code <= 1011 && code != 1004 && code != 1005 && code != 1006) ||
         (code >= 3000 && code <= 4999);
}

static int on_close_frame(chat_ws *ws, const uint8_t *p, size_t len) {
  uint16_t code = CHAT_WS_CLOSE_NO_STATUS;
  if (len == 1) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR);
  if (len >= 2) {
    code = (uint16_t)(p[0] << 8 | p[1]);
    if (!close_code_allowed(code)) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR);
    if (!chat_ws_utf8_valid(p + 2, len - 2)) return fail(ws, CHAT_WS_CLOSE_INVALID_DATA);
  }
  if (ws->close_sent) return finish(ws, ws->code_sent); /* the reply to our close */
  write_close(ws, p, len); /* echo the peer's code and reason (§5.5.1) */
  return finish(ws, code);
}

static void reset_message(chat_ws *ws) {
  free(ws->msg);
  ws->msg = NULL;
  ws->msg_len = ws->msg_cap = 0;
  ws->msg_opcode = 0;
}

/* A whole frame is in. Returns -1 when the session ended. */
static int on_frame(chat_ws *ws) {
  size_t len = (size_t)ws->payload_len;
  switch (ws->opcode) {
    case OP_PING:
      if (!ws->close_sent) {
        uint8_t pong[2 + MAX_CONTROL] = {0x80 | OP_PONG, (uint8_t)len};
        memcpy(pong + 2, ws->control, len);
        ws->cb.write(ws->ud, pong, 2 + len);
      }
      return 0;
    case OP_PONG:
      return 0; /* unsolicited pongs are allowed and mean nothing */
    case OP_CLOSE:
      return on_close_frame(ws, ws->control, len);
    default:
      break;
  }
  if (!ws->fin) return 0;
  int opcode = ws->msg_opcode;
  if (!ws->close_sent) {
    if (opcode == CHAT_WS_TEXT && !chat_ws_utf8_valid(ws->msg, ws->msg_len))
      return fail(ws, CHAT_WS_CLOSE_INVALID_DATA);
    ws->cb.on_message(ws->ud, opcode, ws->msg ? ws->msg : (const uint8_t *)"", ws->msg_len);
  }
  reset_message(ws);
  return 0;
}

/* The header is complete: check it against §5.2 and prepare for the payload. */
static int on_header(chat_ws *ws) {
  const uint8_t *h = ws->header;
  if (h[0] & 0x70) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR); /* no extension agreed */
  if (!(h[1] & 0x80)) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR); /* clients must mask */
  ws->fin = h[0] & 0x80;
  ws->opcode = h[0] & 0x0f;
  uint64_t len = h[1] & 0x7f;
  if (len == 126) {
    len = (uint64_t)h[2] << 8 | h[3];
    if (len < 126) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR); /* not minimal */
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
    if (len <= 0xffff || len >> 63) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR);
  }
  memcpy(ws->mask, h + ws->header_len - 4, 4);
  ws->payload_len = len;
  ws->payload_read = 0;
  if (ws->opcode & 0x8) {
    if (ws->opcode > OP_PONG || !ws->fin || len > MAX_CONTROL)
      return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR);
  } else if (ws->opcode == OP_CONTINUATION) {
    if (ws->msg_opcode == 0) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR);
  } else if (ws->opcode == CHAT_WS_TEXT || ws->opcode == CHAT_WS_BINARY) {
    if (ws->msg_opcode != 0) return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR);
    ws->msg_opcode = ws->opcode;
  } else {
    return fail(ws, CHAT_WS_CLOSE_PROTOCOL_ERROR); /* reserved opcode */
  }
  if (!(ws->opcode & 0x8) && len > ws->max_message - ws->msg_len) return fail(ws, CHAT_WS_CLOSE_TOO_BIG);
  ws->in_payload = 1;
  return 0;
}

/* Room for n more message bytes. The buffer grows with the bytes that actually arrived,
 * not with the length a header announced: ten bytes of header must not make every
 * connection hold a megabyte. */
static int reserve(chat_ws *ws, size_t n) {
  if (ws->msg_len + n <= ws->msg_cap) return 0;
  size_t cap = ws->msg_cap ? ws->msg_cap : 256;
  while (cap < ws->msg_len + n) cap *= 2;
  if (cap > ws->max_message) cap = ws->max_message;
  uint8_t *m = realloc(ws->msg, cap);
  if (m == NULL) return -1;
  ws->msg = m;
  ws->msg_cap = cap;
  return 0;
}

/* How many header bytes a frame needs, judging from the bytes read so far. An unmasked
 * frame is refused after its first two bytes, without waiting for a key it lacks. */
static size_t header_size(const chat_ws *ws) {
  if (ws->header_len < 2 || !(ws->header[1] & 0x80)) return 2;
  uint8_t len7 = ws->header[1] & 0x7f;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

int chat_ws_feed(chat_ws *ws, const uint8_t *data, size_t len) {
  if (ws->closed) return -1;
  size_t off = 0;
  for (;;) {
    if (!ws->in_payload) {
      if (off == len) return 0;
      size_t want = header_size(ws);
      while (ws->header_len < want && off < len) {
        ws->header[ws->header_len++] = data[off++];
        want = header_size(ws);
      }
      if (ws->header_len < want) return 0;
      if (on_header(ws) < 0) return -1;
    }
    /* Payload bytes, unmasked on the way into the message or the control buffer. */
    uint64_t left = ws->payload_len - ws->payload_read;
    size_t n = left < len - off ? (size_t)left : len - off;
    if (n > 0 && !(ws->opcode & 0x8) && reserve(ws, n) < 0) return fail(ws, CHAT_WS_CLOSE_INTERNAL_ERROR);
    if (n > 0) {
      uint8_t *dst = ws->opcode & 0x8 ? ws->control + ws->payload_read : ws->msg + ws->msg_len;
      for (size_t i = 0; i < n; i++) dst[i] = data[off + i] ^ ws->mask[(ws->payload_read + i) & 3];
      off += n;
      ws->payload_read += n;
      if (!(ws->opcode & 0x8)) ws->msg_len += n;
    }
    if (ws->payload_read < ws->payload_len) return 0;
    ws->in_payload = 0;
    ws->header_len = 0;
    if (on_frame(ws) < 0) return -1;
  }
}

int chat_ws_close(chat_ws *ws, uint16_t code, const char *reason) {
  if (ws->closed || ws->close_sent) return -1;
  size_t rlen = reason ? strlen(reason) : 0;
  if (rlen > 123) {
    /* A control frame carries at most 125 bytes; cut on a character boundary so the
     * reason stays valid UTF-8. */
    rlen = 123;
    while (rlen > 0 && ((uint8_t)reason[rlen] & 0xc0) == 0x80) rlen--;
  }
  uint8_t payload[MAX_CONTROL] = {(uint8_t)(code >> 8), (uint8_t)code};
  if (rlen) memcpy(payload + 2, reason, rlen);
  write_close(ws, payload, 2 + rlen);
  ws->code_sent = code;
  return 0;
}

int chat_ws_want_read(const chat_ws *ws) { return !ws->closed; }

/* Control replies are handed to the write callback the moment they are made. */
int chat_ws_want_write(const chat_ws *ws) {
  (void)ws;
  return 0;
}
