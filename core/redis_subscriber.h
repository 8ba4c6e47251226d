/* One Redis connection in Pub/Sub mode, for classic channels (SUBSCRIBE) and sharded ones
 * (SSUBSCRIBE, Redis 7). hiredis 0.14's async client routes replies of a subscribed
 * connection by the commands it knows, and it knows no SSUBSCRIBE or "smessage"; so this
 * link uses hiredis only to connect, buffer and parse (a non-blocking redisContext on a
 * libuv poll) and reads every reply itself, as the push stream it is.
 *
 * It reconnects with backoff, and finds a silent Redis by a PING that goes unanswered for
 * timeout_ms. What to subscribe is its owner's (core/redis_pubsub.c): on every new
 * connection the owner is told the link is up and sends its subscriptions again. */
#ifndef CHAT_REDIS_SUBSCRIBER_H
#define CHAT_REDIS_SUBSCRIBER_H

#include <stddef.h>
#include <uv.h>

typedef struct chat_redis_subscriber chat_redis_subscriber;

typedef struct {
  /* A published message: "message" (sharded = 0) or "smessage" (sharded = 1). */
  void (*message)(void *ud, int sharded, const char *channel, size_t channel_len, const char *payload,
                  size_t payload_len);
  /* up = 1: a new connection answered, subscribe now; up = 0: the connection is gone, and
   * with it every subscription. */
  void (*link)(void *ud, chat_redis_subscriber *s, int up);
  /* A sharded channel is no longer subscribed here: the answer to our SUNSUBSCRIBE, or
   * Redis dropping it because its slot moved to another node. */
  void (*sharded_unsubscribed)(void *ud, chat_redis_subscriber *s, const char *channel, size_t len);
  /* An error answer, MOVED included (an SSUBSCRIBE sent to a node that no longer owns the
   * slot); text is the error without its '-'. */
  void (*error)(void *ud, chat_redis_subscriber *s, const char *text, size_t len);
  /* The PING sent by chat_redis_subscriber_barrier came back: everything sent before it
   * has been answered. */
  void (*barrier)(void *ud, chat_redis_subscriber *s);
} chat_redis_subscriber_events;

chat_redis_subscriber *chat_redis_subscriber_new(uv_loop_t *loop, const char *host, int port, int timeout_ms,
                                                 const chat_redis_subscriber_events *events, void *ud);

/* Sends a command ((S)SUBSCRIBE, (S)UNSUBSCRIBE). 0, or -1 when the link is not up. */
int chat_redis_subscriber_send(chat_redis_subscriber *s, int argc, const char **argv, const size_t *argvlen);

/* Sends a PING whose answer calls events.barrier. 0, or -1 when the link is not up. */
int chat_redis_subscriber_barrier(chat_redis_subscriber *s);

int chat_redis_subscriber_up(const chat_redis_subscriber *s);
const char *chat_redis_subscriber_host(const chat_redis_subscriber *s);
int chat_redis_subscriber_port(const chat_redis_subscriber *s);

/* Connections dropped because Redis stopped answering. */
unsigned long chat_redis_subscriber_stalls(const chat_redis_subscriber *s);

/* Drops the connection and makes it again (the command link found Redis silent). */
void chat_redis_subscriber_reset(chat_redis_subscriber *s);

/* Disconnects and frees; on_closed once its handles are closed. No event after this. */
void chat_redis_subscriber_close(chat_redis_subscriber *s, void (*on_closed)(void *ud), void *ud);

#endif
