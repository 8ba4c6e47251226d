/* What this instance listens to on Redis, and where (redis_pubsub.h). */
#include "redis_pubsub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis_cluster_map.h"
#include "redis_subscriber.h"

enum { MAX_TEMPLATES = 8, ROOM_DIGITS = 20 };

typedef struct {
  chat_redis_subscriber *sub;
  int barriers; /* confirmations awaited: the link is synced when none is */
  size_t rooms; /* rooms placed on it */
} link_state;

/* A room with local subscribers: an open-addressing table (linear probing, backward-shift
 * deletion), so 100,000 rooms cost a few MB and each lookup one probe or two. */
typedef struct {
  int64_t room; /* 0: empty slot (room ids are positive) */
  uint32_t destinations;
  int16_t link; /* where its channels are subscribed; -1: nowhere yet */
} room_entry;

struct chat_redis_pubsub {
  uv_loop_t *loop;
  chat_redis_cluster *cluster; /* NULL: one Redis, links[0] */
  int timeout_ms;
  link_state links[CHAT_REDIS_MAX_NODES];
  size_t nlinks;
  int global_link; /* where the classic channels are subscribed; -1: nowhere yet */
  char **channels;
  size_t nchannels;
  char *prefix;
  size_t prefix_len;
  char *templates[MAX_TEMPLATES];
  size_t ntemplates;
  room_entry *rooms;
  size_t rooms_cap, nrooms;
  size_t unplaced; /* wanted rooms with no link: listening has a gap */
  int reported_up;
  chat_redis_pubsub_message_cb on_message;
  void *message_ud;
  void (*on_link)(void *ud, int up);
  void *link_ud;
  unsigned long room_messages, global_messages;
  int closing;
  size_t open;
  void (*on_closed)(void *ud);
  void *closed_ud;
};

/* ---- listening, summed up for the STOMP hub ---- */

static int link_carries(const chat_redis_pubsub *ps, int link) {
  return (link == ps->global_link && ps->nchannels > 0) || ps->links[link].rooms > 0;
}

static int all_listening(const chat_redis_pubsub *ps) {
  if (ps->unplaced > 0) return 0;
  if (ps->nchannels > 0 && ps->global_link < 0) return 0;
  for (size_t i = 0; i < ps->nlinks; i++) {
    const link_state *l = &ps->links[i];
    if (chat_redis_subscriber_up(l->sub) && l->barriers == 0) continue;
    if (ps->cluster == NULL || link_carries(ps, (int)i)) return 0;
  }
  return 1;
}

static void report(chat_redis_pubsub *ps) {
  int up = all_listening(ps);
  if (up == ps->reported_up || ps->closing) return;
  ps->reported_up = up;
  if (ps->on_link) ps->on_link(ps->link_ud, up);
}

/* ---- room channels ---- */

