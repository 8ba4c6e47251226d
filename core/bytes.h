/* A growing, always NUL-terminated byte buffer for the parsers (header pieces, bodies,
 * conninfo strings). Doubling keeps appends amortised O(1). */
#ifndef CHAT_BYTES_H
#define CHAT_BYTES_H

#include <stdlib.h>
#include <string.h>

typedef struct chat_bytes {
  char *data;
  size_t len, cap;
} chat_bytes;

static inline int chat_bytes_put(chat_bytes *b, const void *p, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (d == NULL) return -1;
    b->data = d;
    b->cap = cap;
  }
  memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

#endif
