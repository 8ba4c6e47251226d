#include "message_ids.h"

#include <stdlib.h>
#include <string.h>

int chat_message_ids_contains(const chat_message_ids *m, uint64_t id) {
  if (m->len == 0 || id > m->max) return 0; /* the common case: a new message */
  for (size_t i = m->len; i-- > 0;)
    if (m->ids[i] == id) return 1;
  return 0;
}

static void drop_oldest(chat_message_ids *m, size_t n) {
  memmove(m->ids, m->ids + n, (m->len - n) * sizeof *m->ids);
  m->len -= n;
}

int chat_message_ids_add(chat_message_ids *m, uint64_t id) {
  size_t limit = m->keep_all ? CHAT_MESSAGE_IDS_MAX_KEPT : CHAT_MESSAGE_IDS_WINDOW;
  if (m->len >= limit) drop_oldest(m, m->keep_all ? limit / 2 : 1);
  if (m->len == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : CHAT_MESSAGE_IDS_WINDOW;
    uint64_t *ids = realloc(m->ids, cap * sizeof *ids);
    if (ids == NULL) return -1;
    m->ids = ids;
    m->cap = cap;
  }
  m->ids[m->len++] = id;
  if (id > m->max) m->max = id;
  return 0;
}

uint64_t chat_message_ids_floor(const chat_message_ids *m) {
  uint64_t lo = 0;
  for (size_t i = 0; i < m->len; i++)
    if (lo == 0 || m->ids[i] < lo) lo = m->ids[i];
  return lo;
}

void chat_message_ids_keep_all(chat_message_ids *m, int on) {
  m->keep_all = on;
  if (!on && m->len > CHAT_MESSAGE_IDS_WINDOW) {
    drop_oldest(m, m->len - CHAT_MESSAGE_IDS_WINDOW);
    uint64_t *ids = realloc(m->ids, CHAT_MESSAGE_IDS_WINDOW * sizeof *ids);
    if (ids) m->ids = ids, m->cap = CHAT_MESSAGE_IDS_WINDOW;
  }
}

void chat_message_ids_free(chat_message_ids *m) {
  free(m->ids);
  memset(m, 0, sizeof *m);
}
