/* The cluster command client (core/redis_cluster.c) on libuv against a real Redis Cluster
 * (CHAT_TEST_REDIS_CLUSTER=host:port of one node, CHAT_TEST_REDIS_CLUSTER_DIR its folder
 * from deploy/dev/redis-cluster.sh; run by tests/integration/redis_cluster_map.sh):
 *   - 300 INCRs of room keys spread over every master, each answered, each stored where
 *     CLUSTER KEYSLOT's owner holds it;
 *   - a slot migrating to another master (ASK, answered after ASKING), then moved there
 *     (SETSLOT ... NODE): the client follows MOVED and goes on;
 *   - a master killed: its replica takes over and commands for its slots are answered
 *     again within 15 s (the cluster's node timeout here is 2 s; about 4 s measured).
 * Beside it the Pub/Sub side (core/redis_pubsub.c) on the same cluster: a room with a
 * local destination gets its sharded channel's messages and one without gets none; its
 * channel follows the slot when it moves (Redis drops the subscription, it is made on the
 * new owner) and when its master is killed, with the gap reported as the link going down
 * and coming back (what makes the STOMP hub catch up from PostgreSQL). */
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "check.h"
#include "redis_cluster.h"
#include "redis_cluster_map.h"
#include "redis_pubsub.h"

static uv_loop_t *loop;
static chat_redis_cluster *cluster;
static int answered, failed, integers;

static void on_incr(redisReply *reply, const char *err, void *ud) {
  (void)ud;
  answered++;
  if (reply != NULL && reply->type == REDIS_REPLY_INTEGER) integers++;
  else failed++, fprintf(stderr, "    INCR failed: %s\n", err ? err : reply && reply->str ? reply->str : "?");
}

/* Runs the loop until cond() or ms pass; 1 if cond() held. */
static int run_until(int (*cond)(void), int ms) {
  uint64_t end = uv_now(loop) + (uint64_t)ms;
  while (!cond() && uv_now(loop) < end) {
    uv_run(loop, UV_RUN_NOWAIT);
    uv_sleep(1);
    uv_update_time(loop);
  }
  return cond();
}

static int is_ready(void) { return chat_redis_cluster_ready(cluster); }
static int want;
static int all_answered(void) { return answered >= want; }

static int incr(const char *key) {
  const char *argv[2] = {"INCR", key};
  size_t argvlen[2] = {4, strlen(key)};
  return chat_redis_cluster_command(cluster, 2, argv, argvlen, on_incr, NULL);
}

/* One INCR through the client, waited for: 1 when it was answered with an integer. */
static int incr_answered(const char *key, int ms) {
  answered = integers = failed = 0;
  if (incr(key) != 0) return 0;
  want = 1;
  run_until(all_answered, ms);
  return integers == 1;
}

static redisContext *node(const char *host, int port) {
  redisContext *c = redisConnect(host, port);
  if (c == NULL || c->err) {
    fprintf(stderr, "cannot connect to %s:%d\n", host, port);
    exit(1);
  }
  return c;
}

/* The id and port of the master serving `slot`, and of another master, by CLUSTER NODES. */
static void masters_of(redisContext *c, int slot, char *owner_id, int *owner_port, char *other_id, int *other_port) {
  redisReply *r = redisCommand(c, "CLUSTER NODES");
  char *line = r->str;
  *owner_port = *other_port = 0;
  while (line && *line) {
    char *next = strchr(line, '\n');
    if (next) *next++ = '\0';
    char id[64], addr[128], flags[128];
    if (sscanf(line, "%63s %127s %127s", id, addr, flags) == 3 && strstr(flags, "master") && !strstr(flags, "fail")) {
      int port = atoi(strchr(addr, ':') + 1);
      /* Fields 9 on: the slots it serves, "a-b" or "n" ("[...]" is a migration). */
      int owns = 0, field = 0;
      for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " "), field++) {
        int a, b, n = sscanf(tok, "%d-%d", &a, &b);
        if (field < 8 || tok[0] == '[') continue;
        if ((n == 2 && slot >= a && slot <= b) || (n == 1 && a == slot)) owns = 1;
      }
      if (owns) strcpy(owner_id, id), *owner_port = port;
      else if (*other_port == 0) strcpy(other_id, id), *other_port = port;
    }
    line = next;
  }
  freeReplyObject(r);
}

static void closed(void *ud) { *(int *)ud = 1; }

/* ---- the Pub/Sub side ---- */

static chat_redis_pubsub *pubsub;
static int room_messages[4]; /* by room id, from "test:room:{<room>}" */
static int link_downs, link_ups;

static void on_message(const char *channel, size_t len, const char *payload, size_t plen, void *ud) {
  (void)payload, (void)plen, (void)ud;
  int room = 0;
  if (sscanf(channel, "test:room:{%d}", &room) == 1 && room > 0 && room < 4 && channel[len - 1] == '}')
    room_messages[room]++;
}

static void on_listening(void *ud, int up) {
  (void)ud;
  if (up) link_ups++;
  else link_downs++;
}

