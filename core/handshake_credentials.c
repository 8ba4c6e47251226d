#include "handshake_credentials.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

chat_handshake *chat_handshake_new(const chat_http_request *req, const char *peer) {
  chat_handshake *h = calloc(1, sizeof *h);
  if (h == NULL) return NULL;
  h->authorization = dup_or_null(chat_http_request_header(req, "authorization"));
  h->user_id = dup_or_null(chat_http_request_header(req, "x-user-id"));
  h->access_token = chat_http_request_query_param(req, "access_token");
  h->forwarded = chat_http_request_header(req, "x-forwarded-for") != NULL ||
                 chat_http_request_header(req, "forwarded") != NULL;
  snprintf(h->peer, sizeof h->peer, "%s", peer ? peer : "");
  return h;
}

void chat_handshake_free(chat_handshake *h) {
  if (h == NULL) return;
  free(h->authorization);
  free(h->user_id);
  /* Tokens do not linger in freed memory. */
  if (h->access_token) OPENSSL_cleanse(h->access_token, strlen(h->access_token));
  free(h->access_token);
  free(h);
}

static void digest_field(EVP_MD_CTX *md, const char *value) {
  /* Present-or-absent first, then the length, so ("ab", "") and ("a", "b") differ. */
  unsigned char present = value != NULL;
  size_t len = value ? strlen(value) : 0;
  EVP_DigestUpdate(md, &present, 1);
  EVP_DigestUpdate(md, &len, sizeof len);
  if (value) EVP_DigestUpdate(md, value, len);
}

void chat_credentials_digest(const chat_http_request *req, unsigned char out[CHAT_CREDENTIALS_DIGEST_LEN]) {
  char *token = chat_http_request_query_param(req, "access_token");
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  memset(out, 0, CHAT_CREDENTIALS_DIGEST_LEN);
  if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL)) {
    digest_field(md, chat_http_request_header(req, "authorization"));
    digest_field(md, chat_http_request_header(req, "x-user-id"));
    digest_field(md, token);
    unsigned int n = 0;
    EVP_DigestFinal_ex(md, out, &n);
  }
  EVP_MD_CTX_free(md);
  free(token);
}

int chat_credentials_equal(const unsigned char a[CHAT_CREDENTIALS_DIGEST_LEN],
                           const unsigned char b[CHAT_CREDENTIALS_DIGEST_LEN]) {
  return CRYPTO_memcmp(a, b, CHAT_CREDENTIALS_DIGEST_LEN) == 0;
}

/* Glob match of s[0..slen) against p[0..plen), `*` any run, case-insensitive. */
static int glob_match(const char *p, size_t plen, const char *s, size_t slen) {
  size_t pi = 0, si = 0, star = (size_t)-1, mark = 0;
  while (si < slen) {
    if (pi < plen && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < plen && tolower((unsigned char)p[pi]) == tolower((unsigned char)s[si])) {
      pi++, si++;
    } else if (star != (size_t)-1) {
      pi = star + 1;
      si = ++mark;
    } else {
      return 0;
    }
  }
  while (pi < plen && p[pi] == '*') pi++;
  return pi == plen;
}

int chat_origin_allowed(const char *patterns, const char *origin) {
  if (origin == NULL) return 1;
  size_t olen = strlen(origin);
  for (const char *p = patterns; p && *p;) {
    while (*p == ' ' || *p == ',') p++;
    size_t len = strcspn(p, ",");
    size_t end = len;
    while (end > 0 && p[end - 1] == ' ') end--;
    if (end > 0 && glob_match(p, end, origin, olen)) return 1;
    p += len;
  }
  return 0;
}
