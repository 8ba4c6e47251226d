/* Reconnect delays that double from a minimum to a cap: the Redis links and the PostgreSQL
 * connections wait this long between attempts, so a dependency that is down is not
 * hammered and one that comes back is found within the cap. */
#ifndef CHAT_BACKOFF_H
#define CHAT_BACKOFF_H

#include <stdint.h>

/* The delay to wait now (*backoff_ms), and *backoff_ms doubled up to max_ms for next time.
 * A successful connect sets *backoff_ms back to the minimum. */
static inline uint64_t chat_backoff_take(int *backoff_ms, int max_ms) {
  int now = *backoff_ms;
  *backoff_ms = now > max_ms / 2 ? max_ms : now * 2;
  return (uint64_t)now;
}

#endif
