/* The HTTP request parser without sockets: every rule of core/http.c's header comment
 * (RFC 9112), pipelining, split reads at every byte boundary, chunked bodies, keep-alive,
 * and the limits that protect the server. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

static chat_http_limits limits = {1024, 4096};

static chat_http_request *parse_all(chat_http_parser *p, const char *in, size_t len, long *used) {
  *used = chat_http_parser_feed(p, in, len);
  return chat_http_parser_take(p);
}

/* Parses one whole request given at once; NULL (and a failed CHECK) when it is refused. */
static chat_http_request *parse_one(const char *in) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  long used;
  chat_http_request *r = parse_all(p, in, strlen(in), &used);
  if (r == NULL) {
    const char *reason = NULL;
    int status = chat_http_parser_error(p, &reason);
    fprintf(stderr, "refused (%d %s): %s\n", status, reason ? reason : "", in);
  }
  CHECK(r != NULL);
  CHECK(used == (long)strlen(in));
  chat_http_parser_free(p);
  return r;
}

/* The status an input gets, fed at once; 0 when a request comes out, -2 when the parser
 * still waits for more. */
static int status_of(const char *in, size_t len, const char **reason) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  long used = chat_http_parser_feed(p, in, len);
  int status = -2;
  chat_http_request *r = chat_http_parser_take(p);
  if (r) status = 0;
  else if (used < 0) status = chat_http_parser_error(p, reason);
  chat_http_request_free(r);
  chat_http_parser_free(p);
  return status;
}

/* The same, fed one byte at a time: a status must not depend on how the reads fall. */
static int status_bytewise(const char *in, size_t len) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  int status = -2;
  for (size_t i = 0; i < len; i++) {
    long used = chat_http_parser_feed(p, in + i, 1);
    chat_http_request *r = chat_http_parser_take(p);
    if (r) {
      chat_http_request_free(r);
      status = 0;
      break;
    }
    if (used < 0) {
      status = chat_http_parser_error(p, NULL);
      break;
    }
  }
  chat_http_parser_free(p);
  return status;
}

static int expect_len(const char *in, size_t len, int want, int line) {
  const char *reason = NULL;
  int got = status_of(in, len, &reason);
  int bytewise = status_bytewise(in, len);
  check_count += 3;
  int ok = got == want && bytewise == want && (want <= 0 || (reason != NULL && *reason));
  if (!ok) {
    check_failures++;
    fprintf(stderr, "%s:%d: want %d, got %d (byte by byte %d, reason %s) for:\n  ", __FILE__, line, want, got,
            bytewise, reason ? reason : "none");
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)in[i];
      if (c >= 0x20 && c < 0x7f) fputc(c, stderr);
      else fprintf(stderr, "\\x%02x", c);
    }
    fputc('\n', stderr);
  }
  return ok;
}

#define EXPECT(in, want) expect_len((in), strlen(in), (want), __LINE__)
#define EXPECT_BYTES(in, want) expect_len((in), sizeof(in) - 1, (want), __LINE__)

static int same_request(const chat_http_request *a, const chat_http_request *b) {
  if (strcmp(a->method, b->method) || strcmp(a->path, b->path) || strcmp(a->query, b->query)) return 0;
  if (a->header_count != b->header_count || a->body_len != b->body_len) return 0;
  if (memcmp(a->body, b->body, a->body_len) != 0) return 0;
  if (a->keep_alive != b->keep_alive || a->upgrade != b->upgrade || a->http_minor != b->http_minor) return 0;
  for (size_t i = 0; i < a->header_count; i++)
    if (strcmp(a->headers[i].name, b->headers[i].name) || strcmp(a->headers[i].value, b->headers[i].value)) return 0;
  return 1;
}

/* One request fed in two reads split at every byte boundary, and in 1-byte reads, must
 * come out exactly as when fed whole, having consumed exactly its bytes. */
