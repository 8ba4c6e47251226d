/* SockJS framing without sockets: escaping (JSON plus SockJS's extra ranges, non-ASCII
 * kept as is, astral characters as surrogate pairs), client payload parsing and paths. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sockjs.h"

static char *escaped(const char *s, size_t len) {
  size_t n = chat_sockjs_escape(NULL, s, len);
  char *out = malloc(n + 1);
  CHECK(chat_sockjs_escape(out, s, len) == n);
  out[n] = '\0';
  return out;
}

#define CHECK_ESC(in, len, want)      \
  do {                                \
    char *e_ = escaped(in, len);      \
    CHECK_STR(e_, want);              \
    free(e_);                         \
  } while (0)

static void test_escape(void) {
  CHECK_ESC("plain", 5, "plain");
  CHECK_ESC("a\"b\\c", 5, "a\\\"b\\\\c");
  CHECK_ESC("MESSAGE\n\n{}\0", 12, "MESSAGE\\n\\n{}\\u0000");
  CHECK_ESC("\x01\x1f", 2, "\\u0001\\u001f");
  CHECK_ESC("안녕", 6, "안녕");                              /* Korean stays UTF-8 */
  CHECK_ESC("\xe2\x80\xa8", 3, "\\u2028");                   /* line separator */
  CHECK_ESC("\xe2\x80\x8c", 3, "\\u200c");                   /* zero-width non-joiner */
  CHECK_ESC("\xe2\x81\xa0", 3, "\\u2060");                   /* word joiner */
  CHECK_ESC("\xef\xbf\xbf", 3, "\\uffff");
  CHECK_ESC("\xf0\x9f\x98\x80", 4, "\\ud83d\\ude00");        /* emoji as a surrogate pair */
  CHECK_ESC("\xff", 1, "\\ufffd");                           /* invalid UTF-8 */
  CHECK_ESC("\xc2\x85", 2, "\\u0085");                       /* C1 control */
}

static void test_parse(void) {
  chat_sockjs_messages m;
  CHECK(chat_sockjs_parse("[\"a\",\"b\\n\\u0000\"]", 17, &m) == 0);
  CHECK(m.count == 2);
  CHECK_STR(m.items[0], "a");
  CHECK(m.lens[1] == 3 && memcmp(m.items[1], "b\n\0", 3) == 0);
  chat_sockjs_messages_free(&m);

  const char single[] = " \"SEND\\ndestination:/app/x\\n\\n\\ud83d\\ude00\\u0000\" ";
  CHECK(chat_sockjs_parse(single, sizeof single - 1, &m) == 0);
  CHECK(m.count == 1);
  CHECK(m.lens[0] == 30 && memcmp(m.items[0] + 25, "\xf0\x9f\x98\x80", 4) == 0);
  chat_sockjs_messages_free(&m);

  CHECK(chat_sockjs_parse("[]", 2, &m) == 0 && m.count == 0);
  CHECK(chat_sockjs_parse("", 0, &m) == -2);
  CHECK(chat_sockjs_parse("  ", 2, &m) == -2);
  const char *broken[] = {"[", "[\"a\"", "[\"a\",]", "{\"a\":1}", "[1]", "\"unterminated", "[\"a\"] x",
                          "[\"\\q\"]", "[\"\\u12\"]", "[\"a\" \"b\"]", NULL};
  for (const char **b = broken; *b; b++) {
    int rc = chat_sockjs_parse(*b, strlen(*b), &m);
    if (rc != -1) fprintf(stderr, "accepted broken payload %s\n", *b);
    CHECK(rc == -1);
  }
}

static void test_frames_and_paths(void) {
  char f[64];
  CHECK(chat_sockjs_close_frame(f, sizeof f, 2010, "Another connection still open") == 39);
  CHECK_STR(f, "c[2010,\"Another connection still open\"]");
  char server[16], session[64], transport[16];
  CHECK(chat_sockjs_split_path("/123/abc-def/xhr_streaming", server, sizeof server, session, sizeof session,
                               transport, sizeof transport) == 0);
  CHECK_STR(server, "123");
  CHECK_STR(session, "abc-def");
  CHECK_STR(transport, "xhr_streaming");
  const char *bad[] = {"/123/abc", "/1.2/abc/xhr", "/123/a.b/xhr", "//abc/xhr", "/123//xhr", "/1/2/3/4", "/1/2/", NULL};
  for (const char **b = bad; *b; b++)
    CHECK(chat_sockjs_split_path(*b, server, sizeof server, session, sizeof session, transport, sizeof transport) == -1);
}

int main(void) {
  test_escape();
  test_parse();
  test_frames_and_paths();
  CHECK_DONE();
}
