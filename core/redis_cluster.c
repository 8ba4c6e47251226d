/* Commands to a Redis Cluster (redis_cluster.h). */
#include "redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis_cluster_map.h"

enum {
  MAX_HOPS = 5,              /* redirections one command may follow */
  REFRESH_EVERY_MS = 10000,  /* the map is read again this often anyway */
  REFRESH_SOON_MS = 200,     /* after a redirection or a lost link: soon, not per command */
};

typedef struct {
  char host[CHAT_REDIS_HOST_MAX];
  int port;
  chat_redis *link;
} node_link;

struct chat_redis_cluster {
  uv_loop_t *loop;
  int timeout_ms;
  node_link links[CHAT_REDIS_MAX_NODES];
  size_t nlinks, nseeds;
  chat_redis_slot_map map; /* read from CLUSTER SLOTS; links[] indexed by map node via link_of */
  int map_links[CHAT_REDIS_MAX_NODES]; /* map.nodes[i] -> index in links[] */
  int map_read;
  int refreshing; /* a CLUSTER SLOTS is out, to links[asked] */
  int asked;
  uv_timer_t refresh;
  unsigned long redirects, refreshes, topology_changes;
  int was_ready;
  void (*on_ready)(void *ud, int up);
  void *ready_ud;
  void (*on_map)(void *ud);
  void *map_ud;
  int closing;
  size_t open_links;
  void (*on_closed)(void *ud);
  void *closed_ud;
};

/* A command on its way, with its own copy of the arguments (a redirection sends it again):
 * one allocation, the argument pointers and lengths followed by the bytes. */
typedef struct {
  chat_redis_cluster *c;
  int argc, hops, link; /* link: where it was last sent (its host stands for an empty one) */
  chat_redis_reply_cb cb;
  void *ud;
  const char **argv;
  size_t *argvlen;
} cluster_cmd;

static void schedule_refresh(chat_redis_cluster *c, uint64_t in_ms);

static void update_ready(chat_redis_cluster *c) {
  int ready = chat_redis_cluster_ready(c);
  if (ready == c->was_ready || c->closing) return;
  c->was_ready = ready;
  if (c->on_ready) c->on_ready(c->ready_ud, ready);
}

static void on_link_change(void *ud, int up) {
  chat_redis_cluster *c = ud;
  /* A master lost may be failing over; a link up may be the first one: read the map. */
  schedule_refresh(c, up && c->map_read ? REFRESH_EVERY_MS : REFRESH_SOON_MS);
  update_ready(c);
}

/* The link to host:port, made if new. */
static int link_to(chat_redis_cluster *c, const char *host, int port) {
  for (size_t i = 0; i < c->nlinks; i++)
    if (c->links[i].port == port && strcmp(c->links[i].host, host) == 0) return (int)i;
  if (c->nlinks == CHAT_REDIS_MAX_NODES) return -1;
  node_link *l = &c->links[c->nlinks];
  snprintf(l->host, sizeof l->host, "%s", host);
  l->port = port;
  l->link = chat_redis_new(c->loop, host, port, c->timeout_ms);
  chat_redis_on_link(l->link, on_link_change, c);
  c->open_links++;
  return (int)c->nlinks++;
}

/* A node's address as a node gave it: an empty host is that node's own host (CLUSTER
 * SLOTS and MOVED say "" for "the address you asked me at"). */
static const char *host_of(chat_redis_cluster *c, const char *host, int asked) {
  return host[0] ? host : c->links[asked].host;
}

static cluster_cmd *copy_cmd(int argc, const char **argv, const size_t *argvlen) {
  size_t bytes = sizeof(cluster_cmd) + (size_t)argc * (sizeof(char *) + sizeof(size_t));
  for (int i = 0; i < argc; i++) bytes += argvlen[i];
  cluster_cmd *cmd = calloc(1, bytes);
  if (cmd == NULL) return NULL;
  cmd->argc = argc;
  cmd->argv = (const char **)(cmd + 1);
  cmd->argvlen = (size_t *)(cmd->argv + argc);
  char *data = (char *)(cmd->argvlen + argc);
  for (int i = 0; i < argc; i++) {
    memcpy(data, argv[i], argvlen[i]);
    cmd->argv[i] = data;
    cmd->argvlen[i] = argvlen[i];
    data += argvlen[i];
  }
  return cmd;
}

