/* The ids of chat messages a destination (or one subscription) has been given, so that a
 * message reaching it twice is written once: a replay from PostgreSQL overlapping live
 * delivery, or a copy another instance publishes late (what it could not publish while
 * cut off from Redis, lua/chat/stomp/delivery.lua). Ids given in the last
 * CHAT_MESSAGE_IDS_WINDOW_MS are kept, sorted, so a lookup is a binary search. While an outage of the Redis link is being
 * caught up, every id is kept (keep_all). */
#ifndef CHAT_MESSAGE_IDS_H
#define CHAT_MESSAGE_IDS_H

#include <stddef.h>
#include <stdint.h>

enum {
  /* How long an id is remembered by default: longer than an instance cut off from Redis
   * takes to publish late once it is back (its link retries at least every 5 s). */
  CHAT_MESSAGE_IDS_WINDOW_MS = 30000,
  /* How far back a catch-up replays: longer than a message's commit can trail the drawing
   * of its id (a room's messages arrive out of id order when commits on several instances or
   * batches of the group commit overlap, but not by seconds). */
  CHAT_MESSAGE_IDS_FLOOR_MS = 3000,
  CHAT_MESSAGE_IDS_MAX_KEPT = 1 << 18, /* a bound for a burst or an endless outage */
};

typedef struct {
  uint64_t id, at_ms;
} chat_message_id;

typedef struct {
  chat_message_id *ids; /* sorted by id */
  size_t len, cap;
  uint64_t max; /* the largest id ever added, kept when the window moves on */
  int keep_all;
} chat_message_ids;

int chat_message_ids_contains(const chat_message_ids *m, uint64_t id);

/* Remembers id, given at now_ms, and forgets ids older than the window (unless keep_all);
 * -1 when out of memory (the id is then simply not remembered). */
int chat_message_ids_add(chat_message_ids *m, uint64_t id, uint64_t now_ms);

/* Where a catch-up replays from: the smallest id given in the last
 * CHAT_MESSAGE_IDS_FLOOR_MS, or the largest ever given when none was (0 when none ever
 * was). Everything given after it is kept, so the replay minus the kept ids is exactly
 * what was missed. */
uint64_t chat_message_ids_floor(const chat_message_ids *m, uint64_t now_ms);

/* Keep every id from now on (1), or go back to the window (0). */
void chat_message_ids_keep_all(chat_message_ids *m, int on, uint64_t now_ms);

void chat_message_ids_free(chat_message_ids *m);

/* Every room's ids, for the floor of a room that was given none lately: only the smallest
 * id of each of the last few seconds, so recording one is two comparisons. */
enum { CHAT_RECENT_IDS_SECONDS = CHAT_MESSAGE_IDS_FLOOR_MS / 1000 + 1 };

typedef struct {
  uint64_t second[CHAT_RECENT_IDS_SECONDS], min[CHAT_RECENT_IDS_SECONDS];
  uint64_t max;
} chat_recent_ids;

void chat_recent_ids_add(chat_recent_ids *r, uint64_t id, uint64_t now_ms);

/* The smallest id seen in the last CHAT_MESSAGE_IDS_FLOOR_MS (to the second), or the
 * largest ever seen when none was (0 when none ever was). */
uint64_t chat_recent_ids_floor(const chat_recent_ids *r, uint64_t now_ms);

#endif
