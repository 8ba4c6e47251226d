/* STOMP 1.0-1.2 framing: a pure parser (bytes in, frames out) and encoder, with no
 * sockets, so it is unit-tested and fuzzed on its own. Frames may be split across reads
 * and several may arrive in one read; heart-beat EOLs between frames are reported. */
#ifndef CHAT_STOMP_H
#define CHAT_STOMP_H

#include <stddef.h>

typedef struct chat_stomp_header {
  char *name;
  char *value;
} chat_stomp_header;

typedef struct chat_stomp_frame {
  char *command;
  chat_stomp_header *headers;
  size_t header_count;
  const char *body; /* followed by the frame's NUL; may contain NULs when content-length says so */
  size_t body_len;
} chat_stomp_frame;

typedef enum {
  CHAT_STOMP_V10 = 10,
  CHAT_STOMP_V11 = 11,
  CHAT_STOMP_V12 = 12
} chat_stomp_version;

typedef struct chat_stomp_limits {
  size_t max_frame_bytes;   /* command + headers + body; 64 KiB by contract */
  size_t max_headers;       /* header lines per frame */
} chat_stomp_limits;

typedef struct chat_stomp_parser chat_stomp_parser;

/* Called per complete frame (valid only during the call) or per heart-beat (frame NULL).
 * Returning non-zero stops parsing (the connection is being closed). */
typedef int (*chat_stomp_frame_cb)(const chat_stomp_frame *frame, void *ud);

chat_stomp_parser *chat_stomp_parser_new(const chat_stomp_limits *limits);
void chat_stomp_parser_free(chat_stomp_parser *p);

/* Header escaping depends on the negotiated version (none before 1.1, and never in
 * CONNECT/CONNECTED frames); the session sets it after CONNECTED. */
void chat_stomp_parser_set_version(chat_stomp_parser *p, chat_stomp_version v);

/* Feeds bytes. Returns 0, or -1 on a protocol error with a reason for the ERROR frame
 * in *err (the parser is then unusable). */
int chat_stomp_parser_feed(chat_stomp_parser *p, const char *data, size_t len,
                           chat_stomp_frame_cb cb, void *ud, const char **err);

/* Bytes buffered for an incomplete frame (memory accounting, tests). */
size_t chat_stomp_parser_buffered(const chat_stomp_parser *p);

/* First header named `name` (STOMP 1.2: the first occurrence wins), or NULL. */
const char *chat_stomp_frame_header(const chat_stomp_frame *f, const char *name);

/* Encodes "COMMAND\nname:value\n...\n\n" with header escaping for `v` into out.
 * `headers` is name/value pairs ending with NULL. Returns the length, or the length
 * needed when larger than cap (like snprintf); the body and the NUL are the caller's. */
size_t chat_stomp_encode_head(char *out, size_t cap, chat_stomp_version v, const char *command,
                              const char *const *headers);

/* A whole frame (head + body + NUL) in a malloc'ed buffer; *len gets its size. */
char *chat_stomp_encode_frame(chat_stomp_version v, const char *command, const char *const *headers,
                              const char *body, size_t body_len, size_t *len);

#endif
