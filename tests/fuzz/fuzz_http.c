/* Fuzzes the HTTP/1.1 request parser (core/http.c) the way http_server.c drives it: the
 * bytes arrive in two reads split where the input's first byte says, are kept in a pending
 * buffer, and requests are taken one at a time (pipelining); an upgrade request goes
 * through the WebSocket handshake and ends the HTTP part, as on the server.
 * Differential checks: each request taken from the connection must equal what a fresh
 * parser makes of that request's bytes alone, so no state leaks from one request into the
 * next (trailer fields once did); and a refusal must be the same status and reason when
 * the same bytes come in one read, so no answer depends on where the reads fall.
 * Every request that comes out must also obey the strict rules (a token name, no control
 * byte anywhere, one Host in HTTP/1.1, trimmed values). */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "fuzz_support.h"
#include "http.h"
#include "ws.h"

/* Small limits, so 431 and 413 are reachable within the fuzzer's input sizes. */
static const chat_http_limits LIMITS = {.max_header_bytes = 2048, .max_body_bytes = 4096};

static int is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Visible ASCII only: what the request line may hold. */
static void check_visible(const char *s) {
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) FUZZ_ASSERT(*c > 0x20 && *c < 0x7f);
}

static void check_request(const chat_http_request *req) {
  FUZZ_ASSERT(req->method != NULL && req->path != NULL && req->query != NULL);
  FUZZ_ASSERT(req->body != NULL && req->body[req->body_len] == '\0');
  FUZZ_ASSERT(req->body_len <= LIMITS.max_body_bytes);
  FUZZ_ASSERT(strchr(req->path, '?') == NULL && strchr(req->path, '#') == NULL);
  FUZZ_ASSERT(req->path[0] == '/' || (strcmp(req->path, "*") == 0 && strcmp(req->method, "OPTIONS") == 0));
  FUZZ_ASSERT(strchr(req->query, '#') == NULL);
  check_visible(req->path);
  check_visible(req->query);
  for (const char *c = req->method; *c; c++) FUZZ_ASSERT(*c >= 'A' && *c <= 'Z' ? 1 : *c == '-');
  FUZZ_ASSERT(strcmp(req->method, "CONNECT") != 0);
  FUZZ_ASSERT(req->http_minor == 0 || req->http_minor == 1);
  size_t hosts = 0, framing = 0;
  for (size_t i = 0; i < req->header_count; i++) {
    const chat_http_header *h = &req->headers[i];
    FUZZ_ASSERT(h->name != NULL && h->value != NULL && h->name[0] != '\0');
    for (const char *c = h->name; *c; c++) FUZZ_ASSERT(!(*c >= 'A' && *c <= 'Z') && is_tchar((unsigned char)*c));
    size_t vlen = strlen(h->value);
    for (size_t k = 0; k < vlen; k++) {
      unsigned char c = (unsigned char)h->value[k];
      FUZZ_ASSERT(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
    /* OWS is trimmed. */
    FUZZ_ASSERT(vlen == 0 || (h->value[0] != ' ' && h->value[0] != '\t' && h->value[vlen - 1] != ' ' &&
                              h->value[vlen - 1] != '\t'));
    if (strcmp(h->name, "host") == 0) hosts++;
    if (strcmp(h->name, "content-length") == 0 || strcmp(h->name, "transfer-encoding") == 0) framing++;
    /* The first header of a name is what a lookup finds. */
    const char *found = chat_http_request_header(req, h->name);
    FUZZ_ASSERT(found != NULL);
  }
  FUZZ_ASSERT(hosts <= 1 && (req->http_minor == 0 || hosts == 1));
  FUZZ_ASSERT(framing <= 1); /* one Content-Length or one Transfer-Encoding, never both */
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

/* The bytes of a refused request, from its start, given at once to a new parser: the same
 * status and reason. */
static void check_refusal_alone(const connection *c, int status, const char *reason) {
  size_t len = c->request_bytes.len + c->pending_len;
  char *all = malloc(len);
  if (all == NULL) abort();
  if (c->request_bytes.len) memcpy(all, c->request_bytes.data, c->request_bytes.len);
  memcpy(all + c->request_bytes.len, c->pending, c->pending_len);
  chat_http_parser *fresh = chat_http_parser_new(&LIMITS);
  if (fresh == NULL) abort();
  long n = chat_http_parser_feed(fresh, all, len);
  const char *fresh_reason = NULL;
  FUZZ_ASSERT(n == -1);
  FUZZ_ASSERT(chat_http_parser_error(fresh, &fresh_reason) == status);
  FUZZ_ASSERT(fresh_reason != NULL && strcmp(fresh_reason, reason) == 0);
  chat_http_parser_free(fresh);
  free(all);
}

/* http_server.c's process(): parse what is pending, take at most one request per feed. */
static void process(connection *c) {
  while (!c->done && c->pending_len > 0) {
    long n = chat_http_parser_feed(c->parser, c->pending, c->pending_len);
    if (n < 0) {
      const char *reason = NULL;
      int status = chat_http_parser_error(c->parser, &reason);
      FUZZ_ASSERT(reason != NULL);
      FUZZ_ASSERT(status == 400 || status == 413 || status == 414 || status == 431 || status == 501 ||
                  status == 505);
      check_refusal_alone(c, status, reason);
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

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
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
