/* HTTP/1.1 request parsing: bytes in, complete requests out, no sockets, so it is
 * unit-tested and fuzzed without a network. chatd's own parser, strict to RFC 9112 (the
 * rules and the choices the RFC leaves open are listed at the top of http.c): whatever
 * it accepts has exactly one meaning, so no proxy in front can read a request's framing
 * differently (request smuggling). */
#ifndef CHAT_HTTP_H
#define CHAT_HTTP_H

#include <stddef.h>

typedef struct chat_http_header {
  char *name; /* lower-cased */
  char *value;
} chat_http_header;

typedef struct chat_http_request {
  const char *method;   /* "GET", "POST", ...: a static string */
  char *path;           /* the target up to '?' (of an absolute-form target, its path), not
                         * decoded; "*" for OPTIONS * */
  char *query;          /* after '?', not decoded; "" when absent */
  chat_http_header *headers;
  size_t header_count;
  char *body;           /* de-chunked; NUL-terminated for convenience */
  size_t body_len;
  int keep_alive;       /* the connection may carry another request after this one */
  int upgrade;          /* an "upgrade" Connection token with an Upgrade field (WebSocket) */
  int http_minor;
  char *storage;        /* owns path, query and the header strings (one allocation) */
} chat_http_request;

typedef struct chat_http_limits {
  size_t max_header_bytes; /* request line + headers (and, apart, the trailer fields) */
  size_t max_body_bytes;
} chat_http_limits;

typedef struct chat_http_parser chat_http_parser;

chat_http_parser *chat_http_parser_new(const chat_http_limits *limits);
void chat_http_parser_free(chat_http_parser *p);

/* Feeds bytes. Parsing stops after each complete request so a server can answer requests
 * in order: the return value is how many bytes were consumed (feed the rest again later).
 * Returns -1 on a protocol error; chat_http_parser_error() then gives the status to answer
 * with (400, 413, 414, 431, 501, 505) and a short reason; the server answers it and closes
 * the connection, and the parser stays failed. */
long chat_http_parser_feed(chat_http_parser *p, const char *data, size_t len);

/* The request completed by the last feed, or NULL. Ownership passes to the caller, who
 * frees it with chat_http_request_free(). */
chat_http_request *chat_http_parser_take(chat_http_parser *p);

/* True while a request has started but not finished (for the header timeout). */
int chat_http_parser_busy(const chat_http_parser *p);

int chat_http_parser_error(const chat_http_parser *p, const char **reason);

/* Frees a request the parser made (its strings live in req->storage, and an empty body is
 * a shared ""); a request built by hand, as tests do, is not freed with this. */
void chat_http_request_free(chat_http_request *req);

/* Case-insensitive header lookup; NULL when absent. */
const char *chat_http_request_header(const chat_http_request *req, const char *name);

/* The first `name=value` of the query, percent-decoded ('+' is a space; a broken escape
 * stays as sent), malloc'ed; NULL when absent (or out of memory). */
char *chat_http_request_query_param(const chat_http_request *req, const char *name);

const char *chat_http_status_text(int status);

#endif
