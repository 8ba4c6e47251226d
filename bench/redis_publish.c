/* redis-publish: chat messages injected straight into Redis at a fixed rate, spread over
 * rooms, as chatd pods publish them (lua/chat/stomp/delivery.lua), for bench/redis-sharding.
 * PostgreSQL is bypassed: this measures what receiving costs, not storing.
 *
 *   redis-publish --nodes 127.0.0.1:6379 --mode single|sharded --rooms N --room FIRST \
 *       --rate R --seconds S [--cluster] [--content-bytes B] [--id-base ID] [--tick-us T] [--drain N]
 *
 * single:  PUBLISH chat:messages PAYLOAD
 * sharded: SPUBLISH chat:messages:{ROOM} PAYLOAD
 * Message k goes to room FIRST + k % N (every room gets the same share) with id ID + k
 * (increasing, so chatd's once-only guard sees fresh ids). The payload is Jackson's wrapper
 * array chatd and the original write, with a content of B characters (default 40).
 *
 * --cluster: --nodes is any node of a Redis Cluster; the masters come from CLUSTER SLOTS.
 * SPUBLISH goes to the master owning the channel's slot (CRC16 of its hash tag, the room
 * id); PUBLISH goes to the masters in turn (the cluster bus carries it to every node).
 * Without --cluster everything goes to the one node.
 *
 * Paced by the clock (a late loop catches up): every T µs (default 50) the commands due
 * since the last tick are written together (pipelined), then their replies read. A short
 * tick spreads the messages as many independent publishers would, instead of bunching
 * them into bursts a subscriber would read in one go (which costs it less per message:
 * chatd's receive cost per message depends on how many arrive per read). Prints one line:
 *   publisher sent=... seconds=... rate=... receivers=... errors=... payload_bytes=... cpu_s=... nodes=...
 * --drain N: N more connections to the (first) node SUBSCRIBE to chat:messages and are read
 * and thrown away as fast as Redis writes (no parsing): subscribers that cost nothing, to
 * measure what Redis pays to send each message to N subscribers (drained_bytes counts what
 * they got, up to a second after the last publish).
 * receivers is the sum of the replies: the subscribers each message reached on the node
 * that took it (for PUBLISH in a cluster, that node's own subscribers only); cpu_s the
 * publisher's own CPU time. */
#define _GNU_SOURCE /* ppoll */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { SLOTS = 16384, MAX_NODES = 32 };

typedef struct {
  char host[64];
  int port;
  redisContext *c;
  uint64_t pending, sent;
} node;

static node nodes[MAX_NODES];
enum { MAX_DRAIN = 1000 };
static struct pollfd drain_fds[MAX_DRAIN];
static int n_drain;
static uint64_t drained_bytes;

/* Opens n connections to host:port, each SUBSCRIBEd to chat:messages, non-blocking. */
static void drain_open(const char *host, int port, int n) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  inet_pton(AF_INET, host, &a.sin_addr);
  static const char sub[] = "*2\r\n$9\r\nSUBSCRIBE\r\n$13\r\nchat:messages\r\n";
  for (int i = 0; i < n && n_drain < MAX_DRAIN; i++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0 || write(fd, sub, sizeof sub - 1) != (ssize_t)(sizeof sub - 1)) {
      perror("drain subscriber");
      exit(1);
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    drain_fds[n_drain].fd = fd;
    drain_fds[n_drain].events = POLLIN;
    n_drain++;
  }
}

/* Waits up to ns for subscriber input (or just sleeps, without subscribers) and reads
 * whatever there is. */
static void drain_wait(long ns) {
  struct timespec ts = {0, ns};
  if (n_drain == 0) {
    nanosleep(&ts, NULL);
    return;
  }
  if (ppoll(drain_fds, (nfds_t)n_drain, &ts, NULL) <= 0) return;
  static char buf[1 << 16];
  for (int i = 0; i < n_drain; i++) {
    if (!(drain_fds[i].revents & POLLIN)) continue;
    for (;;) {
      ssize_t got = read(drain_fds[i].fd, buf, sizeof buf);
      if (got > 0) drained_bytes += (uint64_t)got;
      if (got < (ssize_t)sizeof buf) break;
    }
  }
}
static int n_nodes;
static int slot_node[SLOTS];

/* CRC16-CCITT (XMODEM), as Redis Cluster hashes keys. */
static uint16_t crc16(const char *buf, size_t len) {
  uint16_t crc = 0;
  for (size_t i = 0; i < len; i++) {
    crc ^= (uint16_t)((unsigned char)buf[i] << 8);
    for (int b = 0; b < 8; b++) crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
  }
  return crc;
}

