/* The HTTP request parser without sockets: pipelining, split reads, chunked bodies,
 * keep-alive rules and the limits that protect the server. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

static chat_http_limits limits = {1024, 4096};

static chat_http_request *parse_all(chat_http_parser *p, const char *in, size_t len, long *used) {
  *used = chat_http_parser_feed(p, in, len);
  return chat_http_parser_take(p);
}

static void test_get_with_query(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "GET /api/chat/rooms/7/unread?memberId=3&x=%20 HTTP/1.1\r\nHost: a\r\nX-Mixed-Case: V\r\n\r\n";
  long used;
  chat_http_request *r = parse_all(p, in, sizeof in - 1, &used);
  CHECK(used == (long)sizeof in - 1);
  CHECK(r != NULL);
  CHECK_STR(r->method, "GET");
  CHECK_STR(r->path, "/api/chat/rooms/7/unread");
  CHECK_STR(r->query, "memberId=3&x=%20");
  CHECK_STR(chat_http_request_header(r, "x-mixed-case"), "V");
  CHECK_STR(r->headers[1].name, "x-mixed-case");
  CHECK(r->keep_alive == 1);
  CHECK(r->body_len == 0);
  chat_http_request_free(r);
  chat_http_parser_free(p);
}

static void test_pipelined(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n\r\n";
  long used;
  chat_http_request *r = parse_all(p, in, sizeof in - 1, &used);
  CHECK(r != NULL);
  CHECK_STR(r->path, "/a");
  CHECK(r->body_len == 5 && memcmp(r->body, "hello", 5) == 0);
  CHECK(used == (long)strlen("POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"));
  /* Nothing more is parsed until the first request is taken. */
  chat_http_request_free(r);
  long used2;
  r = parse_all(p, in + used, sizeof in - 1 - (size_t)used, &used2);
  CHECK(r != NULL);
  CHECK_STR(r->path, "/b");
  CHECK(used + used2 == (long)sizeof in - 1);
  chat_http_request_free(r);
  chat_http_parser_free(p);
}

/* Trailer fields after a chunked body belong to that request (and are dropped): they
 * once surfaced as headers of the next pipelined request. */
static void test_trailers_stay_in_their_request(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n"
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

static void test_byte_by_byte_chunked(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
  chat_http_request *r = NULL;
  for (size_t i = 0; i < sizeof in - 1 && r == NULL; i++) {
    CHECK(chat_http_parser_feed(p, in + i, 1) == 1);
    if (i == 20) CHECK(chat_http_parser_busy(p));
    r = chat_http_parser_take(p);
  }
  CHECK(r != NULL);
  CHECK(r->body_len == 5 && strcmp(r->body, "abcde") == 0);
  chat_http_request_free(r);
  CHECK(!chat_http_parser_busy(p));
  chat_http_parser_free(p);
}

static void test_keep_alive_rules(void) {
  const char *cases[][2] = {
      {"GET / HTTP/1.0\r\n\r\n", "0"},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "1"},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "0"},
      {"GET / HTTP/1.1\r\n\r\n", "1"},
  };
  for (size_t i = 0; i < 4; i++) {
    chat_http_parser *p = chat_http_parser_new(&limits);
    long used;
    chat_http_request *r = parse_all(p, cases[i][0], strlen(cases[i][0]), &used);
    CHECK(r != NULL && r->keep_alive == atoi(cases[i][1]));
    chat_http_request_free(r);
    chat_http_parser_free(p);
  }
}

static void expect_status(const char *in, size_t len, int status) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  long used = chat_http_parser_feed(p, in, len);
  const char *reason = NULL;
  CHECK(used == -1);
  CHECK(chat_http_parser_error(p, &reason) == status);
  CHECK(reason != NULL && *reason);
  CHECK(chat_http_parser_take(p) == NULL);
  chat_http_parser_free(p);
}

static void test_limits_and_errors(void) {
  char big[2048];
  int n = snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %0*d\r\n\r\n", 1500, 0);
  expect_status(big, (size_t)n, 431);
  const char cl[] = "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n";
  expect_status(cl, sizeof cl - 1, 413);
  char chunked[8192];
  n = snprintf(chunked, sizeof chunked, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n");
  memset(chunked + n, 'x', 4097);
  n += 4097;
  expect_status(chunked, (size_t)n, 413);
  const char bad[] = "GET / HTTP/1.1\r\nBad Header\r\n\r\n";
  expect_status(bad, sizeof bad - 1, 400);
  const char garbage[] = "\x01\x02\x03 / HTTP/1.1\r\n\r\n";
  expect_status(garbage, sizeof garbage - 1, 501);
}

static void test_upgrade(void) {
  chat_http_parser *p = chat_http_parser_new(&limits);
  const char in[] = "GET /ws-chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x80";
  long used;
  chat_http_request *r = parse_all(p, in, sizeof in - 1, &used);
  CHECK(r != NULL && r->upgrade);
  CHECK(used == (long)sizeof in - 1 - 2); /* the frame bytes are left for the WebSocket */
  chat_http_request_free(r);
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
  test_query_params();
  test_pipelined();
  test_byte_by_byte_chunked();
  test_trailers_stay_in_their_request();
  test_keep_alive_rules();
  test_limits_and_errors();
  test_upgrade();
  CHECK(strcmp(chat_http_status_text(405), "Method Not Allowed") == 0);
  CHECK_DONE();
}