static size_t room_channel(const char *template, int64_t room, char *out, size_t cap) {
  const char *hole = strstr(template, "{}");
  int n = snprintf(out, cap, "%.*s{%lld}%s", (int)(hole - template), template, (long long)room, hole + 2);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The room of "<anything>{<digits>}", 0 if the channel is not a room channel. */
static int64_t channel_room(const char *ch, size_t len) {
  if (len < 3 || ch[len - 1] != '}') return 0;
  size_t i = len - 1;
  int64_t room = 0, scale = 1;
  while (i > 0 && ch[i - 1] >= '0' && ch[i - 1] <= '9' && len - i <= ROOM_DIGITS - 2) {
    room += (ch[i - 1] - '0') * scale;
    scale *= 10;
    i--;
  }
  return i > 0 && ch[i - 1] == '{' && i < len - 1 ? room : 0;
}

static uint16_t room_slot(int64_t room) {
  char tag[ROOM_DIGITS];
  int n = snprintf(tag, sizeof tag, "%lld", (long long)room);
  return chat_redis_key_slot(tag, (size_t)n);
}

/* SSUBSCRIBE or SUNSUBSCRIBE every channel of a room, in one command (one slot). */
static void room_command(chat_redis_pubsub *ps, int link, int64_t room, const char *verb) {
  if (link < 0 || !chat_redis_subscriber_up(ps->links[link].sub)) return;
  char names[MAX_TEMPLATES][256];
  const char *argv[MAX_TEMPLATES + 1] = {verb};
  size_t argvlen[MAX_TEMPLATES + 1] = {strlen(verb)};
  int argc = 1;
  for (size_t t = 0; t < ps->ntemplates; t++) {
    size_t n = room_channel(ps->templates[t], room, names[t], sizeof names[t]);
    if (n == 0) continue;
    argv[argc] = names[t];
    argvlen[argc++] = n;
  }
  chat_redis_subscriber_send(ps->links[link].sub, argc, argv, argvlen);
}

static room_entry *room_find(chat_redis_pubsub *ps, int64_t room) {
  if (ps->rooms_cap == 0) return NULL;
  for (size_t i = (size_t)room & (ps->rooms_cap - 1);; i = (i + 1) & (ps->rooms_cap - 1)) {
    if (ps->rooms[i].room == room) return &ps->rooms[i];
    if (ps->rooms[i].room == 0) return NULL;
  }
}

static room_entry *room_insert(chat_redis_pubsub *ps, int64_t room) {
  if ((ps->nrooms + 1) * 2 > ps->rooms_cap) {
    size_t cap = ps->rooms_cap ? ps->rooms_cap * 2 : 64;
    room_entry *t = calloc(cap, sizeof *t);
    if (t == NULL) return NULL;
    for (size_t i = 0; i < ps->rooms_cap; i++) {
      if (ps->rooms[i].room == 0) continue;
      size_t j = (size_t)ps->rooms[i].room & (cap - 1);
      while (t[j].room) j = (j + 1) & (cap - 1);
      t[j] = ps->rooms[i];
    }
    free(ps->rooms);
    ps->rooms = t;
    ps->rooms_cap = cap;
  }
  size_t i = (size_t)room & (ps->rooms_cap - 1);
  while (ps->rooms[i].room) i = (i + 1) & (ps->rooms_cap - 1);
  ps->rooms[i] = (room_entry){room, 0, -1};
  ps->nrooms++;
  return &ps->rooms[i];
}

static void room_remove(chat_redis_pubsub *ps, room_entry *e) {
  size_t mask = ps->rooms_cap - 1, i = (size_t)(e - ps->rooms);
  /* Backward shift: later entries of the same run move up, so no tombstone is needed. */
  for (size_t j = (i + 1) & mask; ps->rooms[j].room; j = (j + 1) & mask) {
    size_t home = (size_t)ps->rooms[j].room & mask;
    if (((j - home) & mask) >= ((j - i) & mask)) {
      ps->rooms[i] = ps->rooms[j];
      i = j;
    }
  }
  ps->rooms[i].room = 0;
  ps->nrooms--;
}

/* Moves a room's record to another link (-1: none), keeping the counts. */
static void place(chat_redis_pubsub *ps, room_entry *e, int link) {
  if (e->link < 0) ps->unplaced--;
  else ps->links[e->link].rooms--;
  e->link = (int16_t)link;
  if (link < 0) ps->unplaced++;
  else ps->links[link].rooms++;
}

/* ---- links ---- */

static void on_sub_message(void *ud, int sharded, const char *ch, size_t chlen, const char *payload, size_t plen);
static void on_sub_link(void *ud, chat_redis_subscriber *s, int up);
static void on_sub_unsubscribed(void *ud, chat_redis_subscriber *s, const char *ch, size_t len);
static void on_sub_error(void *ud, chat_redis_subscriber *s, const char *text, size_t len);
static void on_sub_barrier(void *ud, chat_redis_subscriber *s);

static const chat_redis_subscriber_events sub_events = {on_sub_message, on_sub_link, on_sub_unsubscribed,
                                                        on_sub_error, on_sub_barrier};

static int link_to(chat_redis_pubsub *ps, const char *host, int port) {
  for (size_t i = 0; i < ps->nlinks; i++)
    if (chat_redis_subscriber_port(ps->links[i].sub) == port && strcmp(chat_redis_subscriber_host(ps->links[i].sub), host) == 0)
      return (int)i;
  if (ps->nlinks == CHAT_REDIS_MAX_NODES) return -1;
  chat_redis_subscriber *s = chat_redis_subscriber_new(ps->loop, host, port, ps->timeout_ms, &sub_events, ps);
  if (s == NULL) return -1;
  ps->links[ps->nlinks] = (link_state){s, 0, 0};
  ps->open++;
  return (int)ps->nlinks++;
}

static int link_index(const chat_redis_pubsub *ps, const chat_redis_subscriber *s) {
  for (size_t i = 0; i < ps->nlinks; i++)
    if (ps->links[i].sub == s) return (int)i;
  return -1;
}

/* The link a slot's channels belong on now: the one Redis, or the slot's master. */
static int link_for_slot(chat_redis_pubsub *ps, uint16_t slot) {
  if (ps->cluster == NULL) return 0;
  const char *host;
  int port;
  if (chat_redis_cluster_master(ps->cluster, slot, &host, &port) < 0) return -1;
  return link_to(ps, host, port);
}

/* After commands that change what a link listens to: synced once it has answered them. */
static void confirm(chat_redis_pubsub *ps, int link) {
  if (link >= 0 && chat_redis_subscriber_barrier(ps->links[link].sub) == 0) ps->links[link].barriers++;
}

static void subscribe_globals(chat_redis_pubsub *ps, int link, const char *verb) {
  for (size_t i = 0; i < ps->nchannels; i++) {
    const char *argv[2] = {verb, ps->channels[i]};
    size_t argvlen[2] = {strlen(verb), strlen(ps->channels[i])};
    chat_redis_subscriber_send(ps->links[link].sub, 2, argv, argvlen);
  }
}

/* Puts the classic channels and every room on the link it belongs on now; those that
 * move are unsubscribed where they were. */
static void place_all(chat_redis_pubsub *ps) {
  int g = ps->nchannels > 0 ? link_for_slot(ps, 0) : ps->global_link;
  if (g != ps->global_link) {
    if (ps->global_link >= 0 && chat_redis_subscriber_up(ps->links[ps->global_link].sub))
      subscribe_globals(ps, ps->global_link, "UNSUBSCRIBE");
    ps->global_link = g;
    if (g >= 0 && chat_redis_subscriber_up(ps->links[g].sub)) {
      subscribe_globals(ps, g, "SUBSCRIBE");
      confirm(ps, g);
    }
  }
  for (size_t i = 0; i < ps->rooms_cap; i++) {
    room_entry *e = &ps->rooms[i];
    if (e->room == 0) continue;
    int to = link_for_slot(ps, room_slot(e->room));
    if (to == e->link) continue;
    room_command(ps, e->link, e->room, "SUNSUBSCRIBE");
    place(ps, e, to);
    if (to < 0) continue;
    room_command(ps, to, e->room, "SSUBSCRIBE");
    confirm(ps, to);
  }
  report(ps);
}

static void on_map(void *ud) { place_all(ud); }

static void on_sub_link(void *ud, chat_redis_subscriber *s, int up) {
  chat_redis_pubsub *ps = ud;
  int link = link_index(ps, s);
  if (link < 0) return;
  ps->links[link].barriers = 0;
  if (up) {
    if (link == ps->global_link) subscribe_globals(ps, link, "SUBSCRIBE");
    for (size_t i = 0; i < ps->rooms_cap; i++)
      if (ps->rooms[i].room && ps->rooms[i].link == link) room_command(ps, link, ps->rooms[i].room, "SSUBSCRIBE");
    confirm(ps, link);
  } else if (ps->cluster) {
    /* A master lost may be failing over: its replica's promotion shows in the map. */
    chat_redis_cluster_refresh_soon(ps->cluster);
  }
  report(ps);
}

static void on_sub_barrier(void *ud, chat_redis_subscriber *s) {
  chat_redis_pubsub *ps = ud;
  int link = link_index(ps, s);
  if (link >= 0 && ps->links[link].barriers > 0) ps->links[link].barriers--;
  report(ps);
}

/* Unsubscribed from a room channel: our own SUNSUBSCRIBE answered (the room left or moved
 * already), or Redis dropping it because the slot moved away from that node. In the
 * second case the room is wanted on this very link still: it waits for the map. */
static void on_sub_unsubscribed(void *ud, chat_redis_subscriber *s, const char *ch, size_t len) {
  chat_redis_pubsub *ps = ud;
  room_entry *e = room_find(ps, channel_room(ch, len));
  if (e == NULL || e->link != link_index(ps, s)) return;
  chat_log_info("redis", "%.*s was dropped by %s:%d (its slot moved); subscribing where it is now", (int)len, ch,
                chat_redis_subscriber_host(s), chat_redis_subscriber_port(s));
  place(ps, e, -1);
  report(ps);
  if (ps->cluster) chat_redis_cluster_refresh_soon(ps->cluster);
  else place_all(ps);
}

static void on_sub_error(void *ud, chat_redis_subscriber *s, const char *text, size_t len) {
  chat_redis_pubsub *ps = ud;
  chat_redis_redirect to;
  if (chat_redis_redirect_parse(text, len, &to) == CHAT_REDIS_MOVED) {
    /* An SSUBSCRIBE reached a node that no longer owns the slot: every room of that slot
     * placed on this link waits for the map. */
    int link = link_index(ps, s);
    for (size_t i = 0; i < ps->rooms_cap; i++) {
      room_entry *e = &ps->rooms[i];
      if (e->room && e->link == link && room_slot(e->room) == to.slot) place(ps, e, -1);
    }
    report(ps);
    if (ps->cluster) chat_redis_cluster_refresh_soon(ps->cluster);
    return;
  }
  chat_log_warn("redis", "Pub/Sub link to %s:%d: Redis answered %.*s", chat_redis_subscriber_host(s),
                chat_redis_subscriber_port(s), (int)len, text);
}

static void on_sub_message(void *ud, int sharded, const char *ch, size_t chlen, const char *payload, size_t plen) {
  chat_redis_pubsub *ps = ud;
  if (sharded) ps->room_messages++;
  else ps->global_messages++;
  if (ps->on_message) ps->on_message(ch, chlen, payload, plen, ps->message_ud);
}

/* ---- the interface ---- */

chat_redis_pubsub *chat_redis_pubsub_new(uv_loop_t *loop, const char *host, int port, chat_redis_cluster *cluster,
                                         int timeout_ms) {
  chat_redis_pubsub *ps = calloc(1, sizeof *ps);
  if (ps == NULL) return NULL;
  ps->loop = loop;
  ps->cluster = cluster;
  ps->timeout_ms = timeout_ms;
  ps->global_link = -1;
  if (cluster) chat_redis_cluster_on_map(cluster, on_map, ps);
  else if (link_to(ps, host, port) < 0) {
    free(ps);
    return NULL;
  }
  return ps;
}

void chat_redis_pubsub_on_message(chat_redis_pubsub *ps, chat_redis_pubsub_message_cb cb, void *ud) {
  ps->on_message = cb;
  ps->message_ud = ud;
}

void chat_redis_pubsub_on_link(chat_redis_pubsub *ps, void (*cb)(void *ud, int up), void *ud) {
  ps->on_link = cb;
  ps->link_ud = ud;
}

void chat_redis_pubsub_set_channels(chat_redis_pubsub *ps, const char *const *channels, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int known = 0;
    for (size_t j = 0; j < ps->nchannels; j++) known |= strcmp(ps->channels[j], channels[i]) == 0;
    if (known) continue;
    char **grown = realloc(ps->channels, (ps->nchannels + 1) * sizeof *grown);
    if (grown == NULL) return;
    ps->channels = grown;
    ps->channels[ps->nchannels++] = strdup(channels[i]);
    chat_log_info("redis", "subscribing to %s", channels[i]);
    int g = ps->global_link;
    if (g >= 0 && chat_redis_subscriber_up(ps->links[g].sub)) {
      const char *argv[2] = {"SUBSCRIBE", channels[i]};
      size_t argvlen[2] = {9, strlen(channels[i])};
      chat_redis_subscriber_send(ps->links[g].sub, 2, argv, argvlen);
      confirm(ps, g);
    }
  }
  place_all(ps);
}

