/* Redis Cluster's key space: slots, the slot map and redirections (redis_cluster_map.h). */
#include "redis_cluster_map.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection), as the cluster
 * specification defines it; bit by bit: keys are a few dozen bytes. */
static uint16_t crc16(const char *s, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++) {
    crc = (uint16_t)(crc ^ ((unsigned)(unsigned char)s[i] << 8));
    for (int b = 0; b < 8; b++) crc = (uint16_t)((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}

uint16_t chat_redis_key_slot(const char *key, size_t len) {
  const char *open = memchr(key, '{', len);
  if (open != NULL) {
    size_t from = (size_t)(open - key) + 1;
    const char *close = memchr(open + 1, '}', len - from);
    if (close != NULL && close > open + 1)
      return (uint16_t)(crc16(open + 1, (size_t)(close - open - 1)) & (CHAT_REDIS_SLOTS - 1));
  }
  return (uint16_t)(crc16(key, len) & (CHAT_REDIS_SLOTS - 1));
}

static int is(const char *word, const char *arg, size_t len) {
  return strlen(word) == len && strncasecmp(word, arg, len) == 0;
}

static int one_of(const char *const *words, const char *arg, size_t len) {
  for (size_t i = 0; words[i] != NULL; i++)
    if (is(words[i], arg, len)) return 1;
  return 0;
}

/* Commands without keys: any node answers them (PUBLISH reaches every node's subscribers
 * through the cluster bus; SSUBSCRIBE and SPUBLISH take a channel as their key). */
static const char *const KEYLESS[] = {"PING", "INFO", "PUBLISH", "SUBSCRIBE", "UNSUBSCRIBE", "PSUBSCRIBE",
                                      "PUNSUBSCRIBE", "CLUSTER", "SCRIPT", "AUTH", "SELECT", "CLIENT",
                                      "HELLO", "ECHO", "TIME", "COMMAND", "READONLY", "READWRITE",
                                      "ASKING", "DBSIZE", "CONFIG", NULL};
/* Commands whose every argument is a key. */
static const char *const ALL_KEYS[] = {"MGET", "DEL", "UNLINK", "EXISTS", "TOUCH", "WATCH", NULL};
/* Commands with the number of keys as their second argument, the keys after it. */
static const char *const NUMKEYS[] = {"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO", NULL};

/* Folds the slot of argv[i] into *slot; 0, or -1 when it differs from the slot so far. */
static int fold(int *slot, const char *arg, size_t len) {
  int s = chat_redis_key_slot(arg, len);
  if (*slot >= 0 && *slot != s) return -1;
  *slot = s;
  return 0;
}

int chat_redis_command_slot(int argc, const char *const *argv, const size_t *argvlen) {
  if (argc < 2 || one_of(KEYLESS, argv[0], argvlen[0])) return CHAT_REDIS_KEYLESS;
  int slot = CHAT_REDIS_KEYLESS, first = 1, last = 1, step = 1;
  if (one_of(ALL_KEYS, argv[0], argvlen[0])) {
    last = argc - 1;
  } else if (is("MSET", argv[0], argvlen[0]) || is("MSETNX", argv[0], argvlen[0])) {
    last = argc - 1, step = 2;
  } else if (one_of(NUMKEYS, argv[0], argvlen[0])) {
    if (argc < 3) return CHAT_REDIS_KEYLESS;
    char digits[16];
    size_t n = argvlen[2] < sizeof digits - 1 ? argvlen[2] : sizeof digits - 1;
    memcpy(digits, argv[2], n);
    digits[n] = '\0';
    long numkeys = strtol(digits, NULL, 10);
    if (numkeys <= 0) return CHAT_REDIS_KEYLESS;
    first = 3;
    last = numkeys < argc - 3 ? 2 + (int)numkeys : argc - 1;
  }
  for (int i = first; i <= last; i += step)
    if (fold(&slot, argv[i], argvlen[i]) < 0) return CHAT_REDIS_CROSS_SLOT;
  return slot;
}

static void set_err(char *err, size_t errlen, const char *what) {
  if (err != NULL && errlen > 0) snprintf(err, errlen, "%s", what);
}

/* The node of a CLUSTER SLOTS entry ([host, port, id, ...]) in m->nodes, added if new. */
static int node_index(chat_redis_slot_map *m, const redisReply *entry, int master, char *err, size_t errlen) {
  if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 || entry->element[0]->type != REDIS_REPLY_STRING ||
      entry->element[1]->type != REDIS_REPLY_INTEGER) {
    set_err(err, errlen, "CLUSTER SLOTS: a node is not [host, port, ...]");
    return -1;
  }
  const redisReply *host = entry->element[0];
  long long port = entry->element[1]->integer;
  if (host->len >= CHAT_REDIS_HOST_MAX || port <= 0 || port > 65535) {
    set_err(err, errlen, "CLUSTER SLOTS: a node's host or port is out of range");
    return -1;
  }
  for (size_t i = 0; i < m->nnodes; i++)
    if (m->nodes[i].port == port && strlen(m->nodes[i].host) == host->len &&
        memcmp(m->nodes[i].host, host->str, host->len) == 0)
      return (int)i;
  if (m->nnodes == CHAT_REDIS_MAX_NODES) {
    set_err(err, errlen, "CLUSTER SLOTS: more nodes than chatd handles");
    return -1;
  }
  chat_redis_node *n = &m->nodes[m->nnodes];
  memcpy(n->host, host->str, host->len);
  n->host[host->len] = '\0';
  n->port = (int)port;
  n->master = master;
  return (int)m->nnodes++;
}

int chat_redis_slot_map_from_reply(chat_redis_slot_map *m, const redisReply *reply, char *err, size_t errlen) {
  m->nnodes = 0;
  for (size_t s = 0; s < CHAT_REDIS_SLOTS; s++) m->slot_master[s] = -1;
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
    set_err(err, errlen, "CLUSTER SLOTS: not an array");
    return -1;
  }
  for (size_t i = 0; i < reply->elements; i++) {
    const redisReply *range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 || range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER) {
      set_err(err, errlen, "CLUSTER SLOTS: a range is not [start, end, master, replicas...]");
      return -1;
    }
    long long start = range->element[0]->integer, end = range->element[1]->integer;
    if (start < 0 || end >= CHAT_REDIS_SLOTS || start > end) {
      set_err(err, errlen, "CLUSTER SLOTS: a slot range is out of bounds");
      return -1;
    }
    int master = node_index(m, range->element[2], -1, err, errlen);
    if (master < 0) return -1;
    for (size_t r = 3; r < range->elements; r++)
      if (node_index(m, range->element[r], master, err, errlen) < 0) return -1;
    for (long long s = start; s <= end; s++) m->slot_master[s] = (int16_t)master;
  }
  return 0;
}

