/* What the HTTP request that opens a STOMP session (a WebSocket upgrade, or the SockJS
 * request that creates a session) says about its caller: the credentials lua/chat/auth/access.lua
 * checks at STOMP CONNECT, the peer address, and the browser Origin check.
 *
 * The credentials are kept only until CONNECT has been answered. A SockJS session keeps a
 * SHA-256 digest of them instead, so each later request of that session (xhr_send, polls,
 * streams) must present the same ones: knowing a session id is not enough to post into it
 * or read from it. */
#ifndef CHAT_HANDSHAKE_CREDENTIALS_H
#define CHAT_HANDSHAKE_CREDENTIALS_H

#include <stddef.h>

#include "http.h"

typedef struct chat_handshake {
  char *authorization; /* the Authorization header, NULL when absent */
  char *user_id;       /* X-User-Id (set by a gateway), NULL when absent */
  char *access_token;  /* the access_token query parameter, decoded, NULL when absent */
  char peer[64];       /* the peer's address */
  int forwarded;       /* the request came through a proxy (X-Forwarded-For / Forwarded) */
} chat_handshake;

enum { CHAT_CREDENTIALS_DIGEST_LEN = 32 };

/* Returns a copy of the request's credentials (malloc'ed), or NULL when out of memory. */
chat_handshake *chat_handshake_new(const chat_http_request *req, const char *peer);
void chat_handshake_free(chat_handshake *h);

/* The digest of a request's credentials (all three fields; absent ones count as absent). */
void chat_credentials_digest(const chat_http_request *req, unsigned char out[CHAT_CREDENTIALS_DIGEST_LEN]);
/* Constant time: 1 when equal. */
int chat_credentials_equal(const unsigned char a[CHAT_CREDENTIALS_DIGEST_LEN],
                           const unsigned char b[CHAT_CREDENTIALS_DIGEST_LEN]);

/* CHAT_ALLOWED_ORIGINS: `patterns` is a comma list, `*` in a pattern matches any run of
 * characters, "*" alone matches every origin; compared without regard to case. A request
 * without an Origin (not a browser) is always allowed. */
int chat_origin_allowed(const char *patterns, const char *origin);

#endif