static int send_to(cluster_cmd *cmd, int link, int asking);

static void on_reply(redisReply *reply, const char *err, void *ud) {
  cluster_cmd *cmd = ud;
  chat_redis_cluster *c = cmd->c;
  chat_redis_redirect to;
  chat_redis_redirect_kind kind = CHAT_REDIS_NO_REDIRECT;
  if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
    kind = chat_redis_redirect_parse(reply->str, reply->len, &to);
  if (kind != CHAT_REDIS_NO_REDIRECT && cmd->hops < MAX_HOPS && !c->closing) {
    c->redirects++;
    cmd->hops++;
    int target = link_to(c, host_of(c, to.host, cmd->link), to.port);
    if (kind == CHAT_REDIS_MOVED) {
      /* The slot has a new master: send there from now on, and read the whole map soon
       * (a resharding moves many slots). */
      for (size_t i = 0; i < c->map.nnodes; i++)
        if (c->map_links[i] == target) c->map.slot_master[to.slot] = (int16_t)i;
      schedule_refresh(c, REFRESH_SOON_MS);
    }
    if (target >= 0 && send_to(cmd, target, kind == CHAT_REDIS_ASK) == 0) return;
    cmd->cb(NULL, "Redis Cluster: the redirected node is unavailable", cmd->ud);
    free(cmd);
    return;
  }
  if (reply == NULL) schedule_refresh(c, REFRESH_SOON_MS);
  cmd->cb(reply, err, cmd->ud);
  free(cmd);
}

static void ignore_reply(redisReply *reply, const char *err, void *ud) { (void)reply, (void)err, (void)ud; }

static int send_to(cluster_cmd *cmd, int link, int asking) {
  chat_redis *r = cmd->c->links[link].link;
  cmd->link = link;
  if (asking) {
    const char *argv[1] = {"ASKING"};
    size_t argvlen[1] = {6};
    if (chat_redis_command(r, 1, argv, argvlen, ignore_reply, NULL) < 0) return -1;
  }
  return chat_redis_command(r, cmd->argc, cmd->argv, cmd->argvlen, on_reply, cmd);
}

/* The link serving a slot (a keyless command: any master that answers), or -1. */
static int link_for(chat_redis_cluster *c, int slot) {
  if (!c->map_read) return -1;
  if (slot >= 0) {
    int node = chat_redis_slot_map_master(&c->map, (uint16_t)slot);
    return node < 0 ? -1 : c->map_links[node];
  }
  for (size_t i = 0; i < c->map.nnodes; i++)
    if (c->map.nodes[i].master < 0 && chat_redis_connected(c->links[c->map_links[i]].link)) return c->map_links[i];
  return -1;
}

int chat_redis_cluster_command(chat_redis_cluster *c, int argc, const char **argv, const size_t *argvlen,
                               chat_redis_reply_cb cb, void *ud) {
  if (c->closing) return -1;
  int slot = chat_redis_command_slot(argc, argv, argvlen);
  if (slot == CHAT_REDIS_CROSS_SLOT) {
    chat_log_error("redis", "%.*s with keys of different slots cannot go to a Redis Cluster", (int)argvlen[0], argv[0]);
    return -1;
  }
  int link = link_for(c, slot);
  if (link < 0) return -1;
  cluster_cmd *cmd = copy_cmd(argc, argv, argvlen);
  if (cmd == NULL) return -1;
  cmd->c = c, cmd->cb = cb, cmd->ud = ud;
  if (send_to(cmd, link, 0) < 0) {
    free(cmd);
    return -1;
  }
  return 0;
}

/* ---- the map ---- */