int chat_redis_pubsub_set_rooms(chat_redis_pubsub *ps, const char *prefix, const char *const *templates, size_t n) {
  if (n > MAX_TEMPLATES || (n > 0 && (prefix == NULL || prefix[0] == '\0'))) return -1;
  for (size_t t = 0; t < n; t++) {
    const char *hole = strstr(templates[t], "{}");
    if (hole == NULL || strstr(hole + 2, "{") != NULL || hole != strchr(templates[t], '{') ||
        strlen(templates[t]) > 200)
      return -1;
  }
  int same = n == ps->ntemplates && (n == 0 || strcmp(prefix, ps->prefix) == 0);
  for (size_t t = 0; same && t < n; t++) same = strcmp(templates[t], ps->templates[t]) == 0;
  if (same) return 0;
  if (ps->nrooms > 0) return -1; /* rooms already subscribed under the old names */
  for (size_t t = 0; t < ps->ntemplates; t++) free(ps->templates[t]);
  free(ps->prefix);
  ps->prefix = n ? strdup(prefix) : NULL;
  ps->prefix_len = n ? strlen(prefix) : 0;
  for (size_t t = 0; t < n; t++) ps->templates[t] = strdup(templates[t]);
  ps->ntemplates = n;
  return 0;
}

/* The room a destination belongs to, 0 for none. */
static int64_t destination_room(const chat_redis_pubsub *ps, const char *d) {
  if (ps->ntemplates == 0 || strncmp(d, ps->prefix, ps->prefix_len) != 0) return 0;
  const char *p = d + ps->prefix_len;
  int64_t room = 0;
  size_t digits = 0;
  for (; *p >= '0' && *p <= '9' && digits < ROOM_DIGITS - 2; p++, digits++) room = room * 10 + (*p - '0');
  return digits > 0 && (*p == '\0' || *p == '/') ? room : 0;
}

