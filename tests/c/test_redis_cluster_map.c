/* Redis Cluster's key space (core/redis_cluster_map.c): slots with and without hash tags,
 * the slot of each kind of command, the slot map read from a CLUSTER SLOTS reply (built
 * from RESP text by hiredis's own reader), and MOVED/ASK redirections.
 *
 * With CHAT_TEST_REDIS_CLUSTER=host:port (tests/integration/redis_cluster_map.sh starts a
 * real cluster of three masters and three replicas) the same rules are checked against it:
 * CLUSTER KEYSLOT for thousands of keys, the map of its CLUSTER SLOTS, a command sent to the
 * node the map names answering without redirection, and the MOVED of any other master. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "redis_cluster_map.h"

static uint16_t slot_of(const char *key) { return chat_redis_key_slot(key, strlen(key)); }

static int command_slot(int argc, const char *const *argv) {
  size_t lens[16];
  for (int i = 0; i < argc; i++) lens[i] = strlen(argv[i]);
  return chat_redis_command_slot(argc, argv, lens);
}

/* A reply parsed from RESP text, as hiredis would hand it over. */
static redisReply *reply_of(const char *resp) {
  redisReader *r = redisReaderCreate();
  void *reply = NULL;
  redisReaderFeed(r, resp, strlen(resp));
  if (redisReaderGetReply(r, &reply) != REDIS_OK) reply = NULL;
  redisReaderFree(r);
  return reply;
}

static void check_slots(void) {
  /* The specification's vector: CRC16/XMODEM("123456789") = 0x31C3. */
  CHECK(slot_of("123456789") == (0x31C3 & 16383));
  CHECK(slot_of("somekey") == 11058);
  CHECK(slot_of("foo{hash_tag}") == 2515 && slot_of("bar{hash_tag}") == 2515);
  /* Hash tags: the first '{', the first '}' after it, not empty. */
  CHECK(slot_of("{user1000}.following") == slot_of("{user1000}.followers"));
  CHECK(slot_of("{user1000}.following") == slot_of("user1000"));
  CHECK(slot_of("foo{}{bar}") == chat_redis_key_slot("foo{}{bar}", 10)); /* empty tag: whole key */
  CHECK(slot_of("foo{}{bar}") != slot_of("bar"));
  CHECK(slot_of("foo{{bar}}zap") == slot_of("{bar"));
  CHECK(slot_of("foo{bar}{zap}") == slot_of("bar"));
  CHECK(slot_of("no{close") == chat_redis_key_slot("no{close", 8));
  CHECK(chat_redis_key_slot("", 0) == 0);
  /* Binary keys: the length, not a NUL, ends the key. */
  CHECK(chat_redis_key_slot("a\0b", 3) != chat_redis_key_slot("a", 1));
}

static void check_commands(void) {
  const char *get[] = {"GET", "chat:unread:gen:{7}"};
  CHECK(command_slot(2, get) == slot_of("7"));
  const char *lower[] = {"incr", "{7}x"};
  CHECK(command_slot(2, lower) == slot_of("7"));
  const char *ping[] = {"PING"}, *info[] = {"INFO", "server"}, *pub[] = {"PUBLISH", "chat:messages", "x"};
  CHECK(command_slot(1, ping) == CHAT_REDIS_KEYLESS);
  CHECK(command_slot(2, info) == CHAT_REDIS_KEYLESS);
  CHECK(command_slot(3, pub) == CHAT_REDIS_KEYLESS);
  const char *spub[] = {"SPUBLISH", "chat:room:{7}", "x"};
  CHECK(command_slot(3, spub) == slot_of("7"));
  const char *mget_same[] = {"MGET", "a:{7}", "b:{7}"}, *mget_cross[] = {"MGET", "a:{7}", "b:{8}"};
  CHECK(command_slot(3, mget_same) == slot_of("7"));
  CHECK(command_slot(3, mget_cross) == CHAT_REDIS_CROSS_SLOT);
  const char *mset[] = {"MSET", "{7}a", "{8}value", "{7}b", "v"};
  CHECK(command_slot(5, mset) == slot_of("7")); /* values are not keys */
  const char *eval1[] = {"EVAL", "return 1", "1", "{7}k", "{8}arg"};
  CHECK(command_slot(5, eval1) == slot_of("7")); /* ARGV is not keys */
  const char *eval0[] = {"EVAL", "return 1", "0", "arg"};
  CHECK(command_slot(4, eval0) == CHAT_REDIS_KEYLESS);
  const char *eval2[] = {"EVALSHA", "abc", "2", "{7}a", "{8}b"};
  CHECK(command_slot(5, eval2) == CHAT_REDIS_CROSS_SLOT);
  const char *eval_short[] = {"EVAL", "return 1", "5", "{7}a"}; /* fewer keys than said */
  CHECK(command_slot(4, eval_short) == slot_of("7"));
}

