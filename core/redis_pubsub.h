/* The Redis side of cross-instance delivery: what this instance listens to, on which node.
 *
 *   classic channels   SUBSCRIBE chat:messages and the like (CHAT_REDIS_PUBSUB=single, and
 *                      what original pods use): every instance gets every message. On a
 *                      cluster a classic message reaches every node, so one link does.
 *   room channels      SSUBSCRIBE chat:messages:{7} and the like (CHAT_REDIS_PUBSUB=sharded):
 *                      a room's channels are subscribed while this instance has a local
 *                      subscriber to one of the room's destinations, on the node owning
 *                      their slot (one slot per room: the room id is their hash tag).
 *
 * On one Redis there is one link. On a cluster there is a link per master in use; rooms
 * follow their slot's master when the map changes (failover, resharding), and when Redis
 * drops a channel because its slot moved, or answers MOVED. Any gap in listening (a link
 * lost, a room moving) is reported as the link going down and coming back once every
 * subscription is confirmed again, so the STOMP hub catches its subscribers up from
 * PostgreSQL (core/stomp_catch_up.c): nothing published meanwhile is lost to them. */
#ifndef CHAT_REDIS_PUBSUB_H
#define CHAT_REDIS_PUBSUB_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "redis_cluster.h"

typedef struct chat_redis_pubsub chat_redis_pubsub;

typedef void (*chat_redis_pubsub_message_cb)(const char *channel, size_t channel_len, const char *payload,
                                             size_t payload_len, void *ud);

/* One Redis at host:port, or the masters of `cluster` (host and port unused then). */
chat_redis_pubsub *chat_redis_pubsub_new(uv_loop_t *loop, const char *host, int port, chat_redis_cluster *cluster,
                                         int timeout_ms);

void chat_redis_pubsub_on_message(chat_redis_pubsub *ps, chat_redis_pubsub_message_cb cb, void *ud);

/* cb(ud, 0) when listening stops anywhere (a link lost, a room moving), cb(ud, 1) once
 * every subscription is confirmed again. */
void chat_redis_pubsub_on_link(chat_redis_pubsub *ps, void (*cb)(void *ud, int up), void *ud);

/* Classic channels, added to those already subscribed (a reload may add some; one dropped
 * from the list stays subscribed: its messages find no handler). */
void chat_redis_pubsub_set_channels(chat_redis_pubsub *ps, const char *const *channels, size_t n);

/* Room channels: a destination "<prefix><room>" or "<prefix><room>/..." (room: decimal
 * digits) has the room's channels subscribed while it has subscribers. A template's "{}"
 * becomes "{<room>}": "chat:messages:{}" is chat:messages:{7} for room 7. n = 0 turns
 * room channels off. -1 for bad templates, and for a change while rooms are subscribed
 * (the old names would be left behind): that takes a restart. */
int chat_redis_pubsub_set_rooms(chat_redis_pubsub *ps, const char *prefix, const char *const *templates, size_t n);

/* The STOMP hub's subscription index gained (added = 1) or dropped a destination. */
void chat_redis_pubsub_destination(chat_redis_pubsub *ps, const char *destination, int added);

typedef struct {
  size_t room_channels;         /* room channels subscribed (rooms x templates) */
  size_t global_channels;       /* classic channels */
  unsigned long room_messages;  /* messages received on room channels */
  unsigned long global_messages;
  unsigned long stalls;         /* links dropped because Redis stopped answering */
  int up;                       /* every subscription confirmed */
} chat_redis_pubsub_stats;

void chat_redis_pubsub_stats_get(const chat_redis_pubsub *ps, chat_redis_pubsub_stats *out);

/* Links carrying subscriptions now, for the metrics. */
size_t chat_redis_pubsub_links(const chat_redis_pubsub *ps);
void chat_redis_pubsub_link_at(const chat_redis_pubsub *ps, size_t i, const char **host, int *port, int *up);

/* Makes every link again (the command link found Redis silent). */
void chat_redis_pubsub_reset(chat_redis_pubsub *ps);

void chat_redis_pubsub_close(chat_redis_pubsub *ps, void (*on_closed)(void *ud), void *ud);

#endif