/* The slot of a key: of its hash tag (the text between the first { and the next }) if
 * that is not empty. */
static int key_slot(const char *key) {
  size_t len = strlen(key);
  const char *open = strchr(key, '{');
  if (open) {
    const char *close = strchr(open + 1, '}');
    if (close && close > open + 1) return crc16(open + 1, (size_t)(close - open - 1)) % SLOTS;
  }
  return crc16(key, len) % SLOTS;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int add_node(const char *host, int port) {
  for (int i = 0; i < n_nodes; i++)
    if (nodes[i].port == port && strcmp(nodes[i].host, host) == 0) return i;
  if (n_nodes == MAX_NODES) {
    fprintf(stderr, "too many nodes\n");
    exit(1);
  }
  node *n = &nodes[n_nodes];
  snprintf(n->host, sizeof n->host, "%s", host);
  n->port = port;
  n->c = redisConnect(host, port);
  if (n->c == NULL || n->c->err) {
    fprintf(stderr, "cannot connect to Redis %s:%d: %s\n", host, port, n->c ? n->c->errstr : "out of memory");
    exit(1);
  }
  return n_nodes++;
}

/* The masters and their slots from CLUSTER SLOTS. */
static void read_slots(node *seed) {
  redisReply *r = redisCommand(seed->c, "CLUSTER SLOTS");
  if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
    fprintf(stderr, "CLUSTER SLOTS failed on %s:%d: %s\n", seed->host, seed->port,
            r && r->type == REDIS_REPLY_ERROR ? r->str : "no array");
    exit(1);
  }
  for (int i = 0; i < SLOTS; i++) slot_node[i] = -1;
  for (size_t i = 0; i < r->elements; i++) {
    redisReply *range = r->element[i];
    if (range->elements < 3) continue;
    redisReply *master = range->element[2];
    char host[64];
    snprintf(host, sizeof host, "%s", master->element[0]->len ? master->element[0]->str : seed->host);
    int idx = add_node(host, (int)master->element[1]->integer);
    for (long long s = range->element[0]->integer; s <= range->element[1]->integer; s++) slot_node[s] = idx;
  }
  freeReplyObject(r);
  for (int i = 0; i < SLOTS; i++)
    if (slot_node[i] < 0) {
      fprintf(stderr, "slot %d is not served\n", i);
      exit(1);
    }
}

