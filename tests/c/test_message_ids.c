/* The per-destination record of delivered chat message ids: sorted lookups whatever the
 * arrival order, the time window, the keep-everything mode of an outage, and the floor a
 * catch-up replays after; and the hub's record of every room's recent ids. */
#include "check.h"
#include "message_ids.h"

enum { W = CHAT_MESSAGE_IDS_WINDOW_MS, F = CHAT_MESSAGE_IDS_FLOOR_MS };

int main(void) {
  chat_message_ids m = {0};
  CHECK(chat_message_ids_floor(&m, 0) == 0);
  CHECK(!chat_message_ids_contains(&m, 1));

  /* Out of id order, as batches of concurrent commits arrive: 200..299, then 100..199. */
  uint64_t t = 1000000;
  for (uint64_t id = 200; id < 300; id++) CHECK(chat_message_ids_add(&m, id, t) == 0);
  for (uint64_t id = 100; id < 200; id++) CHECK(chat_message_ids_add(&m, id, t + 10) == 0);
  CHECK(chat_message_ids_add(&m, 150, t + 10) == 0 && m.len == 200); /* once */
  for (size_t i = 1; i < m.len; i++) CHECK(m.ids[i - 1].id < m.ids[i].id);
  CHECK(chat_message_ids_contains(&m, 100) && chat_message_ids_contains(&m, 299));
  CHECK(!chat_message_ids_contains(&m, 300) && !chat_message_ids_contains(&m, 99));
  CHECK(chat_message_ids_floor(&m, t + 10) == 100);

  /* The floor looks back F ms only (a catch-up replays seconds, not the whole window)... */
  CHECK(chat_message_ids_add(&m, 400, t + F + 20) == 0);
  CHECK(chat_message_ids_floor(&m, t + F + 20) == 400);
  CHECK(chat_message_ids_contains(&m, 250)); /* ...while lookups remember W ms */
  /* With nothing given in the last F ms, a replay starts after the largest ever given. */
  CHECK(chat_message_ids_floor(&m, t + 3 * F) == 400);

  /* The window moves on: ids given more than W ms ago are forgotten. */
  CHECK(chat_message_ids_add(&m, 401, t + W + 20) == 0);
  CHECK(!chat_message_ids_contains(&m, 250) && !chat_message_ids_contains(&m, 150));
  CHECK(chat_message_ids_contains(&m, 400) && chat_message_ids_contains(&m, 401));

  /* An outage: every id is kept however old, and the floor found before it stays valid. */
  uint64_t floor = chat_message_ids_floor(&m, t + W + 20);
  chat_message_ids_keep_all(&m, 1, 0);
  for (uint64_t id = 1000; id < 1100; id++) CHECK(chat_message_ids_add(&m, id, t + 10 * W + id) == 0);
  CHECK(floor == 401);
  CHECK(chat_message_ids_contains(&m, 400) && chat_message_ids_contains(&m, 1000));

  /* Back to the window: only what was given in its last W ms is kept. */
  chat_message_ids_keep_all(&m, 0, t + 10 * W + 1099 + W - 50);
  CHECK(!chat_message_ids_contains(&m, 401) && !chat_message_ids_contains(&m, 1000));
  CHECK(chat_message_ids_contains(&m, 1099));

  /* The bound of an endless outage drops the older half, not everything. */
  chat_message_ids_keep_all(&m, 1, 0);
  for (uint64_t id = 1; id <= CHAT_MESSAGE_IDS_MAX_KEPT + 10; id++) CHECK(chat_message_ids_add(&m, 100000 + id, t) == 0);
  CHECK(m.len <= CHAT_MESSAGE_IDS_MAX_KEPT && m.len > CHAT_MESSAGE_IDS_MAX_KEPT / 2);
  CHECK(chat_message_ids_contains(&m, 100000 + CHAT_MESSAGE_IDS_MAX_KEPT + 10));

  chat_message_ids_free(&m);
  CHECK(m.len == 0 && m.ids == NULL);

  /* Every room's recent ids: the smallest of the last F ms (to the second), else the
   * largest ever seen. */
  chat_recent_ids r = {{0}, {0}, 0};
  CHECK(chat_recent_ids_floor(&r, t) == 0);
  chat_recent_ids_add(&r, 500, t);
  chat_recent_ids_add(&r, 480, t + 100); /* out of order */
  chat_recent_ids_add(&r, 520, t + 1000);
  CHECK(chat_recent_ids_floor(&r, t + 1000) == 480);
  CHECK(chat_recent_ids_floor(&r, t + F + 1000) == 520); /* the first second has gone */
  CHECK(chat_recent_ids_floor(&r, t + 10 * F) == 520);   /* none lately: the largest */
  chat_recent_ids_add(&r, 530, t + 10 * F);
  CHECK(chat_recent_ids_floor(&r, t + 10 * F) == 530);   /* a slot reused starts afresh */
  CHECK_DONE();
}