static void on_slots(redisReply *reply, const char *err, void *ud) {
  chat_redis_cluster *c = ud;
  c->refreshing = 0;
  if (c->closing) return;
  chat_redis_slot_map *next = malloc(sizeof *next);
  char why[160] = "";
  if (next == NULL || reply == NULL || chat_redis_slot_map_from_reply(next, reply, why, sizeof why) < 0) {
    chat_log_warn("redis", "cannot read the cluster's slots: %s", err ? err : why[0] ? why : "out of memory");
    free(next);
    schedule_refresh(c, REFRESH_SOON_MS * 5);
    return;
  }
  int links[CHAT_REDIS_MAX_NODES];
  for (size_t i = 0; i < next->nnodes; i++) {
    /* Links to masters only: replicas serve no command of chatd's. */
    links[i] = next->nodes[i].master < 0 ? link_to(c, host_of(c, next->nodes[i].host, c->asked), next->nodes[i].port)
                                         : -1;
  }
  size_t uncovered = chat_redis_slot_map_uncovered(next);
  int changed = !c->map_read || memcmp(c->map.slot_master, next->slot_master, sizeof next->slot_master) != 0 ||
                c->map.nnodes != next->nnodes || memcmp(c->map_links, links, next->nnodes * sizeof *links) != 0;
  if (changed || uncovered > 0)
    chat_log_info("redis", "cluster map %s: %zu nodes, %zu slots without a master", c->map_read ? "changed" : "read",
                  next->nnodes, uncovered);
  if (changed && c->map_read) c->topology_changes++;
  c->map = *next;
  memcpy(c->map_links, links, sizeof links);
  c->map_read = 1;
  c->refreshes++;
  free(next);
  update_ready(c);
  if (c->on_map) c->on_map(c->map_ud);
  /* A master whose link does not answer may be failing over: until its replica is
   * promoted (the cluster takes a few node timeouts), ask again every second. */
  size_t unreachable = 0;
  for (size_t i = 0; i < c->map.nnodes; i++)
    unreachable += c->map.nodes[i].master < 0 && !chat_redis_connected(c->links[c->map_links[i]].link);
  schedule_refresh(c, uncovered > 0 || unreachable > 0 ? REFRESH_SOON_MS * 5 : REFRESH_EVERY_MS);
}

static void on_refresh(uv_timer_t *t) {
  chat_redis_cluster *c = t->data;
  if (c->closing || c->refreshing) return;
  static const char *argv[2] = {"CLUSTER", "SLOTS"};
  static const size_t argvlen[2] = {7, 5};
  /* Any node that answers knows the whole map: the seeds first, then the others. */
  for (size_t i = 0; i < c->nlinks; i++) {
    if (chat_redis_command(c->links[i].link, 2, argv, argvlen, on_slots, c) == 0) {
      c->refreshing = 1;
      c->asked = (int)i;
      return;
    }
  }
  schedule_refresh(c, REFRESH_SOON_MS);
}

static void schedule_refresh(chat_redis_cluster *c, uint64_t in_ms) {
  if (c->closing) return;
  /* The sooner of the planned one and this one. */
  uint64_t due = uv_timer_get_due_in(&c->refresh);
  if (uv_is_active((uv_handle_t *)&c->refresh) && due <= in_ms) return;
  uv_timer_start(&c->refresh, on_refresh, in_ms, 0);
}

/* The n-th "host:port" of a comma-separated seed list into host and port; 0, or -1 when
 * there is no n-th or it is not an address. */
static int seed_at(const char *seeds, size_t nth, char *host, int *port) {
  const char *p = seeds;
  for (size_t i = 0; p != NULL && i < nth; i++) {
    p = strchr(p, ',');
    if (p != NULL) p++;
  }
  if (p == NULL) return -1;
  size_t n = strcspn(p, ",");
  const char *colon = memrchr(p, ':', n);
  if (colon == NULL || colon == p || (size_t)(colon - p) >= CHAT_REDIS_HOST_MAX) return -1;
  char *end;
  long v = strtol(colon + 1, &end, 10);
  if (end != p + n || end == colon + 1 || v <= 0 || v > 65535) return -1;
  memcpy(host, p, (size_t)(colon - p));
  host[colon - p] = '\0';
  *port = (int)v;
  return 0;
}

size_t chat_redis_cluster_seeds(const char *seeds) {
  char host[CHAT_REDIS_HOST_MAX];
  int port;
  /* Every seed must be an address: a typo in the configuration is refused, not skipped. */
  size_t nseeds = 0;
  while (seeds != NULL && seed_at(seeds, nseeds, host, &port) == 0) nseeds++;
  size_t commas = 0;
  for (const char *p = seeds; p != NULL && *p; p++) commas += *p == ',';
  return nseeds == 0 || nseeds != commas + 1 || nseeds > CHAT_REDIS_MAX_NODES ? 0 : nseeds;
}

