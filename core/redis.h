/* The Redis command connection: hiredis async on its libuv adapter, reconnected in the
 * background with backoff after Redis restarts, so callers only ever see "unavailable"
 * for a moment, never a dead client. */
#ifndef CHAT_REDIS_H
#define CHAT_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <uv.h>

typedef struct chat_redis chat_redis;

/* `reply` is valid only during the call; on failure reply is NULL and err says why. */
typedef void (*chat_redis_reply_cb)(redisReply *reply, const char *err, void *ud);

chat_redis *chat_redis_new(uv_loop_t *loop, const char *host, int port);

/* Sends a command. Returns 0 when cb will be called later, or -1 (cb not called) when
 * Redis is not connected right now. */
int chat_redis_command(chat_redis *r, int argc, const char **argv, const size_t *argvlen,
                       chat_redis_reply_cb cb, void *ud);

int chat_redis_connected(const chat_redis *r);

/* Pub/Sub: a chat_redis used only for SUBSCRIBE. The channels are subscribed again after
 * every reconnect, and the link's loss and return are logged, so cross-instance delivery
 * heals by itself after a Redis restart. `cb` gets each message (valid during the call). */
typedef void (*chat_redis_message_cb)(const char *channel, size_t channel_len, const char *payload,
                                      size_t payload_len, void *ud);
void chat_redis_set_subscriptions(chat_redis *r, const char *const *channels, size_t n,
                                  chat_redis_message_cb cb, void *ud);

/* Disconnects (pending callbacks get an error) and frees; on_closed after handles closed. */
void chat_redis_close(chat_redis *r, void (*on_closed)(void *ud), void *ud);

#endif
