/* Messages held back, in arrival order, while a replay from PostgreSQL runs for their
 * destination or subscription: they go out after the replay, minus those it already gave. */
#ifndef CHAT_HELD_FRAMES_H
#define CHAT_HELD_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "shared_buf.h"

typedef struct chat_held_frame {
  struct chat_held_frame *next;
  uint64_t id;      /* the chat message's id */
  char *head;       /* the encoded frame head for one subscription; NULL for a destination */
  size_t head_len;
  chat_shared_buf *body;
} chat_held_frame;

typedef struct {
  chat_held_frame *first, *last;
  size_t bytes; /* heads and bodies, for the caller's bound */
} chat_held_frames;

/* Appends (copying head, retaining body); -1 when out of memory. */
int chat_held_frames_push(chat_held_frames *q, uint64_t id, const char *head, size_t head_len,
                          chat_shared_buf *body);

/* The oldest held frame, unlinked (the caller frees it), or NULL. */
chat_held_frame *chat_held_frames_pop(chat_held_frames *q);

void chat_held_frame_free(chat_held_frame *f);
void chat_held_frames_clear(chat_held_frames *q);

#endif
