/* The ids of chat messages a destination (or one subscription) has been given, so that a
 * message reaching it twice (a replay from PostgreSQL overlapping live delivery) is
 * written once. Normally only the ids given in the last few seconds are kept: a room's
 * messages arrive out of id order (concurrent commits on several instances, batches of a
 * group commit), but not by seconds. While an outage of the Redis link is being caught up,
 * every id is kept (keep_all), because the catch-up replays from the window's oldest id
 * and must skip everything delivered since. */
#ifndef CHAT_MESSAGE_IDS_H
#define CHAT_MESSAGE_IDS_H

#include <stddef.h>
#include <stdint.h>

enum {
  /* How long an id is remembered: longer than a message's commit can trail the drawing of
   * its id (statements time out after CHAT_PG_STATEMENT_TIMEOUT_MS; a commit seconds late
   * is a fault). */
  CHAT_MESSAGE_IDS_WINDOW_MS = 3000,
  CHAT_MESSAGE_IDS_MAX_KEPT = 1 << 16, /* a bound for a burst or an endless outage */
};

typedef struct {
  uint64_t id, at_ms;
} chat_message_id;

typedef struct {
  chat_message_id *ids; /* in arrival order */
  size_t len, cap;
  uint64_t max; /* the largest id ever added, kept when the window moves on */
  int keep_all;
} chat_message_ids;

int chat_message_ids_contains(const chat_message_ids *m, uint64_t id);

/* Remembers id, given at now_ms, and forgets ids older than the window (unless keep_all);
 * -1 when out of memory (the id is then simply not remembered). */
int chat_message_ids_add(chat_message_ids *m, uint64_t id, uint64_t now_ms);

/* Where a replay of what was not delivered starts: after the smallest id kept, or after
 * the largest ever added when none is kept (0 when none ever was). Everything delivered
 * after it is kept, so the replay minus the kept ids is exactly what was missed. */
uint64_t chat_message_ids_floor(const chat_message_ids *m);

/* Remembers every id kept now until at least until_ms, whenever it was given: after a
 * catch-up, the copies other instances publish late are still recognised. */
void chat_message_ids_remember_until(chat_message_ids *m, uint64_t until_ms);

/* Keep every id from now on (1), or go back to the window (0). */
void chat_message_ids_keep_all(chat_message_ids *m, int on, uint64_t now_ms);

void chat_message_ids_free(chat_message_ids *m);

#endif
