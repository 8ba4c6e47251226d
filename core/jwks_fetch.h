/* CHAT_JWT_JWKS_URL: the identity provider's JSON Web Key Set, fetched over HTTP(S) at
 * start, again every CHAT_JWT_JWKS_REFRESH_SECONDS, and at once when a token names a key
 * that is not in the set (a rotation; at most once per 30 s, so bad tokens cannot make
 * chatd hammer the provider). A failed fetch keeps the last good set and retries with backoff.
 * Only the text is kept here; lua/chat/auth/access.lua parses it (and keeps its last good
 * parse when a new text is not a usable set). */
#ifndef CHAT_JWKS_FETCH_H
#define CHAT_JWKS_FETCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct chat_jwks chat_jwks;

/* NULL when url is NULL (nothing to fetch) or on allocation failure (logged). */
chat_jwks *chat_jwks_start(uv_loop_t *loop, const char *url, int refresh_s);

/* The last set fetched (NUL-terminated), or NULL before the first success; `version`
 * grows with every new text. */
const char *chat_jwks_text(const chat_jwks *j, uint64_t *version);

/* Asks for a fetch soon: a token named an unknown key. */
void chat_jwks_refresh_soon(chat_jwks *j);

/* Stops (an in-flight fetch is abandoned) and calls on_stopped once the handles are closed. */
void chat_jwks_stop(chat_jwks *j, void (*on_stopped)(void *ud), void *ud);

#endif
