#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "hash.h"

struct chat_broker_dest {
  struct chat_broker_dest *next; /* hash chain */
  uint64_t hash;
  char *name;
  chat_sub *subs;
  size_t count;
  void *state;
};

struct chat_broker {
  chat_broker_dest **buckets;
  size_t nbuckets; /* a power of two */
  size_t ndests;
  size_t nsubs;
  void (*free_state)(void *state);
  void (*on_destination)(void *ud, const char *name, int added);
  void *destination_ud;
};

chat_broker *chat_broker_new(void (*free_state)(void *state)) {
  chat_broker *b = calloc(1, sizeof *b);
  if (b == NULL) return NULL;
  b->free_state = free_state;
  b->nbuckets = 256;
  b->buckets = calloc(b->nbuckets, sizeof *b->buckets);
  if (b->buckets == NULL) {
    free(b);
    return NULL;
  }
  return b;
}

static void free_dest(chat_broker *b, chat_broker_dest *d) {
  if (d->state && b->free_state) b->free_state(d->state);
  free(d->name);
  free(d);
}

void chat_broker_free(chat_broker *b) {
  if (b == NULL) return;
  for (size_t i = 0; i < b->nbuckets; i++) {
    chat_broker_dest *d = b->buckets[i];
    while (d) {
      chat_broker_dest *next = d->next;
      for (chat_sub *s = d->subs; s;) {
        chat_sub *n = s->next;
        free(s->id);
        free(s);
        s = n;
      }
      free_dest(b, d);
      d = next;
    }
  }
  free(b->buckets);
  free(b);
}

void chat_broker_on_destination(chat_broker *b, void (*fn)(void *ud, const char *name, int added), void *ud) {
  b->on_destination = fn;
  b->destination_ud = ud;
}

static chat_broker_dest *find_dest(const chat_broker *b, const char *name, uint64_t h) {
  for (chat_broker_dest *d = b->buckets[h & (b->nbuckets - 1)]; d; d = d->next)
    if (d->hash == h && strcmp(d->name, name) == 0) return d;
  return NULL;
}

/* Doubles the table when chains grow past one destination per bucket on average, so a
 * lookup stays O(1) with a hundred thousand rooms. */
static void maybe_grow(chat_broker *b) {
  if (b->ndests <= b->nbuckets) return;
  size_t n = b->nbuckets * 2;
  chat_broker_dest **nb = calloc(n, sizeof *nb);
  if (nb == NULL) return; /* stay correct, just slower */
  for (size_t i = 0; i < b->nbuckets; i++) {
    for (chat_broker_dest *d = b->buckets[i]; d;) {
      chat_broker_dest *next = d->next;
      d->next = nb[d->hash & (n - 1)];
      nb[d->hash & (n - 1)] = d;
      d = next;
    }
  }
  free(b->buckets);
  b->buckets = nb;
  b->nbuckets = n;
}

/* Empty destinations are dropped so memory follows the live rooms, not history. */
static void drop_dest(chat_broker *b, chat_broker_dest *d) {
  chat_broker_dest **pp = &b->buckets[d->hash & (b->nbuckets - 1)];
  while (*pp != d) pp = &(*pp)->next;
  *pp = d->next;
  free_dest(b, d);
  b->ndests--;
}

chat_sub *chat_broker_subscribe(chat_broker *b, const char *destination, void *session,
                                const char *id) {
  uint64_t h = chat_hash_str(destination);
  chat_broker_dest *d = find_dest(b, destination, h);
  if (d == NULL) {
    d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->name = strdup(destination);
    if (d->name == NULL) {
      free(d);
      return NULL;
    }
    d->hash = h;
    d->next = b->buckets[h & (b->nbuckets - 1)];
    b->buckets[h & (b->nbuckets - 1)] = d;
    b->ndests++;
    maybe_grow(b);
  }
  chat_sub *s = calloc(1, sizeof *s);
  if (s != NULL && (s->id = strdup(id)) == NULL) {
    free(s);
    s = NULL;
  }
  if (s == NULL) {
    if (d->count == 0) drop_dest(b, d);
    return NULL;
  }
  if (d->count == 0 && b->on_destination) b->on_destination(b->destination_ud, d->name, 1);
  s->session = session;
  s->dest = d;
  s->destination = d->name;
  s->next = d->subs;
  if (d->subs) d->subs->prev = s;
  d->subs = s;
  d->count++;
  b->nsubs++;
  return s;
}

void chat_broker_unsubscribe(chat_broker *b, chat_sub *s) {
  chat_broker_dest *d = s->dest;
  if (s->prev) s->prev->next = s->next;
  else d->subs = s->next;
  if (s->next) s->next->prev = s->prev;
  d->count--;
  b->nsubs--;
  free(s->id);
  free(s);
  if (d->count == 0) {
    if (b->on_destination) b->on_destination(b->destination_ud, d->name, 0);
    drop_dest(b, d);
  }
}

chat_broker_dest *chat_broker_find(chat_broker *b, const char *destination) {
  return find_dest(b, destination, chat_hash_str(destination));
}

const char *chat_broker_dest_name(const chat_broker_dest *d) { return d->name; }

void **chat_broker_dest_state(chat_broker_dest *d) { return &d->state; }

size_t chat_broker_dest_each(chat_broker_dest *d, chat_broker_visit visit, void *ud) {
  size_t n = 0;
  for (chat_sub *s = d->subs; s; s = s->next, n++) visit(s, ud);
  return n;
}

size_t chat_broker_each(chat_broker *b, const char *destination, chat_broker_visit visit, void *ud) {
  chat_broker_dest *d = chat_broker_find(b, destination);
  return d ? chat_broker_dest_each(d, visit, ud) : 0;
}

void chat_broker_each_dest(chat_broker *b, void (*fn)(chat_broker_dest *d, void *ud), void *ud) {
  for (size_t i = 0; i < b->nbuckets; i++)
    for (chat_broker_dest *d = b->buckets[i]; d; d = d->next) fn(d, ud);
}

size_t chat_broker_destinations(const chat_broker *b) { return b->ndests; }
size_t chat_broker_subscriptions(const chat_broker *b) { return b->nsubs; }
