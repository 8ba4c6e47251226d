/* STOMP framing at the byte level: split and packed frames, escapes per version,
 * content-length bodies with NULs, heart-beats, limits and malformed input. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stomp.h"

typedef struct {
  int frames, heartbeats;
  char command[32];
  char dest[256];
  char body[1024];
  size_t body_len;
  char hdr_x[256];
} seen;

static int on_frame(const chat_stomp_frame *f, void *ud) {
  seen *s = ud;
  if (f == NULL) {
    s->heartbeats++;
    return 0;
  }
  s->frames++;
  snprintf(s->command, sizeof s->command, "%s", f->command);
  const char *d = chat_stomp_frame_header(f, "destination");
  snprintf(s->dest, sizeof s->dest, "%s", d ? d : "");
  const char *x = chat_stomp_frame_header(f, "x");
  snprintf(s->hdr_x, sizeof s->hdr_x, "%s", x ? x : "");
  s->body_len = f->body_len < sizeof s->body ? f->body_len : sizeof s->body;
  memcpy(s->body, f->body, s->body_len);
  return 0;
}

static chat_stomp_limits limits = {65536, 64};

static int feed(chat_stomp_parser *p, const char *data, size_t len, seen *s, const char **err) {
  return chat_stomp_parser_feed(p, data, len, on_frame, s, err);
}

static void test_simple_and_packed(void) {
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  const char in[] = "CONNECT\naccept-version:1.2\nhost:x\n\n\0\nSEND\ndestination:/app/a\n\nhello\0";
  CHECK(feed(p, in, sizeof in - 1, &s, &err) == 0);
  CHECK(s.frames == 2);
  CHECK(s.heartbeats == 1);
  CHECK_STR(s.command, "SEND");
  CHECK_STR(s.dest, "/app/a");
  CHECK(s.body_len == 5 && memcmp(s.body, "hello", 5) == 0);
  CHECK(chat_stomp_parser_buffered(p) == 0);
  chat_stomp_parser_free(p);
}

static void test_split_byte_by_byte(void) {
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  const char in[] = "SEND\r\ndestination:/app/x\r\ncontent-length:3\r\n\r\na\0b\0\r\n";
  for (size_t i = 0; i < sizeof in - 1; i++) CHECK(feed(p, in + i, 1, &s, &err) == 0);
  CHECK(s.frames == 1);
  CHECK(s.heartbeats == 1);
  CHECK_STR(s.dest, "/app/x");
  CHECK(s.body_len == 3 && memcmp(s.body, "a\0b", 3) == 0);
  chat_stomp_parser_free(p);
}

static void test_escapes(void) {
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  const char in[] = "SEND\nx:a\\cb\\nc\\\\d\\re\n\n\0";
  CHECK(feed(p, in, sizeof in - 1, &s, &err) == 0);
  CHECK_STR(s.hdr_x, "a:b\nc\\d\re");
  chat_stomp_parser_free(p);

  /* \r is not an escape before 1.2. */
  p = chat_stomp_parser_new(&limits);
  chat_stomp_parser_set_version(p, CHAT_STOMP_V11);
  memset(&s, 0, sizeof s);
  const char in11[] = "SEND\nx:\\r\n\n\0";
  CHECK(feed(p, in11, sizeof in11 - 1, &s, &err) == -1);
  CHECK(err && strstr(err, "escape"));
  chat_stomp_parser_free(p);

  /* 1.0 has no escaping at all; CONNECT is never unescaped. */
  p = chat_stomp_parser_new(&limits);
  chat_stomp_parser_set_version(p, CHAT_STOMP_V10);
  memset(&s, 0, sizeof s);
  const char in10[] = "SEND\nx:a\\nb\n\n\0";
  CHECK(feed(p, in10, sizeof in10 - 1, &s, &err) == 0);
  CHECK_STR(s.hdr_x, "a\\nb");
  chat_stomp_parser_free(p);

  p = chat_stomp_parser_new(&limits);
  memset(&s, 0, sizeof s);
  const char inc[] = "CONNECT\nx:a\\qb\n\n\0";
  CHECK(feed(p, inc, sizeof inc - 1, &s, &err) == 0);
  CHECK_STR(s.hdr_x, "a\\qb");
  chat_stomp_parser_free(p);

  p = chat_stomp_parser_new(&limits);
  const char bad[] = "SEND\nx:a\\qb\n\n\0";
  CHECK(feed(p, bad, sizeof bad - 1, &s, &err) == -1);
  chat_stomp_parser_free(p);
}

