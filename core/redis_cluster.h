/* Commands to a Redis Cluster (SPRING_DATA_REDIS_CLUSTER_NODES): one
 * reconnecting link (core/redis.c) per master, each command sent to the master serving
 * its slot (core/redis_cluster_map.c). A MOVED answer updates the map and sends the command
 * again there; ASK sends it once to the importing node after ASKING; either also asks for
 * the whole map again (CLUSTER SLOTS), as does a link lost (a failover may be under way)
 * and a timer. Callers see what they see of one Redis: a reply, or an error once the
 * command cannot be answered. */
#ifndef CHAT_REDIS_CLUSTER_H
#define CHAT_REDIS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "redis.h"

typedef struct chat_redis_cluster chat_redis_cluster;

/* How many addresses "host:port[,host:port...]" (SPRING_DATA_REDIS_CLUSTER_NODES's form)
 * lists; 0 when any of them is not such an address (checked at start, before anything). */
size_t chat_redis_cluster_seeds(const char *seeds);

/* seeds as above. NULL when any of them is not such an address. */
chat_redis_cluster *chat_redis_cluster_new(uv_loop_t *loop, const char *seeds, int timeout_ms);

/* As chat_redis_command: 0 when cb will be called, -1 (cb not called) when no node can
 * take it now (the map not read yet, the slot's master unreachable, keys of different
 * slots). */
int chat_redis_cluster_command(chat_redis_cluster *c, int argc, const char **argv, const size_t *argvlen,
                               chat_redis_reply_cb cb, void *ud);

/* 1 once every slot has a master whose link answers. */
int chat_redis_cluster_ready(const chat_redis_cluster *c);

/* cb(ud, up) when chat_redis_cluster_ready changes. */
void chat_redis_cluster_on_ready(chat_redis_cluster *c, void (*cb)(void *ud, int up), void *ud);

/* cb(ud) after every map read (the Pub/Sub side follows the slots' masters with it). */
void chat_redis_cluster_on_map(chat_redis_cluster *c, void (*cb)(void *ud), void *ud);

/* The master serving slot as the map says: 0 with its address (valid until the next map
 * read), or -1 (no map yet, or the slot has no master). */
int chat_redis_cluster_master(const chat_redis_cluster *c, uint16_t slot, const char **host, int *port);

/* Reads the map again soon (a subscriber was told MOVED, or lost its channel's slot). */
void chat_redis_cluster_refresh_soon(chat_redis_cluster *c);

/* The map's masters, for the metrics: how many, and the i-th's address and link state. */
size_t chat_redis_cluster_masters(const chat_redis_cluster *c);
void chat_redis_cluster_master_at(const chat_redis_cluster *c, size_t i, const char **host, int *port, int *up);

/* Redirections followed, maps read, maps that differed from the one before (a failover,
 * a resharding), and links dropped for silence; for the metrics. */
unsigned long chat_redis_cluster_redirects(const chat_redis_cluster *c);
unsigned long chat_redis_cluster_refreshes(const chat_redis_cluster *c);
unsigned long chat_redis_cluster_topology_changes(const chat_redis_cluster *c);
unsigned long chat_redis_cluster_stalls(const chat_redis_cluster *c);

/* Closes every link; on_closed once all are closed. */
void chat_redis_cluster_close(chat_redis_cluster *c, void (*on_closed)(void *ud), void *ud);

#endif
