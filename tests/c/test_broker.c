/* The subscription index: lookups by destination, removal, and that memory follows the
 * live destinations (empty ones are dropped, the table grows past its first size). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "check.h"

static void count_visit(chat_sub *s, void *ud) {
  (void)s;
  (*(int *)ud)++;
}

static void collect_ids(chat_sub *s, void *ud) {
  char *out = ud;
  strcat(out, s->id);
  strcat(out, ",");
}

int main(void) {
  chat_broker *b = chat_broker_new(NULL);
  int session_a, session_b;
  chat_sub *a1 = chat_broker_subscribe(b, "/topic/chatroom/1", &session_a, "sub-0");
  chat_sub *b1 = chat_broker_subscribe(b, "/topic/chatroom/1", &session_b, "sub-7");
  chat_sub *a2 = chat_broker_subscribe(b, "/topic/chatroom/2", &session_a, "sub-1");
  CHECK(a1 && b1 && a2);
  CHECK(chat_broker_destinations(b) == 2);
  CHECK(chat_broker_subscriptions(b) == 3);

  char ids[256] = "";
  CHECK(chat_broker_each(b, "/topic/chatroom/1", collect_ids, ids) == 2);
  CHECK(strstr(ids, "sub-0,") && strstr(ids, "sub-7,"));
  CHECK(b1->session == &session_b);
  CHECK_STR(a2->destination, "/topic/chatroom/2");
  CHECK(chat_broker_each(b, "/topic/chatroom/3", collect_ids, ids) == 0);

  chat_broker_unsubscribe(b, a1);
  ids[0] = '\0';
  CHECK(chat_broker_each(b, "/topic/chatroom/1", collect_ids, ids) == 1);
  CHECK_STR(ids, "sub-7,");
  chat_broker_unsubscribe(b, b1);
  CHECK(chat_broker_destinations(b) == 1); /* the empty destination is gone */
  CHECK(chat_broker_each(b, "/topic/chatroom/1", collect_ids, ids) == 0);

  /* Many destinations: the table grows and every lookup still finds its subscribers. */
  enum { N = 5000 };
  static chat_sub *subs[N];
  for (int i = 0; i < N; i++) {
    char dest[64];
    snprintf(dest, sizeof dest, "/topic/chatroom/%d", 1000 + i);
    subs[i] = chat_broker_subscribe(b, dest, &session_a, "x");
  }
  CHECK(chat_broker_destinations(b) == N + 1);
  int found = 0;
  for (int i = 0; i < N; i++) {
    char dest[64];
    snprintf(dest, sizeof dest, "/topic/chatroom/%d", 1000 + i);
    chat_broker_each(b, dest, count_visit, &found);
  }
  CHECK(found == N);
  for (int i = 0; i < N; i += 2) chat_broker_unsubscribe(b, subs[i]);
  CHECK(chat_broker_subscriptions(b) == N / 2 + 1);
  chat_broker_free(b); /* frees the rest; ASan checks nothing leaks */
  CHECK_DONE();
}
