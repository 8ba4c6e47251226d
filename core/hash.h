/* FNV-1a, 64-bit: the one string hash of the core (subscription index, SockJS session
 * registry, script versions, ETags). Fast on short keys, good enough spread for tables. */
#ifndef CHAT_HASH_H
#define CHAT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define CHAT_HASH_SEED 1469598103934665603ULL

/* Continues hash `h` (start with CHAT_HASH_SEED) over `len` bytes. */
static inline uint64_t chat_hash_bytes(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = data;
  for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

static inline uint64_t chat_hash_str(const char *s) {
  uint64_t h = CHAT_HASH_SEED;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
  return h;
}

#endif