void chat_redis_pubsub_destination(chat_redis_pubsub *ps, const char *destination, int added) {
  int64_t room = destination_room(ps, destination);
  if (room <= 0 || ps->closing) return;
  room_entry *e = room_find(ps, room);
  if (added) {
    if (e == NULL) {
      e = room_insert(ps, room);
      if (e == NULL) {
        chat_log_error("redis", "out of memory: room %lld is not subscribed on Redis", (long long)room);
        return;
      }
      ps->unplaced++; /* as place() expects of a new record */
      int to = link_for_slot(ps, room_slot(room));
      place(ps, e, to);
      room_command(ps, to, room, "SSUBSCRIBE");
    }
    e->destinations++;
    return;
  }
  if (e == NULL || --e->destinations > 0) return;
  room_command(ps, e->link, room, "SUNSUBSCRIBE");
  place(ps, e, -1);
  ps->unplaced--;
  room_remove(ps, e);
  report(ps);
}

void chat_redis_pubsub_stats_get(const chat_redis_pubsub *ps, chat_redis_pubsub_stats *out) {
  out->room_channels = ps->nrooms * ps->ntemplates;
  out->global_channels = ps->nchannels;
  out->room_messages = ps->room_messages;
  out->global_messages = ps->global_messages;
  out->stalls = 0;
  for (size_t i = 0; i < ps->nlinks; i++) out->stalls += chat_redis_subscriber_stalls(ps->links[i].sub);
  out->up = all_listening(ps);
}