int chat_redis_slot_map_master(const chat_redis_slot_map *m, uint16_t slot) {
  return slot < CHAT_REDIS_SLOTS ? m->slot_master[slot] : -1;
}

size_t chat_redis_slot_map_uncovered(const chat_redis_slot_map *m) {
  size_t n = 0;
  for (size_t s = 0; s < CHAT_REDIS_SLOTS; s++) n += m->slot_master[s] < 0;
  return n;
}

chat_redis_redirect_kind chat_redis_redirect_parse(const char *text, size_t len, chat_redis_redirect *out) {
  chat_redis_redirect r = {.kind = CHAT_REDIS_NO_REDIRECT};
  size_t word;
  if (len > 6 && memcmp(text, "MOVED ", 6) == 0) {
    r.kind = CHAT_REDIS_MOVED, word = 6;
  } else if (len > 4 && memcmp(text, "ASK ", 4) == 0) {
    r.kind = CHAT_REDIS_ASK, word = 4;
  } else {
    return CHAT_REDIS_NO_REDIRECT;
  }
  /* "<slot> <host>:<port>": the host may itself hold ':' (IPv6), the port follows the last. */
  char buf[CHAT_REDIS_HOST_MAX + 32];
  size_t n = len - word;
  if (n >= sizeof buf) return CHAT_REDIS_NO_REDIRECT;
  memcpy(buf, text + word, n);
  buf[n] = '\0';
  char *end;
  long slot = strtol(buf, &end, 10);
  if (end == buf || *end != ' ' || slot < 0 || slot >= CHAT_REDIS_SLOTS) return CHAT_REDIS_NO_REDIRECT;
  char *addr = end + 1, *colon = strrchr(addr, ':');
  if (colon == NULL || (size_t)(colon - addr) >= CHAT_REDIS_HOST_MAX) return CHAT_REDIS_NO_REDIRECT;
  long port = strtol(colon + 1, &end, 10);
  if (end == colon + 1 || *end != '\0' || port <= 0 || port > 65535) return CHAT_REDIS_NO_REDIRECT;
  memcpy(r.host, addr, (size_t)(colon - addr));
  r.host[colon - addr] = '\0';
  r.slot = (uint16_t)slot;
  r.port = (int)port;
  if (out != NULL) *out = r;
  return r.kind;
}
