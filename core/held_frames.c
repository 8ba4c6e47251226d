#include "held_frames.h"

int chat_held_frames_push(chat_held_frames *q, uint64_t id, const char *head, size_t head_len,
                          chat_shared_buf *body) {
  chat_held_frame *f = calloc(1, sizeof *f);
  if (f == NULL) return -1;
  if (head != NULL) {
    f->head = malloc(head_len);
    if (f->head == NULL) {
      free(f);
      return -1;
    }
    memcpy(f->head, head, head_len);
    f->head_len = head_len;
  }
  f->id = id;
  f->body = chat_shared_buf_retain(body);
  if (q->last) q->last->next = f;
  else q->first = f;
  q->last = f;
  q->bytes += head_len + body->len;
  return 0;
}

chat_held_frame *chat_held_frames_pop(chat_held_frames *q) {
  chat_held_frame *f = q->first;
  if (f == NULL) return NULL;
  q->first = f->next;
  if (q->first == NULL) q->last = NULL;
  q->bytes -= f->head_len + f->body->len;
  f->next = NULL;
  return f;
}

void chat_held_frame_free(chat_held_frame *f) {
  if (f == NULL) return;
  chat_shared_buf_release(f->body);
  free(f->head);
  free(f);
}

void chat_held_frames_clear(chat_held_frames *q) {
  chat_held_frame *f;
  while ((f = chat_held_frames_pop(q)) != NULL) chat_held_frame_free(f);
}
