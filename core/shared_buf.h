/* A reference-counted byte buffer: one encoded message body shared by every subscriber
 * it is written to, released when the last write completes. Single-threaded (the loop). */
#ifndef CHAT_SHARED_BUF_H
#define CHAT_SHARED_BUF_H

#include <stdlib.h>
#include <string.h>

typedef struct chat_shared_buf {
  unsigned refs;
  size_t len;
  char data[];
} chat_shared_buf;

static inline chat_shared_buf *chat_shared_buf_new(const void *data, size_t len) {
  chat_shared_buf *b = malloc(sizeof *b + len);
  if (b == NULL) return NULL;
  b->refs = 1;
  b->len = len;
  if (data != NULL && len > 0) memcpy(b->data, data, len);
  return b;
}

static inline chat_shared_buf *chat_shared_buf_retain(chat_shared_buf *b) {
  b->refs++;
  return b;
}

static inline void chat_shared_buf_release(chat_shared_buf *b) {
  if (b != NULL && --b->refs == 0) free(b);
}

#endif
