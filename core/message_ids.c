#include "message_ids.h"

#include <stdlib.h>
#include <string.h>

int chat_message_ids_contains(const chat_message_ids *m, uint64_t id) {
  if (m->len == 0 || id > m->max) return 0; /* the common case: a new message */
  for (size_t i = m->len; i-- > 0;)
    if (m->ids[i].id == id) return 1;
  return 0;
}

static void drop_oldest(chat_message_ids *m, size_t n) {
  memmove(m->ids, m->ids + n, (m->len - n) * sizeof *m->ids);
  m->len -= n;
}

static void forget_old(chat_message_ids *m, uint64_t now_ms) {
  size_t n = 0;
  while (n < m->len && m->ids[n].at_ms + CHAT_MESSAGE_IDS_WINDOW_MS < now_ms) n++;
  if (n) drop_oldest(m, n);
}

int chat_message_ids_add(chat_message_ids *m, uint64_t id, uint64_t now_ms) {
  if (!m->keep_all) forget_old(m, now_ms);
  if (m->len >= CHAT_MESSAGE_IDS_MAX_KEPT) drop_oldest(m, CHAT_MESSAGE_IDS_MAX_KEPT / 2);
  if (m->len == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    chat_message_id *ids = realloc(m->ids, cap * sizeof *ids);
    if (ids == NULL) return -1;
    m->ids = ids;
    m->cap = cap;
  }
  m->ids[m->len++] = (chat_message_id){id, now_ms};
  if (id > m->max) m->max = id;
  return 0;
}

uint64_t chat_message_ids_floor(const chat_message_ids *m) {
  if (m->len == 0) return m->max;
  uint64_t lo = m->ids[0].id;
  for (size_t i = 1; i < m->len; i++)
    if (m->ids[i].id < lo) lo = m->ids[i].id;
  return lo;
}

void chat_message_ids_remember_until(chat_message_ids *m, uint64_t until_ms) {
  uint64_t at = until_ms > CHAT_MESSAGE_IDS_WINDOW_MS ? until_ms - CHAT_MESSAGE_IDS_WINDOW_MS : 0;
  for (size_t i = 0; i < m->len; i++)
    if (m->ids[i].at_ms < at) m->ids[i].at_ms = at;
}

void chat_message_ids_keep_all(chat_message_ids *m, int on, uint64_t now_ms) {
  m->keep_all = on;
  if (!on) {
    forget_old(m, now_ms);
    if (m->cap > 8 && m->len < m->cap / 4) { /* give back what an outage grew */
      chat_message_id *ids = realloc(m->ids, (m->len > 8 ? m->len : 8) * sizeof *ids);
      if (ids) m->ids = ids, m->cap = m->len > 8 ? m->len : 8;
    }
  }
}

void chat_message_ids_free(chat_message_ids *m) {
  free(m->ids);
  memset(m, 0, sizeof *m);
}