static int listening(void) {
  chat_redis_pubsub_stats st;
  chat_redis_pubsub_stats_get(pubsub, &st);
  return st.up;
}

static int published;
static void on_spublish(redisReply *reply, const char *err, void *ud) {
  (void)reply, (void)err, (void)ud;
  published++;
}
static int spublish_answered(void) { return published > 0; }

static void spublish(int room) {
  char ch[32];
  int n = snprintf(ch, sizeof ch, "test:room:{%d}", room);
  const char *argv[3] = {"SPUBLISH", ch, "m"};
  size_t argvlen[3] = {8, (size_t)n, 1};
  published = 0;
  if (chat_redis_cluster_command(cluster, 3, argv, argvlen, on_spublish, NULL) == 0) run_until(spublish_answered, 3000);
}

static int watched_room;
static int watched_before;
static int room_got_more(void) { return room_messages[watched_room] > watched_before; }

/* SPUBLISHes to a room until its message comes back through the Pub/Sub side, within ms:
 * 1 if it did. */
static int room_hears(int room, int ms) {
  uint64_t end = uv_now(loop) + (uint64_t)ms;
  watched_room = room;
  watched_before = room_messages[room];
  while (uv_now(loop) < end) {
    spublish(room);
    if (run_until(room_got_more, 200)) return 1;
  }
  return 0;
}

