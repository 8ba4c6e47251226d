/* Redis Cluster's key space, the routing layer of chatd on a Redis Cluster
 * (core/redis_cluster.c, core/redis_pubsub.c): the hash slot of a key or
 * sharded channel, the slot a command is routed by, the map from slots to the nodes
 * serving them (read from CLUSTER SLOTS), and the MOVED/ASK redirections a node answers
 * with when the map is out of date.
 *
 * Pure: no I/O and no allocation after the map is filled, so the routing rules are tested
 * on their own (tests/c/test_redis_cluster_map.c) and against a real cluster
 * (tests/integration/redis_cluster_map.sh). hiredis 0.14 has no cluster support and Debian
 * 12 ships no cluster client, hence this module. */
#ifndef CHAT_REDIS_CLUSTER_MAP_H
#define CHAT_REDIS_CLUSTER_MAP_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

enum {
  CHAT_REDIS_SLOTS = 16384,
  CHAT_REDIS_MAX_NODES = 256,      /* masters and replicas; a bigger cluster is refused */
  CHAT_REDIS_HOST_MAX = 256,       /* a node's address as CLUSTER SLOTS gives it */
  CHAT_REDIS_KEYLESS = -1,         /* chat_redis_command_slot: any node will do */
  CHAT_REDIS_CROSS_SLOT = -2,      /* chat_redis_command_slot: keys of different slots */
};

/* The slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the text between the
 * first '{' and the first '}' after it, when not empty), modulo 16384. */
uint16_t chat_redis_key_slot(const char *key, size_t len);

/* The slot a command goes to: the slot of its keys (they must share one), or
 * CHAT_REDIS_KEYLESS for commands without keys (PING, INFO, PUBLISH, SUBSCRIBE, ...), or
 * CHAT_REDIS_CROSS_SLOT when its keys are in different slots (Redis would refuse it with
 * CROSSSLOT: refused here before it is sent). */
int chat_redis_command_slot(int argc, const char *const *argv, const size_t *argvlen);

typedef struct {
  char host[CHAT_REDIS_HOST_MAX]; /* "" when the node did not say: the address it was asked at */
  int port;
  int master;                     /* index of its master in nodes[], or -1: it is a master */
} chat_redis_node;

typedef struct {
  chat_redis_node nodes[CHAT_REDIS_MAX_NODES];
  size_t nnodes;
  int16_t slot_master[CHAT_REDIS_SLOTS]; /* index in nodes[] of the master serving the slot, -1: none */
} chat_redis_slot_map;

/* Fills the map from a CLUSTER SLOTS reply. Returns 0, or -1 with the reason in err for a
 * reply of another shape (nothing in m is to be used then). Slots no range covers map to
 * -1: the cluster is incomplete, commands for them fail with "no node serves slot N". */
int chat_redis_slot_map_from_reply(chat_redis_slot_map *m, const redisReply *reply, char *err, size_t errlen);

/* The node serving `slot` (index in nodes[]), or -1. */
int chat_redis_slot_map_master(const chat_redis_slot_map *m, uint16_t slot);

/* How many slots no node serves (0 in a healthy cluster). */
size_t chat_redis_slot_map_uncovered(const chat_redis_slot_map *m);

typedef enum { CHAT_REDIS_NO_REDIRECT, CHAT_REDIS_MOVED, CHAT_REDIS_ASK } chat_redis_redirect_kind;

typedef struct {
  chat_redis_redirect_kind kind;
  uint16_t slot;
  char host[CHAT_REDIS_HOST_MAX]; /* "" for "MOVED 3999 :6381" (the node asked, another port) */
  int port;
} chat_redis_redirect;

/* Reads an error reply's text: "MOVED <slot> <host>:<port>" (the slot has a new owner:
 * update the map, send again there) or "ASK <slot> <host>:<port>" (the slot is migrating:
 * send this one command there after ASKING, map unchanged). Returns the kind; anything
 * else, a malformed redirection included, is CHAT_REDIS_NO_REDIRECT (an ordinary error). */
chat_redis_redirect_kind chat_redis_redirect_parse(const char *text, size_t len, chat_redis_redirect *out);

#endif
