/* A reference-counted byte buffer: one encoded message body shared by every subscriber
 * it is written to, released when the last write completes. Single-threaded (the loop). */
#ifndef CHAT_SHARED_BUF_H
#define CHAT_SHARED_BUF_H

#include <stdlib.h>
#include <string.h>

typedef struct chat_shared_buf {
  unsigned refs;
  size_t len;
  /* The same bytes as the inside of a JSON string, made by the first SockJS recipient and
   * reused by the others, so escaping is once per broadcast, not once per subscriber. */
  char *escaped;
  size_t escaped_len;
  char data[];
} chat_shared_buf;

static inline chat_shared_buf *chat_shared_buf_new(const void *data, size_t len) {
  chat_shared_buf *b = malloc(sizeof *b + len);
  if (b == NULL) return NULL;
  b->refs = 1;
  b->len = len;
  b->escaped = NULL;
  b->escaped_len = 0;
  if (data != NULL && len > 0) memcpy(b->data, data, len);
  return b;
}

static inline chat_shared_buf *chat_shared_buf_retain(chat_shared_buf *b) {
  b->refs++;
  return b;
}

static inline void chat_shared_buf_release(chat_shared_buf *b) {
  if (b != NULL && --b->refs == 0) {
    free(b->escaped);
    free(b);
  }
}

#endif