int main(void) {
  loop = uv_default_loop();
  /* Seeds that name no node are refused at once. */
  const char *bad_seeds[] = {"", "localhost", "h:0", "h:70000", ",", "h:x", ":7000", "h:7000,", "h:7000,oops"};
  for (size_t i = 0; i < sizeof bad_seeds / sizeof *bad_seeds; i++)
    CHECK(chat_redis_cluster_seeds(bad_seeds[i]) == 0 && chat_redis_cluster_new(loop, bad_seeds[i], 2000) == NULL);
  CHECK(chat_redis_cluster_seeds("r1:7000,redis-1.redis:7001,10.0.0.3:7002") == 3);
  const char *where = getenv("CHAT_TEST_REDIS_CLUSTER"), *dir = getenv("CHAT_TEST_REDIS_CLUSTER_DIR");
  if (where == NULL || dir == NULL) {
    printf("CHAT_TEST_REDIS_CLUSTER and CHAT_TEST_REDIS_CLUSTER_DIR not set: no cluster to test against\n");
    CHECK_DONE();
  }
  char host[64];
  int port;
  CHECK(sscanf(where, "%63[^:]:%d", host, &port) == 2);
  cluster = chat_redis_cluster_new(loop, where, 2000);
  CHECK(cluster != NULL);
  pubsub = chat_redis_pubsub_new(loop, NULL, 0, cluster, 2000);
  CHECK(pubsub != NULL);
  const char *templates[1] = {"test:room:{}"};
  CHECK(chat_redis_pubsub_set_rooms(pubsub, "/topic/chatroom/", templates, 1) == 0);
  const char *bad[1] = {"test:room"};
  CHECK(chat_redis_pubsub_set_rooms(pubsub, "/topic/chatroom/", bad, 1) == -1);
  chat_redis_pubsub_on_message(pubsub, on_message, NULL);
  chat_redis_pubsub_on_link(pubsub, on_listening, NULL);
  CHECK(run_until(is_ready, 10000));
  CHECK(chat_redis_cluster_refreshes(cluster) >= 1);

  /* Rooms 1 and 3 have local subscribers (two destinations of room 1), room 2 none; then
   * room 3's last one leaves. */
  chat_redis_pubsub_destination(pubsub, "/topic/chatroom/1", 1);
  chat_redis_pubsub_destination(pubsub, "/topic/chatroom/1/typing", 1);
  chat_redis_pubsub_destination(pubsub, "/topic/chatroom/3", 1);
  chat_redis_pubsub_destination(pubsub, "/topic/chatroom/12x", 1); /* not a room destination */
  CHECK(room_hears(1, 5000));
  CHECK(room_hears(3, 5000));
  chat_redis_pubsub_destination(pubsub, "/topic/chatroom/3", 0);
  chat_redis_pubsub_destination(pubsub, "/topic/chatroom/1/typing", 0);
  chat_redis_pubsub_stats st;
  chat_redis_pubsub_stats_get(pubsub, &st);
  CHECK(st.room_channels == 1 && st.global_channels == 0);
  CHECK(room_hears(1, 5000));
  spublish(2);
  spublish(3);
  int heard_2 = room_messages[2], heard_3 = room_messages[3];
  uv_sleep(300);
  uv_run(loop, UV_RUN_NOWAIT); /* anything that would come */
  CHECK(room_messages[2] == 0 && heard_2 == 0);
  CHECK(room_messages[3] == heard_3);
  CHECK(run_until(listening, 5000));
  printf("room channels: heard only while the room has local destinations\n");

  /* 300 room keys over every master. */
  redisContext *seed = node(host, port);
  for (int room = 1; room <= 300; room++) {
    char key[48];
    snprintf(key, sizeof key, "test:gen:{%d}", room);
    CHECK(incr(key) == 0);
  }
  want = 300;
  CHECK(run_until(all_answered, 10000));
  CHECK(integers == 300 && failed == 0);
  printf("300 INCRs answered through the slot map\n");
  const char *cross[3] = {"MGET", "a{1}", "b{2}"};
  size_t cross_len[3] = {4, 4, 4};
  CHECK(chat_redis_cluster_command(cluster, 3, cross, cross_len, on_incr, NULL) == -1);

  /* A slot moved to another master under the client: MOVED, followed. */
  int downs = link_downs;
  printf("    listening before the migration: %d down, %d up\n", link_downs, link_ups);
  int slot = chat_redis_key_slot("test:gen:{1}", 12);
  char owner_id[64] = "", other_id[64] = "";
  int owner_port, other_port;
  masters_of(seed, slot, owner_id, &owner_port, other_id, &other_port);
  CHECK(owner_port > 0 && other_port > 0);
  redisContext *from = node(host, owner_port), *to = node(host, other_port);
  freeReplyObject(redisCommand(to, "CLUSTER SETSLOT %d IMPORTING %s", slot, owner_id));
  freeReplyObject(redisCommand(from, "CLUSTER SETSLOT %d MIGRATING %s", slot, other_id));
  redisReply *keys = redisCommand(from, "CLUSTER GETKEYSINSLOT %d 100", slot);
  for (size_t i = 0; keys && i < keys->elements; i++)
    freeReplyObject(redisCommand(from, "MIGRATE %s %d %s 0 5000", host, other_port, keys->element[i]->str));
  freeReplyObject(keys);
  /* Mid-migration the key is on the importing node already: the source answers ASK. */
  unsigned long before_ask = chat_redis_cluster_redirects(cluster);
  CHECK(incr_answered("test:gen:{1}", 5000));
  CHECK(chat_redis_cluster_redirects(cluster) == before_ask + 1);
  printf("slot %d migrating: ASK followed with ASKING\n", slot);
  freeReplyObject(redisCommand(to, "CLUSTER SETSLOT %d NODE %s", slot, other_id));
  freeReplyObject(redisCommand(from, "CLUSTER SETSLOT %d NODE %s", slot, other_id));
  unsigned long before = chat_redis_cluster_redirects(cluster);
  CHECK(incr_answered("test:gen:{1}", 5000));
  CHECK(chat_redis_cluster_redirects(cluster) > before);
  redisReply *moved = redisCommand(to, "GET test:gen:{1}");
  CHECK(moved && moved->type == REDIS_REPLY_STRING && strcmp(moved->str, "3") == 0); /* 300 loop, ASK, MOVED */
  freeReplyObject(moved);
  printf("slot %d moved from :%d to :%d: followed (%lu redirections)\n", slot, owner_port, other_port,
         chat_redis_cluster_redirects(cluster) - before);
  /* Room 1's channel is in that slot: the old owner dropped it, it is subscribed on the new
   * one, and the gap was reported. */
  CHECK(room_hears(1, 10000));
  CHECK(run_until(listening, 5000));
  printf("    listening: %d down (%d before), %d up\n", link_downs, downs, link_ups);
  CHECK(link_downs > downs && link_ups == link_downs + 1);
  printf("room 1's channel followed its slot to :%d (listening gap reported)\n", other_port);

  /* A master killed: its replica is promoted, commands for its slots are answered again. */
  char pidfile[512];
  snprintf(pidfile, sizeof pidfile, "%s/%d/redis.pid", dir, other_port);
  FILE *f = fopen(pidfile, "r");
  int pid = 0;
  CHECK(f != NULL && fscanf(f, "%d", &pid) == 1);
  if (f) fclose(f);
  downs = link_downs;
  CHECK(pid > 0 && kill(pid, SIGKILL) == 0);
  uint64_t killed_at = uv_now(loop);
  int back = 0;
  while (!back && uv_now(loop) - killed_at < 15000) {
    back = incr_answered("test:gen:{1}", 3000);
    if (!back) run_until(is_ready, 100); /* refused at once while no master serves the slot */
  }
  CHECK(back);
  printf("master :%d killed: its slots answered again after %llu ms\n", other_port,
         (unsigned long long)(uv_now(loop) - killed_at));
  CHECK(room_hears(1, 15000));
  CHECK(run_until(listening, 10000));
  CHECK(link_downs > downs && link_ups == link_downs + 1); /* the first up, then an up per gap */
  printf("room 1's channel heard again on the promoted replica %llu ms after the kill\n",
         (unsigned long long)(uv_now(loop) - killed_at));

  redisFree(from);
  redisFree(to);
  redisFree(seed);
  int ps_done = 0, done = 0;
  chat_redis_pubsub_close(pubsub, closed, &ps_done);
  while (!ps_done) uv_run(loop, UV_RUN_ONCE);
  chat_redis_cluster_close(cluster, closed, &done);
  while (!done) uv_run(loop, UV_RUN_ONCE);
  CHECK_DONE();
}
