/* SockJS framing, pure (no sockets): the JSON string escaping SockJS requires, the frames
 * ("o", "h", "a[...]", "c[code,reason]"), and the parsing of what clients send (a JSON
 * array of strings, or one string). The transports live in sockjs_conn.c. */
#ifndef CHAT_SOCKJS_H
#define CHAT_SOCKJS_H

#include <stddef.h>

/* Appends `s` as the inside of a JSON string, escaping what SockJS requires beyond JSON
 * (the ranges Spring's codec escapes: C0 controls, U+200C-U+200F, U+2028-U+202F,
 * U+2060-U+206F, U+FFF0-U+FFFF, and astral characters as escaped surrogate pairs).
 * Invalid UTF-8 bytes become U+FFFD. Returns bytes written, or needed when out is NULL. */
size_t chat_sockjs_escape(char *out, const char *s, size_t len);

/* A receiving-side message parsed from a client payload. */
typedef struct chat_sockjs_messages {
  char **items;
  size_t *lens;
  size_t count;
} chat_sockjs_messages;

/* Parses `["m1","m2"]` or `"m"`. Returns 0, or -1 for broken JSON ("Broken JSON encoding.").
 * An empty payload is -2 ("Payload expected."). */
int chat_sockjs_parse(const char *payload, size_t len, chat_sockjs_messages *out);
void chat_sockjs_messages_free(chat_sockjs_messages *m);

/* c[code,"reason"] */
size_t chat_sockjs_close_frame(char *out, size_t cap, int code, const char *reason);

/* A transport URL /prefix/{server}/{session}/{transport}: splits the part after the
 * prefix; returns 0 when it has that shape with valid ids (no dots, not empty). */
int chat_sockjs_split_path(const char *rest, char *server, size_t scap, char *session, size_t sesscap,
                           char *transport, size_t tcap);

#endif