static void check_map(void) {
  chat_redis_slot_map *m = malloc(sizeof *m);
  char err[128] = "";
  redisReply *r = reply_of(
      "*2\r\n"
      "*4\r\n:0\r\n:8191\r\n*3\r\n$9\r\n127.0.0.1\r\n:7001\r\n$2\r\nid\r\n*3\r\n$9\r\n127.0.0.1\r\n:7004\r\n$2\r\nid\r\n"
      "*3\r\n:8192\r\n:16383\r\n*2\r\n$0\r\n\r\n:7002\r\n");
  CHECK(r != NULL);
  CHECK(chat_redis_slot_map_from_reply(m, r, err, sizeof err) == 0);
  CHECK(m->nnodes == 3);
  CHECK(chat_redis_slot_map_uncovered(m) == 0);
  int a = chat_redis_slot_map_master(m, 0), b = chat_redis_slot_map_master(m, 16383);
  CHECK(a >= 0 && m->nodes[a].port == 7001 && m->nodes[a].master == -1);
  CHECK_STR(m->nodes[a].host, "127.0.0.1");
  CHECK(b >= 0 && m->nodes[b].port == 7002);
  CHECK_STR(m->nodes[b].host, ""); /* the address it was asked at */
  CHECK(m->nodes[1].port == 7004 && m->nodes[1].master == a); /* the replica */
  CHECK(chat_redis_slot_map_master(m, 8191) == a && chat_redis_slot_map_master(m, 8192) == b);
  freeReplyObject(r);

  /* A gap: those slots have no node. */
  r = reply_of("*1\r\n*3\r\n:100\r\n:200\r\n*2\r\n$1\r\nh\r\n:7001\r\n");
  CHECK(chat_redis_slot_map_from_reply(m, r, err, sizeof err) == 0);
  CHECK(chat_redis_slot_map_uncovered(m) == CHAT_REDIS_SLOTS - 101);
  CHECK(chat_redis_slot_map_master(m, 99) == -1 && chat_redis_slot_map_master(m, 150) == 0);
  freeReplyObject(r);

  /* Replies of another shape are refused with a reason. */
  const char *bad[] = {
      "+OK\r\n",
      "*1\r\n:1\r\n",
      "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\nh\r\n:7001\r\n", /* past the last slot */
      "*1\r\n*3\r\n:9\r\n:1\r\n*2\r\n$1\r\nh\r\n:7001\r\n",     /* start after end */
      "*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n",              /* no port */
      "*1\r\n*3\r\n:0\r\n:1\r\n*2\r\n$1\r\nh\r\n:70000\r\n",    /* port out of range */
      "*1\r\n*2\r\n:0\r\n:1\r\n",                               /* no master */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    r = reply_of(bad[i]);
    err[0] = '\0';
    CHECK(r != NULL && chat_redis_slot_map_from_reply(m, r, err, sizeof err) == -1 && err[0] != '\0');
    freeReplyObject(r);
  }
  CHECK(chat_redis_slot_map_from_reply(m, NULL, err, sizeof err) == -1);
  free(m);
}

static void check_redirects(void) {
  chat_redis_redirect d;
  const char *moved = "MOVED 3999 127.0.0.1:6381";
  CHECK(chat_redis_redirect_parse(moved, strlen(moved), &d) == CHAT_REDIS_MOVED);
  CHECK(d.slot == 3999 && d.port == 6381);
  CHECK_STR(d.host, "127.0.0.1");
  const char *ask = "ASK 12 ::1:7002";
  CHECK(chat_redis_redirect_parse(ask, strlen(ask), &d) == CHAT_REDIS_ASK);
  CHECK(d.slot == 12 && d.port == 7002);
  CHECK_STR(d.host, "::1");
  const char *no_host = "MOVED 1 :7003";
  CHECK(chat_redis_redirect_parse(no_host, strlen(no_host), &d) == CHAT_REDIS_MOVED);
  CHECK_STR(d.host, "");
  const char *not_redirects[] = {"ERR unknown command", "MOVED", "MOVED 16384 h:1", "MOVED x h:1",
                                 "MOVED 1 h", "MOVED 1 h:", "MOVED 1 h:0", "MOVED 1 h:1x", "ASK 1 h:99999",
                                 "CROSSSLOT Keys in request don't hash to the same slot"};
  for (size_t i = 0; i < sizeof not_redirects / sizeof *not_redirects; i++)
    CHECK(chat_redis_redirect_parse(not_redirects[i], strlen(not_redirects[i]), &d) == CHAT_REDIS_NO_REDIRECT);
}

