#include "message_ids.h"

#include <stdlib.h>
#include <string.h>

/* The position of the first id >= id. */
static size_t lower_bound(const chat_message_ids *m, uint64_t id) {
  size_t lo = 0, hi = m->len;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->ids[mid].id < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int chat_message_ids_contains(const chat_message_ids *m, uint64_t id) {
  if (m->len == 0 || id > m->ids[m->len - 1].id) return 0; /* the common case: a new message */
  size_t i = lower_bound(m, id);
  return i < m->len && m->ids[i].id == id;
}

static void drop_first(chat_message_ids *m, size_t n) {
  memmove(m->ids, m->ids + n, (m->len - n) * sizeof *m->ids);
  m->len -= n;
}

/* Sorted by id, the ids are nearly sorted by time too: the oldest are at the front. */
static void forget_old(chat_message_ids *m, uint64_t now_ms) {
  size_t n = 0;
  while (n < m->len && m->ids[n].at_ms + CHAT_MESSAGE_IDS_WINDOW_MS < now_ms) n++;
  if (n) drop_first(m, n);
}

int chat_message_ids_add(chat_message_ids *m, uint64_t id, uint64_t now_ms) {
  if (!m->keep_all) forget_old(m, now_ms);
  if (m->len >= CHAT_MESSAGE_IDS_MAX_KEPT) drop_first(m, CHAT_MESSAGE_IDS_MAX_KEPT / 2);
  if (m->len == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 8;
    chat_message_id *ids = realloc(m->ids, cap * sizeof *ids);
    if (ids == NULL) return -1;
    m->ids = ids;
    m->cap = cap;
  }
  size_t i = m->len;
  if (i > 0 && m->ids[i - 1].id >= id) { /* out of order: find its place */
    i = lower_bound(m, id);
    if (i < m->len && m->ids[i].id == id) return 0;
    memmove(m->ids + i + 1, m->ids + i, (m->len - i) * sizeof *m->ids);
  }
  m->ids[i] = (chat_message_id){id, now_ms};
  m->len++;
  if (id > m->max) m->max = id;
  return 0;
}

uint64_t chat_message_ids_floor(const chat_message_ids *m, uint64_t now_ms) {
  uint64_t lo = 0;
  for (size_t i = m->len; i-- > 0;)
    if (m->ids[i].at_ms + CHAT_MESSAGE_IDS_FLOOR_MS >= now_ms) lo = m->ids[i].id;
  return lo ? lo : m->max;
}

void chat_message_ids_keep_all(chat_message_ids *m, int on, uint64_t now_ms) {
  m->keep_all = on;
  if (!on) {
    forget_old(m, now_ms);
    if (m->cap > 8 && m->len < m->cap / 4) { /* give back what an outage grew */
      size_t cap = m->len > 8 ? m->len : 8;
      chat_message_id *ids = realloc(m->ids, cap * sizeof *ids);
      if (ids) m->ids = ids, m->cap = cap;
    }
  }
}

void chat_message_ids_free(chat_message_ids *m) {
  free(m->ids);
  memset(m, 0, sizeof *m);
}

void chat_recent_ids_add(chat_recent_ids *r, uint64_t id, uint64_t now_ms) {
  uint64_t sec = now_ms / 1000 + 1; /* + 1: a slot never used holds second 0 */
  size_t slot = sec % CHAT_RECENT_IDS_SECONDS;
  if (r->second[slot] != sec) r->second[slot] = sec, r->min[slot] = id;
  else if (id < r->min[slot]) r->min[slot] = id;
  if (id > r->max) r->max = id;
}

uint64_t chat_recent_ids_floor(const chat_recent_ids *r, uint64_t now_ms) {
  uint64_t sec = now_ms / 1000 + 1, lo = 0;
  for (size_t i = 0; i < CHAT_RECENT_IDS_SECONDS; i++)
    if (r->second[i] + CHAT_RECENT_IDS_SECONDS > sec && (lo == 0 || r->min[i] < lo)) lo = r->min[i];
  return lo ? lo : r->max;
}