static void test_repeated_header_first_wins(void) {
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  const char in[] = "SEND\ndestination:/first\ndestination:/second\n\n\0";
  CHECK(feed(p, in, sizeof in - 1, &s, &err) == 0);
  CHECK_STR(s.dest, "/first");
  chat_stomp_parser_free(p);
}

static void expect_error(const char *in, size_t len, const char *needle) {
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  CHECK(feed(p, in, len, &s, &err) == -1);
  CHECK(s.frames == 0);
  if (err == NULL || strstr(err, needle) == NULL) {
    fprintf(stderr, "expected an error with '%s', got '%s'\n", needle, err ? err : "(none)");
    CHECK(0);
  }
  chat_stomp_parser_free(p);
}

static void test_malformed(void) {
  expect_error("send\n\n\0", 7, "command");
  expect_error("SEND\nnocolon\n\n\0", 15, "header");
  expect_error("SEND\n:v\n\n\0", 10, "header");
  expect_error("SEND\ncontent-length:x\n\n\0", 24, "content-length");
  expect_error("SEND\ncontent-length:2\n\nabc\0", 27, "content-length");
  expect_error("\rX", 2, "CR");
  /* A header line starting with a bare CR is a header line like any other (here without
   * a colon), not the end of the headers: the ones after it used to vanish silently. */
  expect_error("SEND\na:1\n\rjunk\ncontent-length:1\n\nx\0", 35, "header");
  char many[4096] = "SEND\n";
  for (int i = 0; i < 70; i++) strcat(many, "a:b\n");
  strcat(many, "\n");
  expect_error(many, strlen(many) + 1, "too many headers");
}

static void test_frame_limit(void) {
  /* Declared too large: refused before the body arrives. */
  expect_error("SEND\ncontent-length:70000\n\n", 28, "too large");
  /* No content-length and no NUL within the limit: refused once the limit is passed. */
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  CHECK(feed(p, "SEND\n\n", 6, &s, &err) == 0);
  char chunk[8192];
  memset(chunk, 'a', sizeof chunk);
  int rc = 0;
  for (int i = 0; i < 9 && rc == 0; i++) rc = feed(p, chunk, sizeof chunk, &s, &err);
  CHECK(rc == -1);
  CHECK(err && strstr(err, "too large"));
  chat_stomp_parser_free(p);

  /* Just under the limit is fine. */
  p = chat_stomp_parser_new(&limits);
  size_t body = 65536 - 64;
  char *big = malloc(body + 64);
  int h = snprintf(big, 64, "SEND\ncontent-length:%zu\n\n", body);
  memset(big + h, 'z', body);
  big[(size_t)h + body] = '\0';
  memset(&s, 0, sizeof s);
  CHECK(feed(p, big, (size_t)h + body + 1, &s, &err) == 0);
  CHECK(s.frames == 1);
  free(big);
  chat_stomp_parser_free(p);
}

static void test_encode(void) {
  const char *headers[] = {"destination", "/topic/a:b", "message-id", "x\ny", NULL};
  size_t len;
  char *f = chat_stomp_encode_frame(CHAT_STOMP_V12, "MESSAGE", headers, "hi", 2, &len);
  const char want[] = "MESSAGE\ndestination:/topic/a\\cb\nmessage-id:x\\ny\n\nhi";
  CHECK(len == sizeof want);
  CHECK(memcmp(f, want, sizeof want) == 0); /* includes the NUL */
  free(f);
  const char *ch[] = {"version", "1.2", "server", "a:b", NULL};
  f = chat_stomp_encode_frame(CHAT_STOMP_V12, "CONNECTED", ch, NULL, 0, &len);
  CHECK(strcmp(f, "CONNECTED\nversion:1.2\nserver:a:b\n\n") == 0);
  free(f);

  /* What the encoder writes, the parser reads back. */
  const char *rt[] = {"x", "a\\b:c\nd\re", NULL};
  f = chat_stomp_encode_frame(CHAT_STOMP_V12, "SEND", rt, "body", 4, &len);
  chat_stomp_parser *p = chat_stomp_parser_new(&limits);
  seen s = {0};
  const char *err = NULL;
  CHECK(feed(p, f, len, &s, &err) == 0);
  CHECK_STR(s.hdr_x, "a\\b:c\nd\re");
  free(f);
  chat_stomp_parser_free(p);
}

int main(void) {
  test_simple_and_packed();
  test_split_byte_by_byte();
  test_escapes();
  test_repeated_header_first_wins();
  test_malformed();
  test_frame_limit();
  test_encode();
  CHECK_DONE();
}
