/* What an opening request says about its caller: the credentials kept for STOMP CONNECT,
 * the SockJS same-caller digest, and the CHAT_ALLOWED_ORIGINS patterns. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "handshake_credentials.h"

/* A request built by hand: NULL-terminated lower-case name/value pairs. */
static chat_http_request request(char *query, const char *const *pairs) {
  static chat_http_header headers[8];
  size_t n = 0;
  for (; pairs && pairs[2 * n]; n++) {
    headers[n].name = (char *)pairs[2 * n];
    headers[n].value = (char *)pairs[2 * n + 1];
  }
  chat_http_request r = {.method = "GET", .path = "/ws-chat", .query = query, .headers = headers, .header_count = n};
  return r;
}

static void test_credentials_copied(void) {
  const char *const h[] = {"authorization", "Bearer abc", "x-user-id", "42", "x-forwarded-for", "203.0.113.1", NULL};
  chat_http_request r = request("t=1&access_token=ey%2Ej.x+y&z=2", h);
  chat_handshake *hs = chat_handshake_new(&r, "10.0.0.7");
  CHECK_STR(hs->authorization, "Bearer abc");
  CHECK_STR(hs->user_id, "42");
  CHECK_STR(hs->access_token, "ey.j.x y");
  CHECK_STR(hs->peer, "10.0.0.7");
  CHECK(hs->forwarded == 1);
  chat_handshake_free(hs);

  r = request("xaccess_token=no&access_token", NULL);
  hs = chat_handshake_new(&r, NULL);
  CHECK(hs->authorization == NULL && hs->user_id == NULL && hs->access_token == NULL);
  CHECK(hs->forwarded == 0);
  CHECK_STR(hs->peer, "");
  chat_handshake_free(hs);

  r = request("access_token=%4", NULL); /* a truncated escape stays as sent */
  hs = chat_handshake_new(&r, "::1");
  CHECK_STR(hs->access_token, "%4");
  chat_handshake_free(hs);
}

static void test_same_caller_digest(void) {
  unsigned char a[CHAT_CREDENTIALS_DIGEST_LEN], b[CHAT_CREDENTIALS_DIGEST_LEN];
  const char *const alice[] = {"authorization", "Bearer A", NULL};
  chat_http_request r = request("", alice);
  chat_credentials_digest(&r, a);
  r = request("other=1", alice); /* other parameters do not matter */
  chat_credentials_digest(&r, b);
  CHECK(chat_credentials_equal(a, b));

  const char *const bob[] = {"authorization", "Bearer B", NULL};
  r = request("", bob);
  chat_credentials_digest(&r, b);
  CHECK(!chat_credentials_equal(a, b));
  r = request("", NULL); /* no credentials at all is not the same as Alice's */
  chat_credentials_digest(&r, b);
  CHECK(!chat_credentials_equal(a, b));

  /* The same bytes in another place are other credentials. */
  const char *const as_header[] = {"x-user-id", "7", NULL};
  r = request("", as_header);
  chat_credentials_digest(&r, a);
  r = request("access_token=7", NULL);
  chat_credentials_digest(&r, b);
  CHECK(!chat_credentials_equal(a, b));
}

static void test_origins(void) {
  CHECK(chat_origin_allowed("*", "https://anything.example"));
  CHECK(chat_origin_allowed("https://app.example.com", NULL)); /* not a browser */
  const char *list = "https://app.example.com, https://*.example.org";
  CHECK(chat_origin_allowed(list, "https://app.example.com"));
  CHECK(chat_origin_allowed(list, "HTTPS://APP.EXAMPLE.COM"));
  CHECK(chat_origin_allowed(list, "https://a.b.example.org"));
  CHECK(!chat_origin_allowed(list, "https://example.org"));
  CHECK(!chat_origin_allowed(list, "http://app.example.com"));
  CHECK(!chat_origin_allowed(list, "https://app.example.com.evil.net"));
  CHECK(!chat_origin_allowed(list, "https://evil.example.org.net"));
  CHECK(!chat_origin_allowed("", "https://app.example.com"));
  CHECK(!chat_origin_allowed(" , ,", "https://app.example.com"));
  CHECK(chat_origin_allowed("http://localhost:*", "http://localhost:5173"));
}

int main(void) {
  test_credentials_copied();
  test_same_caller_digest();
  test_origins();
  CHECK_DONE();
}