int main(int argc, char **argv) {
  const char *nodes_arg = NULL, *mode = "single";
  long rooms = 1, first = 1, rate = 1000, seconds = 10, content_bytes = 40, tick_us = 50, drain = 0;
  unsigned long long id_base = 1;
  int cluster = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--nodes")) nodes_arg = v, i++;
    else if (!strcmp(a, "--mode")) mode = v, i++;
    else if (!strcmp(a, "--rooms")) rooms = atol(v), i++;
    else if (!strcmp(a, "--room")) first = atol(v), i++;
    else if (!strcmp(a, "--rate")) rate = atol(v), i++;
    else if (!strcmp(a, "--seconds")) seconds = atol(v), i++;
    else if (!strcmp(a, "--content-bytes")) content_bytes = atol(v), i++;
    else if (!strcmp(a, "--id-base")) id_base = strtoull(v, NULL, 10), i++;
    else if (!strcmp(a, "--tick-us")) tick_us = atol(v), i++;
    else if (!strcmp(a, "--drain")) drain = atol(v), i++;
    else if (!strcmp(a, "--cluster")) cluster = 1;
    else return fprintf(stderr, "unknown option %s\n", a), 2;
  }
  int sharded = !strcmp(mode, "sharded");
  if (nodes_arg == NULL || (!sharded && strcmp(mode, "single") != 0) || rooms < 1 || rate < 1 || seconds < 1 ||
      content_bytes < 0 || content_bytes > 4000 || tick_us < 1 || tick_us > 999999 || drain < 0 ||
      drain > MAX_DRAIN)
    return fprintf(stderr, "usage: redis-publish --nodes HOST:PORT --mode single|sharded --rooms N --room FIRST "
                           "--rate R --seconds S [--cluster] [--content-bytes B] [--id-base ID] [--tick-us T] [--drain N]\n"),
           2;
  char seed_host[64];
  int seed_port;
  if (sscanf(nodes_arg, "%63[^:]:%d", seed_host, &seed_port) != 2) return fprintf(stderr, "bad --nodes\n"), 2;
  add_node(seed_host, seed_port);
  if (cluster) {
    read_slots(&nodes[0]);
  } else {
    for (int i = 0; i < SLOTS; i++) slot_node[i] = 0;
  }
  if (drain > 0) {
    drain_open(nodes[0].host, nodes[0].port, (int)drain);
    /* Their subscriptions in place before the first publish. */
    for (int i = 0; i < 100; i++) drain_wait(1000000);
  }
  uint64_t drained_before = drained_bytes;
  /* The masters, for PUBLISH in turn (the seed may be a replica: then it is not one). */
  int masters[MAX_NODES], n_masters = 0;
  for (int i = 0; i < n_nodes; i++) {
    int serves = !cluster;
    for (int s = 0; s < SLOTS && !serves; s++) serves = slot_node[s] == i;
    if (serves) masters[n_masters++] = i;
  }

  char content[4001];
  memset(content, 'x', (size_t)content_bytes);
  content[content_bytes] = '\0';
  /* Each room's channel and its node, once. */
  char **channel = calloc((size_t)rooms, sizeof *channel);
  int *room_node = calloc((size_t)rooms, sizeof *room_node);
  for (long r = 0; r < rooms; r++) {
    char ch[64];
    snprintf(ch, sizeof ch, "chat:messages:{%ld}", first + r);
    channel[r] = strdup(sharded ? ch : "chat:messages");
    room_node[r] = sharded ? slot_node[key_slot(ch)] : -1;
  }

  uint64_t sent = 0, receivers = 0, errors = 0, total = (uint64_t)rate * (uint64_t)seconds;
  size_t payload_bytes = 0;
  char payload[4300];
  /* Sleeps as long as asked, not up to 50 µs more (the default timer slack). */
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  uint64_t start = now_ns();
  while (sent < total) {
    uint64_t elapsed = now_ns() - start;
    uint64_t due = elapsed * (uint64_t)rate / 1000000000u + 1;
    if (due > total) due = total;
    if (due <= sent) {
      drain_wait(tick_us * 1000);
      continue;
    }
    /* At most 2,000 per batch, so a late loop catches up in bounded steps. */
    if (due - sent > 2000) due = sent + 2000;
    for (; sent < due; sent++) {
      long r = (long)(sent % (uint64_t)rooms);
      int len = snprintf(payload, sizeof payload,
                         "[\"com.grow.chat.dto.ChatMessagePublish\",{\"chatRoomId\":%ld,\"id\":%llu,\"senderId\":1,"
                         "\"senderNickname\":\"bench\",\"content\":\"%s\",\"messageType\":\"TALK\","
                         "\"createdAt\":\"2026-01-01T00:00:00\"}]",
                         first + r, id_base + (unsigned long long)sent, content);
      payload_bytes = (size_t)len;
      int ni = sharded ? room_node[r] : masters[sent % (uint64_t)n_masters];
      node *n = &nodes[ni];
      redisAppendCommand(n->c, sharded ? "SPUBLISH %s %b" : "PUBLISH %s %b", channel[r], payload, (size_t)len);
      n->pending++;
      n->sent++;
    }
    for (int i = 0; i < n_nodes; i++) {
      node *n = &nodes[i];
      for (; n->pending > 0; n->pending--) {
        redisReply *reply = NULL;
        if (redisGetReply(n->c, (void **)&reply) != REDIS_OK) {
          fprintf(stderr, "Redis %s:%d: %s\n", n->host, n->port, n->c->errstr);
          return 1;
        }
        if (reply->type == REDIS_REPLY_INTEGER) receivers += (uint64_t)reply->integer;
        else if (errors++ < 3) fprintf(stderr, "Redis %s:%d: %s\n", n->host, n->port, reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        freeReplyObject(reply);
      }
    }
  }
  double took = (double)(now_ns() - start) / 1e9;
  for (uint64_t until = now_ns() + 1000000000u; n_drain > 0 && now_ns() < until;) drain_wait(1000000);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               (double)ru.ru_stime.tv_usec / 1e6;
  printf("publisher sent=%llu seconds=%.2f rate=%.0f receivers=%llu errors=%llu payload_bytes=%zu cpu_s=%.3f "
         "drained_bytes=%llu nodes=",
         (unsigned long long)sent, took, (double)sent / took, (unsigned long long)receivers, (unsigned long long)errors,
         payload_bytes, cpu, (unsigned long long)(drained_bytes - drained_before));
  for (int i = 0; i < n_nodes; i++) printf("%s%s:%d/%llu", i ? "," : "", nodes[i].host, nodes[i].port, (unsigned long long)nodes[i].sent);
  printf("\n");
  return errors ? 1 : 0;
}