chat_redis_cluster *chat_redis_cluster_new(uv_loop_t *loop, const char *seeds, int timeout_ms) {
  char host[CHAT_REDIS_HOST_MAX];
  int port;
  size_t nseeds = chat_redis_cluster_seeds(seeds);
  if (nseeds == 0) return NULL;
  chat_redis_cluster *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->loop = loop;
  c->timeout_ms = timeout_ms;
  uv_timer_init(loop, &c->refresh);
  c->refresh.data = c;
  uv_unref((uv_handle_t *)&c->refresh);
  for (size_t i = 0; i < nseeds; i++) {
    seed_at(seeds, i, host, &port);
    link_to(c, host, port);
  }
  c->nseeds = nseeds;
  return c;
}

int chat_redis_cluster_ready(const chat_redis_cluster *c) {
  if (!c->map_read || chat_redis_slot_map_uncovered(&c->map) > 0) return 0;
  for (size_t i = 0; i < c->map.nnodes; i++)
    if (c->map.nodes[i].master < 0 && !chat_redis_connected(c->links[c->map_links[i]].link)) return 0;
  return 1;
}

void chat_redis_cluster_on_ready(chat_redis_cluster *c, void (*cb)(void *ud, int up), void *ud) {
  c->on_ready = cb;
  c->ready_ud = ud;
}

void chat_redis_cluster_on_map(chat_redis_cluster *c, void (*cb)(void *ud), void *ud) {
  c->on_map = cb;
  c->map_ud = ud;
}

int chat_redis_cluster_master(const chat_redis_cluster *c, uint16_t slot, const char **host, int *port) {
  if (!c->map_read) return -1;
  int node = chat_redis_slot_map_master(&c->map, slot);
  if (node < 0) return -1;
  const node_link *l = &c->links[c->map_links[node]];
  *host = l->host;
  *port = l->port;
  return 0;
}

void chat_redis_cluster_refresh_soon(chat_redis_cluster *c) { schedule_refresh(c, REFRESH_SOON_MS); }

size_t chat_redis_cluster_masters(const chat_redis_cluster *c) {
  size_t n = 0;
  for (size_t i = 0; c->map_read && i < c->map.nnodes; i++) n += c->map.nodes[i].master < 0;
  return n;
}

void chat_redis_cluster_master_at(const chat_redis_cluster *c, size_t i, const char **host, int *port, int *up) {
  for (size_t node = 0; node < c->map.nnodes; node++) {
    if (c->map.nodes[node].master >= 0) continue;
    if (i-- > 0) continue;
    const node_link *l = &c->links[c->map_links[node]];
    *host = l->host;
    *port = l->port;
    *up = chat_redis_connected(l->link);
    return;
  }
}

unsigned long chat_redis_cluster_redirects(const chat_redis_cluster *c) { return c->redirects; }
unsigned long chat_redis_cluster_refreshes(const chat_redis_cluster *c) { return c->refreshes; }
unsigned long chat_redis_cluster_topology_changes(const chat_redis_cluster *c) { return c->topology_changes; }

unsigned long chat_redis_cluster_stalls(const chat_redis_cluster *c) {
  unsigned long n = 0;
  for (size_t i = 0; i < c->nlinks; i++) n += chat_redis_stalls(c->links[i].link);
  return n;
}

static void cluster_freed(uv_handle_t *h) {
  chat_redis_cluster *c = h->data;
  if (c->on_closed) c->on_closed(c->closed_ud);
  free(c);
}

static void link_closed(void *ud) {
  chat_redis_cluster *c = ud;
  if (--c->open_links == 0) uv_close((uv_handle_t *)&c->refresh, cluster_freed);
}

void chat_redis_cluster_close(chat_redis_cluster *c, void (*on_closed)(void *ud), void *ud) {
  c->closing = 1;
  c->on_closed = on_closed;
  c->closed_ud = ud;
  uv_timer_stop(&c->refresh);
  for (size_t i = 0; i < c->nlinks; i++) chat_redis_close(c->links[i].link, link_closed, c);
}