size_t chat_redis_pubsub_links(const chat_redis_pubsub *ps) {
  size_t n = 0;
  for (size_t i = 0; i < ps->nlinks; i++) n += ps->cluster == NULL || link_carries(ps, (int)i);
  return n;
}

void chat_redis_pubsub_link_at(const chat_redis_pubsub *ps, size_t i, const char **host, int *port, int *up) {
  for (size_t l = 0; l < ps->nlinks; l++) {
    if (ps->cluster != NULL && !link_carries(ps, (int)l)) continue;
    if (i-- > 0) continue;
    *host = chat_redis_subscriber_host(ps->links[l].sub);
    *port = chat_redis_subscriber_port(ps->links[l].sub);
    *up = chat_redis_subscriber_up(ps->links[l].sub);
    return;
  }
}

void chat_redis_pubsub_reset(chat_redis_pubsub *ps) {
  for (size_t i = 0; i < ps->nlinks; i++) chat_redis_subscriber_reset(ps->links[i].sub);
}

static void link_closed(void *ud) {
  chat_redis_pubsub *ps = ud;
  if (--ps->open > 0) return;
  if (ps->on_closed) ps->on_closed(ps->closed_ud);
  for (size_t i = 0; i < ps->nchannels; i++) free(ps->channels[i]);
  free(ps->channels);
  for (size_t t = 0; t < ps->ntemplates; t++) free(ps->templates[t]);
  free(ps->prefix);
  free(ps->rooms);
  free(ps);
}

void chat_redis_pubsub_close(chat_redis_pubsub *ps, void (*on_closed)(void *ud), void *ud) {
  ps->closing = 1;
  ps->on_closed = on_closed;
  ps->closed_ud = ud;
  if (ps->cluster) chat_redis_cluster_on_map(ps->cluster, NULL, NULL);
  if (ps->nlinks == 0) {
    ps->open = 1;
    link_closed(ps);
    return;
  }
  for (size_t i = 0; i < ps->nlinks; i++) chat_redis_subscriber_close(ps->links[i].sub, link_closed, ps);
}