static void check_splits(const char *in) {
  size_t len = strlen(in);
  chat_http_request *whole = parse_one(in);
  if (whole == NULL) return;
  for (size_t k = 0; k <= len; k++) {
    chat_http_parser *p = chat_http_parser_new(&limits);
    long a = chat_http_parser_feed(p, in, k);
    chat_http_request *r = chat_http_parser_take(p);
    long b = 0;
    if (r == NULL) {
      b = chat_http_parser_feed(p, in + k, len - k);
      r = chat_http_parser_take(p);
    }
    CHECK(r != NULL && a >= 0 && b >= 0 && (size_t)(a + b) == len);
    CHECK(r != NULL && same_request(whole, r));
    CHECK(!chat_http_parser_busy(p));
    chat_http_request_free(r);
    chat_http_parser_free(p);
  }
  chat_http_parser *p = chat_http_parser_new(&limits);
  chat_http_request *r = NULL;
  size_t used = 0;
  for (size_t i = 0; i < len && r == NULL; i++) {
    long n = chat_http_parser_feed(p, in + i, 1);
    CHECK(n == 1);
    used += (size_t)(n > 0 ? n : 0);
    r = chat_http_parser_take(p);
  }
  CHECK(r != NULL && used == len && same_request(whole, r));
  chat_http_request_free(r);
  chat_http_parser_free(p);
  chat_http_request_free(whole);
}

/* ---- requests that are served ---- */

static void test_get_with_query(void) {
  chat_http_request *r = parse_one("GET /api/chat/rooms/7/unread?memberId=3&x=%20 HTTP/1.1\r\nHost: a\r\nX-Mixed-Case: V\r\n\r\n");
  if (r == NULL) return;
  CHECK_STR(r->method, "GET");
  CHECK_STR(r->path, "/api/chat/rooms/7/unread");
  CHECK_STR(r->query, "memberId=3&x=%20");
  CHECK_STR(chat_http_request_header(r, "x-mixed-case"), "V");
  CHECK_STR(chat_http_request_header(r, "X-MIXED-CASE"), "V");
  CHECK_STR(r->headers[1].name, "x-mixed-case");
  CHECK(r->keep_alive == 1 && r->upgrade == 0 && r->http_minor == 1);
  CHECK(r->body_len == 0 && r->body != NULL && r->body[0] == '\0');
  chat_http_request_free(r);
}