/* ---- against a real cluster ---- */

static redisContext *connect_to(const char *host, int port) {
  redisContext *c = redisConnect(host, port);
  if (c == NULL || c->err) {
    fprintf(stderr, "cannot connect to %s:%d: %s\n", host, port, c ? c->errstr : "out of memory");
    exit(1);
  }
  return c;
}

static void check_real_cluster(const char *where) {
  char host[64];
  int port;
  if (sscanf(where, "%63[^:]:%d", host, &port) != 2) {
    fprintf(stderr, "CHAT_TEST_REDIS_CLUSTER must be host:port, got %s\n", where);
    exit(1);
  }
  redisContext *c = connect_to(host, port);
  /* The slots of thousands of keys, tags and braces included, as the cluster computes them. */
  srand(42);
  int agreed = 0;
  for (int i = 0; i < 5000; i++) {
    char key[24];
    size_t len = 1 + (size_t)(rand() % 20);
    for (size_t k = 0; k < len; k++) key[k] = "ab{}:7x\x01\xff"[rand() % 9];
    redisReply *r = redisCommand(c, "CLUSTER KEYSLOT %b", key, len);
    if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == chat_redis_key_slot(key, len)) agreed++;
    if (r != NULL) freeReplyObject(r);
  }
  CHECK(agreed == 5000);
  printf("CLUSTER KEYSLOT agreed on %d of 5000 keys\n", agreed);

  chat_redis_slot_map *m = malloc(sizeof *m);
  char err[128] = "";
  redisReply *slots = redisCommand(c, "CLUSTER SLOTS");
  CHECK(chat_redis_slot_map_from_reply(m, slots, err, sizeof err) == 0);
  freeReplyObject(slots);
  CHECK(chat_redis_slot_map_uncovered(m) == 0);
  size_t masters = 0;
  for (size_t i = 0; i < m->nnodes; i++) masters += m->nodes[i].master < 0;
  CHECK(masters == 3);

  /* Each master answers for its own slots and redirects the others' with MOVED to the node
   * the map names. */
  int direct = 0, moved = 0;
  for (int room = 1; room <= 60; room++) {
    char key[48];
    snprintf(key, sizeof key, "chat:unread:gen:{%d}", room);
    uint16_t slot = chat_redis_key_slot(key, strlen(key));
    int owner = chat_redis_slot_map_master(m, slot);
    for (size_t i = 0; i < m->nnodes; i++) {
      if (m->nodes[i].master >= 0) continue;
      redisContext *n = connect_to(m->nodes[i].host[0] ? m->nodes[i].host : host, m->nodes[i].port);
      redisReply *r = redisCommand(n, "INCR %s", key);
      chat_redis_redirect d;
      if ((int)i == owner) {
        direct += r != NULL && r->type == REDIS_REPLY_INTEGER;
      } else if (r != NULL && r->type == REDIS_REPLY_ERROR &&
                 chat_redis_redirect_parse(r->str, r->len, &d) == CHAT_REDIS_MOVED && d.slot == slot &&
                 d.port == m->nodes[owner].port) {
        moved++;
      }
      if (r != NULL) freeReplyObject(r);
      redisFree(n);
    }
  }
  CHECK(direct == 60 && moved == 120);
  printf("60 keys: %d answered by the mapped master, %d MOVED to it by the others\n", direct, moved);

  /* Redis 7.0 lists a replica in CLUSTER SLOTS once it has replicated something (the writes
   * above) and its offset has gone round by gossip: each is then mapped to its master. */
  size_t replicas = 0;
  for (int tries = 0; tries < 100 && replicas < 3; tries++) {
    struct timespec pause = {0, 100 * 1000 * 1000};
    if (tries > 0) nanosleep(&pause, NULL);
    slots = redisCommand(c, "CLUSTER SLOTS");
    CHECK(chat_redis_slot_map_from_reply(m, slots, err, sizeof err) == 0);
    freeReplyObject(slots);
    replicas = 0;
    for (size_t i = 0; i < m->nnodes; i++)
      replicas += m->nodes[i].master >= 0 && m->nodes[m->nodes[i].master].master < 0;
  }
  CHECK(replicas == 3 && m->nnodes == 6);
  printf("slot map: %zu nodes, %zu masters, %zu replicas each mapped to its master\n", m->nnodes, masters, replicas);
  free(m);
  redisFree(c);
}

int main(void) {
  check_slots();
  check_commands();
  check_map();
  check_redirects();
  const char *cluster = getenv("CHAT_TEST_REDIS_CLUSTER");
  if (cluster != NULL && *cluster) check_real_cluster(cluster);
  CHECK_DONE();
}
