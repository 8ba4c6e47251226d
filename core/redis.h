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

/* timeout_ms (CHAT_REDIS_TIMEOUT_MS): the longest a command may wait for its answer.
 * Past it the link is taken for silent (a paused Redis, a partition): it is dropped and
 * made again, pending commands fail, and until the new connection answers, commands fail
 * at once ("Redis is unavailable"). */
chat_redis *chat_redis_new(uv_loop_t *loop, const char *host, int port, int timeout_ms);

/* Sends a command. Returns 0 when cb will be called later, or -1 (cb not called) when
 * Redis is not connected right now. */
int chat_redis_command(chat_redis *r, int argc, const char **argv, const size_t *argvlen,
                       chat_redis_reply_cb cb, void *ud);

/* 1 once the current connection has answered. */
int chat_redis_connected(const chat_redis *r);

/* cb runs each time the link drops a connection that stopped answering. */
void chat_redis_on_stall(chat_redis *r, void (*cb)(void *ud), void *ud);

/* cb runs when the link becomes usable (up = 1: its first answer on a new connection) and
 * when a usable link is lost (up = 0). */
void chat_redis_on_link(chat_redis *r, void (*cb)(void *ud, int up), void *ud);

/* Connections dropped because Redis stopped answering (for chatd_dependency_timeouts_total). */
unsigned long chat_redis_stalls(const chat_redis *r);

/* Disconnects (pending callbacks get an error) and frees; on_closed after handles closed. */
void chat_redis_close(chat_redis *r, void (*on_closed)(void *ud), void *ud);

#endif
