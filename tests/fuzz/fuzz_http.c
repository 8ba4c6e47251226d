/* Fuzzes the HTTP/1.1 request parser (core/http.c) the way http_server.c drives it: the
 * bytes arrive in two reads split where the input's first byte says, are kept in a pending
 * buffer, and requests are taken one at a time (pipelining); an upgrade request goes
 * through the WebSocket handshake and ends the HTTP part, as on the server.
 * Differential check: each request taken from the connection must equal what a fresh
 * parser makes of that request's bytes alone, so no state leaks from one request into the
 * next (trailer fields once did). */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fuzz_support.h"
#include "http.h"
#include "ws.h"

/* Small limits, so 431 and 413 are reachable within the fuzzer's input sizes. */
static const chat_http_limits LIMITS = {.max_header_bytes = 2048, .max_body_bytes = 4096};

static void check_request(const chat_http_request *req) {
  FUZZ_ASSERT(req->method != NULL && req->path != NULL && req->query != NULL);
  FUZZ_ASSERT(req->body != NULL && req->body[req->body_len] == '\0');
  FUZZ_ASSERT(req->body_len <= LIMITS.max_body_bytes);
  FUZZ_ASSERT(strchr(req->path, '?') == NULL);
  for (size_t i = 0; i < req->header_count; i++) {
    const chat_http_header *h = &req->headers[i];
    FUZZ_ASSERT(h->name != NULL && h->value != NULL && h->name[0] != '\0');
    for (const char *c = h->name; *c; c++) FUZZ_ASSERT(!(*c >= 'A' && *c <= 'Z'));
    /* The first header of a name is what a lookup finds. */
    const char *found = chat_http_request_header(req, h->name);
    FUZZ_ASSERT(found != NULL);
  }
}

/* What ws_conn.c does with an upgrade request; the answer must be a whole response. */
static void check_handshake(const chat_http_request *req) {
  char out[512];
  int status = 0;
  const char *reason = NULL;
  long n = chat_ws_handshake(req, out, sizeof out, &status, &reason);
  if (n < 0) {
    FUZZ_ASSERT(reason != NULL && (status == 400 || status == 426));
    return;
  }
  FUZZ_ASSERT((size_t)n < sizeof out && strlen(out) == (size_t)n);
  FUZZ_ASSERT(strncmp(out, "HTTP/1.1 101 ", 13) == 0);
  FUZZ_ASSERT(n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
}

static int same_string(const char *a, const char *b) { return strcmp(a, b) == 0; }

static void check_same_request(const chat_http_request *a, const chat_http_request *b) {
  FUZZ_ASSERT(same_string(a->method, b->method) && same_string(a->path, b->path));
  FUZZ_ASSERT(same_string(a->query, b->query));
  FUZZ_ASSERT(a->header_count == b->header_count);
  for (size_t i = 0; i < a->header_count; i++) {
    FUZZ_ASSERT(same_string(a->headers[i].name, b->headers[i].name));
    FUZZ_ASSERT(same_string(a->headers[i].value, b->headers[i].value));
  }
  FUZZ_ASSERT(a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0);
  FUZZ_ASSERT(a->upgrade == b->upgrade && a->http_minor == b->http_minor);
}

/* The request's bytes given alone to a new parser: everything must come out the same,
 * keep_alive included (it depends on the request's own version and headers only). */
static void check_alone(const chat_http_request *req, const chat_bytes *bytes) {
  chat_http_parser *fresh = chat_http_parser_new(&LIMITS);
  if (fresh == NULL) abort();
  long n = chat_http_parser_feed(fresh, bytes->data, bytes->len);
  FUZZ_ASSERT(n == (long)bytes->len);
  chat_http_request *alone = chat_http_parser_take(fresh);
  FUZZ_ASSERT(alone != NULL);
  check_same_request(req, alone);
  FUZZ_ASSERT(req->keep_alive == alone->keep_alive);
  chat_http_request_free(alone);
  chat_http_parser_free(fresh);
}

typedef struct connection {
  chat_http_parser *parser;
  char *pending;
  size_t pending_len;
  chat_bytes request_bytes; /* what the parser consumed since the last request was taken */
  int done; /* an error was answered or the connection was upgraded */
} connection;

/* http_server.c's process(): parse what is pending, take at most one request per feed. */
static void process(connection *c) {
  while (!c->done && c->pending_len > 0) {
    long n = chat_http_parser_feed(c->parser, c->pending, c->pending_len);
    if (n < 0) {
      const char *reason = NULL;
      int status = chat_http_parser_error(c->parser, &reason);
      FUZZ_ASSERT(reason != NULL);
      FUZZ_ASSERT(status == 400 || status == 413 || status == 431 || status == 501);
      /* A failed parser stays failed. */
      FUZZ_ASSERT(chat_http_parser_feed(c->parser, "GET / HTTP/1.1\r\n\r\n", 18) < 0);
      c->done = 1;
      return;
    }
    FUZZ_ASSERT((size_t)n <= c->pending_len);
    if (chat_bytes_put(&c->request_bytes, c->pending, (size_t)n) < 0) abort();
    memmove(c->pending, c->pending + n, c->pending_len - (size_t)n);
    c->pending_len -= (size_t)n;
    chat_http_request *req = chat_http_parser_take(c->parser);
    if (req == NULL) {
      /* Without a request, the parser must have taken everything it was given: what it
       * leaves would be fed again and again. */
      FUZZ_ASSERT(c->pending_len == 0);
      return;
    }
    FUZZ_ASSERT(!chat_http_parser_busy(c->parser));
    check_request(req);
    check_alone(req, &c->request_bytes);
    c->request_bytes.len = 0;
    if (req->upgrade) {
      check_handshake(req);
      c->done = 1;
    }
    chat_http_request_free(req);
  }
}

static void receive(connection *c, const uint8_t *data, size_t len) {
  if (c->done || len == 0) return;
  char *p = realloc(c->pending, c->pending_len + len);
  if (p == NULL) abort();
  memcpy(p + c->pending_len, data, len);
  c->pending = p;
  c->pending_len += len;
  process(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t len = size - 1;
  size_t split = len * data[0] / 255;
  connection c = {.parser = chat_http_parser_new(&LIMITS)};
  if (c.parser == NULL) abort();
  receive(&c, data + 1, split);
  receive(&c, data + 1 + split, len - split);
  chat_http_parser_free(c.parser);
  free(c.pending);
  free(c.request_bytes.data);
  return 0;
}
