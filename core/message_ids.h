/* The ids of chat messages a destination (or one subscription) has been given, so that a
 * message reaching it twice (a replay from PostgreSQL overlapping live delivery) is
 * written once. Normally only a short recent window is kept: messages of one room arrive
 * almost in id order, so anything older is not coming again. While an outage of the Redis
 * link is being caught up, every id is kept (keep_all), because the catch-up replays from
 * the window's start and must skip everything delivered since. */
#ifndef CHAT_MESSAGE_IDS_H
#define CHAT_MESSAGE_IDS_H

#include <stddef.h>
#include <stdint.h>

/* How many recent ids a destination keeps: how far out of id order a room's messages may
 * arrive (concurrent commits on several instances) and still be caught up exactly. */
enum { CHAT_MESSAGE_IDS_WINDOW = 32, CHAT_MESSAGE_IDS_MAX_KEPT = 1 << 16 };

typedef struct {
  uint64_t *ids; /* in arrival order */
  size_t len, cap;
  uint64_t max;
  int keep_all;
} chat_message_ids;

int chat_message_ids_contains(const chat_message_ids *m, uint64_t id);

/* Remembers id; -1 when out of memory (the id is then simply not remembered). */
int chat_message_ids_add(chat_message_ids *m, uint64_t id);

/* The smallest id kept, 0 when none: replaying everything after it, minus what is kept,
 * gives exactly what was not delivered. */
uint64_t chat_message_ids_floor(const chat_message_ids *m);

/* Keep every id from now on (1), or go back to the recent window (0). */
void chat_message_ids_keep_all(chat_message_ids *m, int on);

void chat_message_ids_free(chat_message_ids *m);

#endif
