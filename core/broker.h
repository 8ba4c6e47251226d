/* The local subscription index: destination -> subscriptions, so a broadcast finds its
 * recipients with one hash lookup and walks a list, whatever the number of rooms.
 * It knows nothing about sockets or framing; the STOMP session layer owns delivery. */
#ifndef CHAT_BROKER_H
#define CHAT_BROKER_H

#include <stddef.h>

typedef struct chat_broker chat_broker;
typedef struct chat_broker_dest chat_broker_dest;

typedef struct chat_sub {
  struct chat_sub *prev, *next; /* siblings on the same destination */
  struct chat_sub *session_next; /* the owning session's own list */
  struct chat_broker_dest *dest;
  void *session;
  char *id;           /* the client's subscription id */
  char *destination;  /* owned by dest; shared by its subscriptions */
  void *replay;       /* the session layer's resume state; it frees it before unsubscribing */
} chat_sub;

/* free_state (may be NULL) frees what a destination's state slot holds when the
 * destination is dropped (its last subscription gone) or the broker freed. */
chat_broker *chat_broker_new(void (*free_state)(void *state));
void chat_broker_free(chat_broker *b);

/* fn(ud, name, 1) when a destination gets its first subscription, fn(ud, name, 0) when
 * its last goes (Redis room channels follow the rooms with local subscribers). */
void chat_broker_on_destination(chat_broker *b, void (*fn)(void *ud, const char *name, int added), void *ud);

/* Adds a subscription; returns NULL on allocation failure. */
chat_sub *chat_broker_subscribe(chat_broker *b, const char *destination, void *session,
                                const char *id);
void chat_broker_unsubscribe(chat_broker *b, chat_sub *s);

/* Calls visit for each subscription of destination; returns how many were visited.
 * A visit must not unsubscribe anything: a session that must go (a slow consumer) is
 * closed later, from the loop, and unsubscribes then. */
typedef void (*chat_broker_visit)(chat_sub *s, void *ud);
size_t chat_broker_each(chat_broker *b, const char *destination, chat_broker_visit visit, void *ud);

/* One destination: its subscriptions, and a slot for its owner's per-destination state. */
chat_broker_dest *chat_broker_find(chat_broker *b, const char *destination);
const char *chat_broker_dest_name(const chat_broker_dest *d);
void **chat_broker_dest_state(chat_broker_dest *d);
size_t chat_broker_dest_each(chat_broker_dest *d, chat_broker_visit visit, void *ud);

/* Calls fn for every destination; fn must not subscribe or unsubscribe. */
void chat_broker_each_dest(chat_broker *b, void (*fn)(chat_broker_dest *d, void *ud), void *ud);

size_t chat_broker_destinations(const chat_broker *b);
size_t chat_broker_subscriptions(const chat_broker *b);

#endif
