/* Commands to a Redis Cluster (issue 19, in progress: chatd does not use it yet): one
 * reconnecting link (core/redis.c) per master, each command sent to the master serving
 * its slot (core/redis_cluster_map.c). A MOVED answer updates the map and sends the command
 * again there; ASK sends it once to the importing node after ASKING; either also asks for
 * the whole map again (CLUSTER SLOTS), as does a link lost (a failover may be under way)
 * and a timer. Callers see what they see of one Redis: a reply, or an error once the
 * command cannot be answered. */
#ifndef CHAT_REDIS_CLUSTER_H
#define CHAT_REDIS_CLUSTER_H

#include <uv.h>

#include "redis.h"

typedef struct chat_redis_cluster chat_redis_cluster;

/* seeds: "host:port[,host:port...]" (SPRING_DATA_REDIS_CLUSTER_NODES's form). NULL when
 * any of them is not such an address. */
chat_redis_cluster *chat_redis_cluster_new(uv_loop_t *loop, const char *seeds, int timeout_ms);

/* As chat_redis_command: 0 when cb will be called, -1 (cb not called) when no node can
 * take it now (the map not read yet, the slot's master unreachable, keys of different
 * slots). */
int chat_redis_cluster_command(chat_redis_cluster *c, int argc, const char **argv, const size_t *argvlen,
                               chat_redis_reply_cb cb, void *ud);

/* 1 once every slot has a master whose link answers. */
int chat_redis_cluster_ready(const chat_redis_cluster *c);

/* Redirections followed and maps read, for the metrics. */
unsigned long chat_redis_cluster_redirects(const chat_redis_cluster *c);
unsigned long chat_redis_cluster_refreshes(const chat_redis_cluster *c);

/* Closes every link; on_closed once all are closed. */
void chat_redis_cluster_close(chat_redis_cluster *c, void (*on_closed)(void *ud), void *ud);

#endif
