/* The local subscription index: destination -> subscriptions, so a broadcast finds its
 * recipients with one hash lookup and walks a list, whatever the number of rooms.
 * It knows nothing about sockets or framing; the STOMP session layer owns delivery. */
#ifndef CHAT_BROKER_H
#define CHAT_BROKER_H

#include <stddef.h>

typedef struct chat_broker chat_broker;

typedef struct chat_sub {
  struct chat_sub *prev, *next; /* siblings on the same destination */
  struct chat_sub *session_next; /* the owning session's own list */
  struct chat_broker_dest *dest;
  void *session;
  char *id;           /* the client's subscription id */
  char *destination;  /* owned by dest; shared by its subscriptions */
} chat_sub;

chat_broker *chat_broker_new(void);
void chat_broker_free(chat_broker *b);

/* Adds a subscription; returns NULL on allocation failure. */
chat_sub *chat_broker_subscribe(chat_broker *b, const char *destination, void *session,
                                const char *id);
void chat_broker_unsubscribe(chat_broker *b, chat_sub *s);

/* Calls visit for each subscription of destination; returns how many were visited.
 * A visit must not unsubscribe anything: a session that must go (a slow consumer) is
 * closed later, from the loop, and unsubscribes then. */
typedef void (*chat_broker_visit)(chat_sub *s, void *ud);
size_t chat_broker_each(chat_broker *b, const char *destination, chat_broker_visit visit, void *ud);

size_t chat_broker_destinations(const chat_broker *b);
size_t chat_broker_subscriptions(const chat_broker *b);

#endif