static void test_field_values(void) {
  chat_http_request *r = parse_one("GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \t a \t b \t \r\nX-Empty:\r\nX-Empty2:   \r\n"
                                   "X-Utf8: \xec\x95\x88\xeb\x85\x95\r\nX-Dup: 1\r\nX-Dup: 2\r\nX-Chars: !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~\r\n\r\n");
  if (r == NULL) return;
  CHECK_STR(chat_http_request_header(r, "x-pad"), "a \t b"); /* OWS trimmed at both ends only */
  CHECK_STR(chat_http_request_header(r, "x-empty"), "");
  CHECK_STR(chat_http_request_header(r, "x-empty2"), "");
  CHECK_STR(chat_http_request_header(r, "x-utf8"), "\xec\x95\x88\xeb\x85\x95"); /* obs-text is allowed */
  CHECK_STR(chat_http_request_header(r, "x-dup"), "1");                       /* both kept, in order */
  CHECK(r->header_count == 8);
  CHECK_STR(r->headers[6].value, "2");
  CHECK_STR(chat_http_request_header(r, "x-chars"), "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
  chat_http_request_free(r);
  /* Every tchar is allowed in a field name. */
  r = parse_one("GET / HTTP/1.1\r\nHost: a\r\n!#$%&'*+-.^_`|~09AZaz: v\r\n\r\n");
  if (r) CHECK_STR(r->headers[1].name, "!#$%&'*+-.^_`|~09azaz");
  chat_http_request_free(r);
}

static void test_targets(void) {
  chat_http_request *r = parse_one("GET http://example.com:8084/actuator/health?x=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  if (r) {
    CHECK_STR(r->path, "/actuator/health");
    CHECK_STR(r->query, "x=1");
    CHECK_STR(chat_http_request_header(r, "host"), "other"); /* left as sent; chatd does not use it */
  }
  chat_http_request_free(r);
  r = parse_one("GET HTTPS://[::1]:8084 HTTP/1.1\r\nHost: x\r\n\r\n");
  if (r) CHECK_STR(r->path, "/"); /* an empty path is "/" (RFC 9112 §3.2.2) */
  chat_http_request_free(r);
  r = parse_one("GET http://a?q=1 HTTP/1.1\r\nHost: a\r\n\r\n");
  if (r) CHECK(strcmp(r->path, "/") == 0 && strcmp(r->query, "q=1") == 0);
  chat_http_request_free(r);
  r = parse_one("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
  if (r) CHECK(strcmp(r->method, "OPTIONS") == 0 && strcmp(r->path, "*") == 0 && strcmp(r->query, "") == 0);
  chat_http_request_free(r);
  r = parse_one("GET /a/b?c=d#frag HTTP/1.1\r\nHost: a\r\n\r\n");
  if (r) CHECK(strcmp(r->path, "/a/b") == 0 && strcmp(r->query, "c=d") == 0); /* a fragment is dropped */
  chat_http_request_free(r);
  r = parse_one("GET /?a?b=/c HTTP/1.1\r\nHost: a\r\n\r\n");
  if (r) CHECK(strcmp(r->path, "/") == 0 && strcmp(r->query, "a?b=/c") == 0);
  chat_http_request_free(r);
  r = parse_one("GET /{|}^`\\\"<>[] HTTP/1.1\r\nHost: a\r\n\r\n"); /* visible ASCII is the router's business */
  if (r) CHECK_STR(r->path, "/{|}^`\\\"<>[]");
  chat_http_request_free(r);
}

static void test_methods(void) {
  static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH",
                                      "PROPFIND", "M-SEARCH", "MKCALENDAR", "SOURCE"};
  for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
    char in[128];
    snprintf(in, sizeof in, "%s /x HTTP/1.1\r\nHost: a\r\n\r\n", known[i]);
    chat_http_request *r = parse_one(in);
    if (r) CHECK_STR(r->method, known[i]);
    chat_http_request_free(r);
  }
  EXPECT("FOO / HTTP/1.1\r\nHost: a\r\n\r\n", 501);   /* a token, not a known method (RFC 9110 §9.1) */
  EXPECT("get / HTTP/1.1\r\nHost: a\r\n\r\n", 501);   /* methods are case-sensitive */
  EXPECT("GETS / HTTP/1.1\r\nHost: a\r\n\r\n", 501);
  EXPECT("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);   /* not a token */
  EXPECT("GE\"T / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501); /* no proxy */
  EXPECT("CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", 400);  /* authority-form needs a port */
  EXPECT("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", 400);           /* and only authority-form */
  EXPECT("CONNECT u@a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_request_line_errors(void) {
  EXPECT("GET /x\r\n", 400);                      /* HTTP/0.9 simple request */
  EXPECT("GET /x\r\n\r\n", 400);
  EXPECT("GET\r\n\r\n", 400);
  EXPECT("GET  /x HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* one SP exactly */
  EXPECT("GET /x  HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /x HTTP/1.1 \r\nHost: a\r\n\r\n", 400);
  EXPECT("GET\t/x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /x\tHTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT(" GET /x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* SP in the target */
  EXPECT("GET x HTTP/1.1\r\nHost: a\r\n\r\n", 400);    /* no form */
  EXPECT("GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400);    /* asterisk is OPTIONS only */
  EXPECT("GET ftp://a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* empty host (RFC 9110 §4.2.1) */
  EXPECT("GET http://u:p@a/x HTTP/1.1\r\nHost: a\r\n\r\n", 400); /* userinfo (RFC 9110 §4.2.4) */
  EXPECT("GET http:/a HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET //a HTTP/1.1\r\nHost: a\r\n\r\n", 0);         /* origin-form, odd but valid */
  EXPECT_BYTES("GET /\x00 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET /\x1b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  /* Versions: well-formed but not 1.x is 505, malformed is 400. */
  EXPECT("GET / HTTP/1.0\r\n\r\n", 0);
  EXPECT("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
  EXPECT("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
  EXPECT("GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
  EXPECT("GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505);
  EXPECT("GET / HTTP/9.9\r\nHost: a\r\n\r\n", 505);
  EXPECT("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505);  /* the HTTP/2 connection preface */
  EXPECT("GET / HTPT/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.10\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / http/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/11\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/1,1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/a.b\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP /1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / XTTP/1.1\r\nHost: a\r\n\r\n", 400);
}

static void test_line_endings(void) {
  EXPECT("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 0); /* leading empty lines are skipped */
  EXPECT("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\nHost: a\r\n\r\n", 400);          /* bare LF */
  EXPECT("GET / HTTP/1.1\r\nHost: a\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\n\n", 400);
  EXPECT("GET / HTTP/1.1\n\n", 400);
  EXPECT("GET / HTTP/1.1\rHost: a\r\n\r\n", 400);          /* bare CR */
  EXPECT("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400);
  /* Between pipelined requests too: the second request's bytes are read on their own. */
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  long used, used2;
  chat_http_request *r = parse_all(p, in, sizeof in - 1, &used);
  chat_http_request_free(r);
  r = parse_all(p, in + used, sizeof in - 1 - (size_t)used, &used2);
  CHECK(r != NULL && strcmp(r->path, "/b") == 0 && used + used2 == (long)sizeof in - 1);
  chat_http_request_free(r);
  chat_http_parser_free(p);
}

static void test_field_errors(void) {
  EXPECT("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);  /* RFC 9112 §5.1 MUST */
  EXPECT("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400); /* empty name */
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX(A): b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX/A: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400); /* obs-fold */
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400);              /* whitespace after the request line */
  EXPECT("GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", 400);
  EXPECT_BYTES("GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400); /* NUL */
  EXPECT_BYTES("GET / HTTP/1.1\r\nHost: a\r\nX\x00: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: a\x01\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", 400);   /* DEL */
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: a\x1f\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: \x0b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nX: \x0c\r\n\r\n", 400);
}

static void test_host(void) {
  EXPECT("GET / HTTP/1.1\r\n\r\n", 400);                                 /* missing */
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);           /* repeated, even alike */
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.0\r\n\r\n", 0);                                   /* optional in 1.0 */
  EXPECT("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", 0);  /* sub-delims are reg-name characters */
  EXPECT("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: %zz\r\n\r\n", 400);
  EXPECT("GET / HTTP/1.1\r\nHost: \r\n\r\n", 0);      /* empty is valid (RFC 9112 §3.2) */
  EXPECT("GET / HTTP/1.1\r\nHost: localhost:8084\r\n\r\n", 0);
  EXPECT("GET / HTTP/1.1\r\nHost: [::1]:8084\r\n\r\n", 0);
  EXPECT("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 0);
  EXPECT("GET / HTTP/1.1\r\nHost: xn--9n2bp8q.example:80\r\n\r\n", 0);
  EXPECT("GET / HTTP/1.1\r\nHost: a%2eb\r\n\r\n", 0);
}

static void test_content_length(void) {
  chat_http_request *r = parse_one("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0005\r\n\r\nhello");
  if (r) CHECK(r->body_len == 5 && strcmp(r->body, "hello") == 0);
  chat_http_request_free(r);
  r = parse_one("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:  \t3 \t\r\n\r\nabc");
  if (r) CHECK(r->body_len == 3);
  chat_http_request_free(r);
  r = parse_one("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  if (r) CHECK(r->body_len == 0 && r->body[0] == '\0');
  chat_http_request_free(r);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5a\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400); /* > 64 bits */
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n", 400);   /* 2^64 */
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551615\r\n\r\n", 413);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4097\r\n\r\n", 413);  /* before the body */
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", -2);   /* waits for the rest */
}

static void test_transfer_encoding(void) {
  static const char *const ok[] = {"chunked", "Chunked", "CHUNKED", " chunked \t"};
  for (size_t i = 0; i < 4; i++) {
    char in[256];
    snprintf(in, sizeof in, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:%s\r\n\r\n1\r\nx\r\n0\r\n\r\n", ok[i]);
    EXPECT(in, 0);
  }
  static const char *const bad[] = {"gzip", "identity", "chunked, gzip", "gzip, chunked", "chunked,chunked",
                                    "chunked, identity", "xchunked", "chunkedx", "chunk", "\"chunked\"",
                                    "chunked;q=1", "", "chunked,", ", chunked", "ch unked", "chunked\x0b"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char in[256];
    snprintf(in, sizeof in, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n1\r\nx\r\n0\r\n\r\n", bad[i]);
    EXPECT(in, 400);
  }
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n0\r\n\r\n", 0); /* HTAB is OWS */
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400);
  EXPECT("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400);
  /* CL.TE and TE.CL: both framings in one request are refused, in either order. */
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX", 400);
  EXPECT("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400);
}

static void test_chunked(void) {
  chat_http_request *r = parse_one("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "3;name=value;q=\"a \\\" b\"\r\nabc\r\nA ; x = y \t;y\r\n0123456789\r\n"
                                   "00\r\nX-Trailer: t\r\nX-Other:\r\n\r\n");
  if (r) {
    CHECK(r->body_len == 13 && strcmp(r->body, "abc0123456789") == 0);
    CHECK(chat_http_request_header(r, "x-trailer") == NULL); /* trailers are not headers */
    CHECK(r->header_count == 2);
  }
  chat_http_request_free(r);
#define CHUNKED "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
  EXPECT(CHUNKED "0\r\n\r\n", 0);
  EXPECT(CHUNKED "f\r\n0123456789abcde\r\n0\r\n\r\n", 0);
  EXPECT(CHUNKED "3\r\nabcX\r\n0\r\n\r\n", 400);         /* data not followed by CRLF */
  EXPECT(CHUNKED "3\r\nabc\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "3\r\nabc\r0\r\n\r\n", 400);
  EXPECT(CHUNKED "3\r\nabcd\r\n0\r\n\r\n", 400);         /* more data than the size */
  EXPECT(CHUNKED "3\r\nab\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "\r\nabc\r\n0\r\n\r\n", 400);           /* no size */
  EXPECT(CHUNKED "-1\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "+1\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "0x1\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED " 1\r\na\r\n0\r\n\r\n", 400);           /* whitespace before the size */
  EXPECT(CHUNKED "1 \r\na\r\n0\r\n\r\n", 400);           /* whitespace that leads to no ";" */
  EXPECT(CHUNKED "1\t\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "g\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1\na\r\n0\r\n\r\n", 400);              /* bare LF */
  EXPECT(CHUNKED "1\r\na\r\n0\n\n", 400);
  EXPECT(CHUNKED "1\r\na\r\n0\r\n\n", 400);
  EXPECT(CHUNKED "1;\r\na\r\n0\r\n\r\n", 400);           /* extension without a name */
  EXPECT(CHUNKED "1;=v\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1;a=\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1;a=\"x\r\na\r\n0\r\n\r\n", 400);      /* unterminated quoted-string */
  EXPECT(CHUNKED "1;a=\"x\\\"\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1;a=b c\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1;a b\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1;a=(b)\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "1;a=\"\xc3\xa9\"\r\na\r\n0\r\n\r\n", 0); /* obs-text in a quoted-string */
  EXPECT(CHUNKED "1;a=\"\x01\"\r\na\r\n0\r\n\r\n", 400);
  EXPECT_BYTES(CHUNKED "1;a\x00\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "0000000000000001\r\na\r\n0\r\n\r\n", 0);  /* 16 digits */
  EXPECT(CHUNKED "00000000000000001\r\na\r\n0\r\n\r\n", 400); /* 17: out of range */
  EXPECT(CHUNKED "10000000000000000\r\na\r\n0\r\n\r\n", 400);
  EXPECT(CHUNKED "ffffffffffffffff\r\na\r\n0\r\n\r\n", 413);
  EXPECT(CHUNKED "1001\r\n", 413);                          /* 4097 > max_body_bytes, said at once */
  EXPECT(CHUNKED "1\r\na\r\n0\r\nX : y\r\n\r\n", 400);      /* trailers follow the field rules */
  EXPECT(CHUNKED "1\r\na\r\n0\r\n y\r\n\r\n", 400);
  EXPECT_BYTES(CHUNKED "1\r\na\r\n0\r\nX: \x00\r\n\r\n", 400);
  EXPECT(CHUNKED "1\r\na\r\n0\r\nNoColon\r\n\r\n", 400);
  EXPECT(CHUNKED "1\r\na\r\n0\r\n\r\n", 0);
  EXPECT(CHUNKED "1\r\na\r\n0\r\n", -2);                    /* the trailer section's end is awaited */
  EXPECT(CHUNKED "1\r\na\r\n", -2);
  /* A chunk-size line and the extensions of a body are bounded. */
  char in[8192];
  int n = snprintf(in, sizeof in, CHUNKED "1;x=%04091d\r\na\r\n0\r\n\r\n", 0);
  expect_len(in, (size_t)n, 400, __LINE__);
  n = snprintf(in, sizeof in, CHUNKED "1;x=%04080d\r\na\r\n0\r\n\r\n", 0);
  expect_len(in, (size_t)n, 0, __LINE__);
  n = snprintf(in, sizeof in, CHUNKED);
  for (int i = 0; i < 600; i++) n += snprintf(in + n, sizeof in - (size_t)n, "1;abcdef\r\nz\r\n");
  n += snprintf(in + n, sizeof in - (size_t)n, "0\r\n\r\n");
  expect_len(in, (size_t)n, 400, __LINE__); /* 4800 bytes of extensions */
  /* Trailers have the header limit of their own. */
  n = snprintf(in, sizeof in, CHUNKED "0\r\nX: %01100d\r\n\r\n", 0);
  expect_len(in, (size_t)n, 431, __LINE__);
  /* The body limit counts the chunks together. */
  n = snprintf(in, sizeof in, CHUNKED "800\r\n%02048d\r\n800\r\n%02048d\r\n1\r\n", 0, 0);
  expect_len(in, (size_t)n, 413, __LINE__);
#undef CHUNKED
}

static void test_limits(void) {
  char big[4096];
  int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\nX: %0*d\r\n\r\n", 1500, 0);
  expect_len(big, (size_t)n, 431, __LINE__);
  /* The limit is on the whole section, however it is spread over lines and reads. */
  n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nHost: a\r\n");
  for (int i = 0; i < 100; i++) n += snprintf(big + n, sizeof big - (size_t)n, "X-%02d: 0123456789\r\n", i);
  n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
  expect_len(big, (size_t)n, 431, __LINE__);
  /* A request line over the limit is 414 (RFC 9112 §3: a target too long to parse). */
  n = snprintf(big, sizeof big, "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n", 1100, 0);
  expect_len(big, (size_t)n, 414, __LINE__);
  n = snprintf(big, sizeof big, "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n", 1024 - 15, 0); /* its LF is one too many */
  expect_len(big, (size_t)n, 414, __LINE__);
  n = snprintf(big, sizeof big, "GET /%0*d HTTP/1.1\r\nHost: a\r\n\r\n", 1024 - 16, 0); /* then the fields are */
  expect_len(big, (size_t)n, 431, __LINE__);
  /* Exactly at the limit is fine; one byte more is not. */
  const char head[] = "GET / HTTP/1.1\r\nHost: a\r\nX: ";
  int pad = 1024 - (int)(sizeof head - 1) - 4;
  n = snprintf(big, sizeof big, "%s%0*d\r\n\r\n", head, pad, 0);
  CHECK(n == 1024);
  expect_len(big, (size_t)n, 0, __LINE__);
  n = snprintf(big, sizeof big, "%s%0*d\r\n\r\n", head, pad + 1, 0);
  expect_len(big, (size_t)n, 431, __LINE__);
  /* Empty lines before a request count too, so a stream of them ends. */
  n = 0;
  for (int i = 0; i < 600; i++) n += snprintf(big + n, sizeof big - (size_t)n, "\r\n");
  expect_len(big, (size_t)n, 431, __LINE__);
  /* An unfinished line is refused once over the limit, not held until its end. */
  memset(big, 'a', sizeof big);
  memcpy(big, "GET /", 5);
  expect_len(big, 2000, 414, __LINE__);
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  expect_len(big, 2000, 431, __LINE__);
}

static void test_garbage(void) {
  /* Refused at the first byte that cannot start a request: nothing waits for a line end. */
  EXPECT_BYTES("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400); /* a TLS ClientHello */
  EXPECT_BYTES("\x00\x00\x00\x00", 400);
  EXPECT_BYTES("\xff\xfe\xfd", 400);
  EXPECT("\x1b[A", 400);
  EXPECT(" ", 400);
  EXPECT("{\"json\": 1}\r\n\r\n", 400);
  EXPECT("<html>\r\n\r\n", 400);
  EXPECT_BYTES("GET /\x16\x03", 400);      /* a control byte inside a line, before its end */
  EXPECT_BYTES("GET / HTTP/1.1\r\nHost: a\r\nX: \x00", 400);
  EXPECT("HELLO\r\n\r\n", 400);
  EXPECT("GET", -2);                        /* a start that may still become a request */
}

static void test_pipelined(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n";
  long used = chat_http_parser_feed(p, in, sizeof in - 1);
  CHECK(used == (long)strlen("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"));
  /* Nothing more is parsed until the first request is taken. */
  CHECK(chat_http_parser_feed(p, in + used, sizeof in - 1 - (size_t)used) == 0);
  chat_http_request *r = chat_http_parser_take(p);
  CHECK(r != NULL);
  if (r) {
    CHECK_STR(r->path, "/a");
    CHECK(r->body_len == 5 && memcmp(r->body, "hello", 5) == 0);
  }
  chat_http_request_free(r);
  long used2;
  r = parse_all(p, in + used, sizeof in - 1 - (size_t)used, &used2);
  CHECK(r != NULL);
  if (r) CHECK_STR(r->path, "/b");
  CHECK(used + used2 == (long)sizeof in - 1);
  chat_http_request_free(r);
  chat_http_parser_free(p);
}

/* Trailer fields after a chunked body belong to that request (and are dropped): they
 * once surfaced as headers of the next pipelined request. */
static void test_trailers_stay_in_their_request(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n"
                    "X-Injected: yes\r\n\r\nGET /b HTTP/1.1\r\nHost: y\r\n\r\n";
  long used;
  chat_http_request *r = parse_all(p, in, sizeof in - 1, &used);
  CHECK(r != NULL && r->body_len == 1);
  CHECK(r != NULL && chat_http_request_header(r, "x-injected") == NULL);
  chat_http_request_free(r);
  long used2;
  r = parse_all(p, in + used, sizeof in - 1 - (size_t)used, &used2);
  CHECK(r != NULL);
  if (r != NULL) {
    CHECK_STR(r->path, "/b");
    CHECK(r->header_count == 1);
    CHECK(chat_http_request_header(r, "x-injected") == NULL);
    CHECK_STR(chat_http_request_header(r, "host"), "y");
  }
  chat_http_request_free(r);
  chat_http_parser_free(p);
}

static void test_busy(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  CHECK(!chat_http_parser_busy(p));
  CHECK(chat_http_parser_feed(p, "\r\n", 2) == 2);
  CHECK(!chat_http_parser_busy(p)); /* an empty line starts no request */
  chat_http_request *r = NULL;
  for (size_t i = 0; i < sizeof in - 1 && r == NULL; i++) {
    CHECK(chat_http_parser_feed(p, in + i, 1) == 1);
    if (i == 0 || i == 20 || i == sizeof in - 3) CHECK(chat_http_parser_busy(p));
    r = chat_http_parser_take(p);
  }
  CHECK(r != NULL && r->body_len == 5 && strcmp(r->body, "abcde") == 0);
  chat_http_request_free(r);
  CHECK(!chat_http_parser_busy(p));
  chat_http_parser_free(p);
}

static void test_splits(void) {
  check_splits("GET /api/chat/rooms/7/unread?memberId=3 HTTP/1.1\r\nHost: localhost:8084\r\nUser-Agent: t\r\n"
               "Accept: */*\r\nAccept-Encoding: gzip\r\nAccept-Language: ko\r\nX-A: \t spaced \t\r\n"
               "Origin: http://a\r\nCookie: a=b\r\n\r\n");
  check_splits("\r\n\r\nPOST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3;e=\"q\\\"x\"\r\nabc\r\n02 ; f\r\nde\r\n0\r\nX-T: 1\r\n\r\n");
  check_splits("POST /m HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"\xed\x95\x9c\"}");
  check_splits("GET http://a:1/x?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  check_splits("GET /ws-chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n");
  /* Refusals do not depend on the split either (checked byte by byte by EXPECT). */
  EXPECT("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n", 400);
}

static void test_keep_alive_rules(void) {
  const char *cases[][2] = {
      {"GET / HTTP/1.0\r\n\r\n", "0"},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "1"},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "1"},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", "0"},
      {"GET / HTTP/1.0\r\nConnection: foo\r\nConnection: keep-alive\r\n\r\n", "1"},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "0"},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n\r\n", "0"},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: te, close\r\n\r\n", "0"},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", "1"},
      {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "1"},
      {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n\r\n", "1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    chat_http_request *r = parse_one(cases[i][0]);
    CHECK(r != NULL && r->keep_alive == atoi(cases[i][1]));
    if (r && r->keep_alive != atoi(cases[i][1])) fprintf(stderr, "  keep_alive of: %s\n", cases[i][0]);
    chat_http_request_free(r);
  }
}

static void test_upgrade(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "GET /ws-chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x80";
  long used;
  chat_http_request *r = parse_all(p, in, sizeof in - 1, &used);
  CHECK(r != NULL && r->upgrade);
  CHECK(used == (long)sizeof in - 1 - 2); /* the frame bytes are left for the WebSocket */
  chat_http_request_free(r);
  chat_http_parser_free(p);
  /* Both the token and the Upgrade field are needed (RFC 9110 §7.8), as with http-parser. */
  r = parse_one("GET /ws-chat HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n");
  CHECK(r != NULL && !r->upgrade);
  chat_http_request_free(r);
  r = parse_one("GET /ws-chat HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
  CHECK(r != NULL && !r->upgrade);
  chat_http_request_free(r);
}

/* A failed parser stays failed and keeps its first answer. */
static void test_failed_stays_failed(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  CHECK(chat_http_parser_feed(p, "GET / HTTP/2.0\r\n", 16) == -1);
  CHECK(chat_http_parser_feed(p, "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27) == -1);
  const char *reason = NULL;
  CHECK(chat_http_parser_error(p, &reason) == 505 && reason != NULL);
  CHECK(chat_http_parser_take(p) == NULL);
  chat_http_parser_free(p);
}

#define CHECK_PARAM(text, name, want)                                       \
  do {                                                                       \
    chat_http_request q_ = {.query = (char *)(text)};                        \
    char *v_ = chat_http_request_query_param(&q_, name);                     \
    CHECK_STR(v_, want);                                                     \
    free(v_);                                                                \
  } while (0)

static void test_query_params(void) {
  CHECK_PARAM("access_token=ey%2Ej.x+y&z=2", "access_token", "ey.j.x y");
  CHECK_PARAM("abc=1&c=cb", "c", "cb");           /* a name that ends another is not it */
  CHECK_PARAM("xaccess_token=no&access_token", "access_token", NULL); /* no '=' */
  CHECK_PARAM("c=&d=1", "c", "");
  CHECK_PARAM("c=1&c=2", "c", "1");               /* the first one */
  CHECK_PARAM("t=%4&u=%zz", "t", "%4");           /* broken escapes stay as sent */
  CHECK_PARAM("t=%4&u=%zz", "u", "%zz");
  CHECK_PARAM("", "c", NULL);
}

int main(void) {
  test_get_with_query();
  test_field_values();
  test_targets();
  test_methods();
  test_request_line_errors();
  test_line_endings();
  test_field_errors();
  test_host();
  test_content_length();
  test_transfer_encoding();
  test_chunked();
  test_limits();
  test_garbage();
  test_pipelined();
  test_trailers_stay_in_their_request();
  test_busy();
  test_splits();
  test_keep_alive_rules();
  test_upgrade();
  test_failed_stays_failed();
  test_query_params();
  CHECK(strcmp(chat_http_status_text(405), "Method Not Allowed") == 0);
  CHECK(strcmp(chat_http_status_text(505), "HTTP Version Not Supported") == 0);
  CHECK(strcmp(chat_http_status_text(431), "Request Header Fields Too Large") == 0);
  CHECK(strcmp(chat_http_status_text(414), "URI Too Long") == 0);
  CHECK_DONE();
}
