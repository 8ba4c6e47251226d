/* The per-destination record of delivered chat message ids: the recent window, the
 * keep-everything mode of an outage, and the floor a catch-up starts after. */
#include "check.h"
#include "message_ids.h"

int main(void) {
  chat_message_ids m = {0};
  CHECK(chat_message_ids_floor(&m) == 0);
  CHECK(!chat_message_ids_contains(&m, 1));

  /* A window: the latest CHAT_MESSAGE_IDS_WINDOW ids, slightly out of order as concurrent
   * commits deliver them. */
  for (uint64_t id = 100; id < 100 + 2 * CHAT_MESSAGE_IDS_WINDOW; id += 2) CHECK(chat_message_ids_add(&m, id) == 0);
  CHECK(chat_message_ids_add(&m, 99) == 0); /* a late one */
  CHECK(m.len == CHAT_MESSAGE_IDS_WINDOW);
  CHECK(chat_message_ids_contains(&m, 99));
  CHECK(!chat_message_ids_contains(&m, 100)); /* pushed out by the late one */
  CHECK(chat_message_ids_contains(&m, 102));
  CHECK(!chat_message_ids_contains(&m, 103));
  CHECK(!chat_message_ids_contains(&m, 10000));
  CHECK(chat_message_ids_floor(&m) == 99);

  /* An outage: every id is kept, the window's floor stays where it was. */
  chat_message_ids_keep_all(&m, 1);
  for (uint64_t id = 1000; id < 1000 + 10 * CHAT_MESSAGE_IDS_WINDOW; id++) CHECK(chat_message_ids_add(&m, id) == 0);
  CHECK(chat_message_ids_floor(&m) == 99);
  CHECK(chat_message_ids_contains(&m, 1000));
  CHECK(chat_message_ids_contains(&m, 102));

  /* Back to the window: only the latest are kept. */
  chat_message_ids_keep_all(&m, 0);
  CHECK(m.len == CHAT_MESSAGE_IDS_WINDOW);
  CHECK(!chat_message_ids_contains(&m, 1000));
  CHECK(chat_message_ids_contains(&m, 1000 + 10 * CHAT_MESSAGE_IDS_WINDOW - 1));
  CHECK(chat_message_ids_floor(&m) == 1000 + 9 * CHAT_MESSAGE_IDS_WINDOW);

  /* The cap of an endless outage drops the older half, not everything. */
  chat_message_ids_keep_all(&m, 1);
  for (uint64_t id = 1; id <= CHAT_MESSAGE_IDS_MAX_KEPT + 10; id++) CHECK(chat_message_ids_add(&m, 100000 + id) == 0);
  CHECK(m.len <= CHAT_MESSAGE_IDS_MAX_KEPT);
  CHECK(m.len > CHAT_MESSAGE_IDS_MAX_KEPT / 2);
  CHECK(chat_message_ids_contains(&m, 100000 + CHAT_MESSAGE_IDS_MAX_KEPT + 10));

  chat_message_ids_free(&m);
  CHECK(m.len == 0 && m.ids == NULL);
  CHECK_DONE();
}
