/* The hub: every STOMP session of the process, the broker that indexes their
 * subscriptions, fan-out of one encoded body to every subscriber (core/broker.c finds
 * them), and one 1-second sweep for heart-beats, stalled writers and expired credentials,
 * so an idle session costs no timer of its own. One session's protocol is
 * core/stomp_session.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "redis_pubsub.h"
#include "stomp_session_internal.h"

/* ---- fan-out ---- */

enum { COMMON_HEADERS = 2 * (CHAT_STOMP_MAX_EXTRA_HEADERS + 3) };

/* What every recipient of one message shares: the body, the destination they see, and
 * the headers after the per-subscriber ones. Built once per message, not per recipient. */
typedef struct {
  chat_stomp_hub *hub;
  chat_shared_buf *body; /* body + NUL */
  const char *destination;
  const char *common[COMMON_HEADERS + 1];
  uint64_t message_id;
  int replayed; /* past the subscription's hold: its resume is delivering this */
  size_t deliveries;
  size_t head_bytes; /* summed here, added to the metrics once per message */
} fanout;

void chat_stomp_session_write(chat_stomp_session *s, const char *head, size_t head_len, chat_shared_buf *body) {
  chat_stomp_hub *hub = s->hub;
  s->ops->send(s->transport, head, head_len, body);
  s->last_sent_ms = chat_stomp_now_ms(hub);
  if (s->ops->queued(s->transport) > hub->limits.max_queued_bytes) {
    chat_log_warn("stomp", "session %s: %zu bytes queued, dropping the slow consumer", s->id,
                  s->ops->queued(s->transport));
    chat_metrics.stomp_slow_consumers++;
    chat_stomp_session_close(s);
  }
}

static void deliver(chat_sub *sub, void *ud) {
  fanout *fo = ud;
  chat_stomp_session *s = sub->session;
  if (s->closing || s->gone) return;
  chat_sub_replay *r = sub->replay;
  /* Its resume replayed this message already: a live copy arriving late is not repeated. */
  if (r && !fo->replayed && fo->message_id && chat_message_ids_contains(&r->given, fo->message_id)) return;
  char msgid[48];
  snprintf(msgid, sizeof msgid, "%s-%llu", s->id, (unsigned long long)s->message_seq++);
  const char *headers[6 + COMMON_HEADERS + 1] = {"destination", fo->destination, "subscription", sub->id,
                                                 "message-id", msgid};
  memcpy(headers + 6, fo->common, sizeof fo->common);
  char head[2048];
  size_t n = chat_stomp_encode_head(head, sizeof head, s->version, "MESSAGE", headers);
  if (n > sizeof head) return; /* headers this long are a programming error upstream */
  if (r && r->holding && !fo->replayed) {
    chat_stomp_resume_hold(s, sub, fo->message_id, head, n, fo->body); /* counted when written */
    return;
  }
  chat_stomp_session_write(s, head, n, fo->body);
  fo->head_bytes += n;
  fo->deliveries++;
}

/* Prepares what the recipients of m share; 0 when out of memory. */
static int fanout_init(fanout *fo, chat_stomp_hub *hub, const chat_stomp_message *m, char *cl, size_t cl_cap) {
  *fo = (fanout){.hub = hub, .destination = m->destination, .message_id = m->message_id};
  fo->body = chat_shared_buf_new(NULL, m->body_len + 1); /* + the frame's NUL */
  if (fo->body == NULL) return 0;
  memcpy(fo->body->data, m->body, m->body_len);
  fo->body->data[m->body_len] = '\0';
  snprintf(cl, cl_cap, "%zu", m->body_len);
  int h = 0, has_type = 0;
  for (const char *const *e = m->headers; e && e[0] && h < 2 * CHAT_STOMP_MAX_EXTRA_HEADERS; e += 2) {
    has_type |= strcmp(e[0], "content-type") == 0;
    fo->common[h++] = e[0], fo->common[h++] = e[1];
  }
  if (!has_type) fo->common[h++] = "content-type", fo->common[h++] = "application/json";
  fo->common[h++] = "content-length", fo->common[h++] = cl;
  fo->common[h] = NULL;
  return 1;
}

static void fanout_done(fanout *fo) {
  chat_metrics.stomp_deliveries += fo->deliveries;
  chat_metrics.stomp_frames_out += fo->deliveries;
  chat_metrics.stomp_bytes_out += fo->head_bytes + fo->deliveries * fo->body->len;
  chat_shared_buf_release(fo->body);
}

size_t chat_stomp_fan_out(chat_stomp_hub *hub, chat_broker_dest *d, const chat_stomp_message *m) {
  char cl[24];
  fanout fo;
  if (!fanout_init(&fo, hub, m, cl, sizeof cl)) return 0;
  chat_broker_dest_each(d, deliver, &fo);
  size_t n = fo.deliveries;
  fanout_done(&fo);
  return n;
}

void chat_stomp_deliver_replayed(chat_stomp_hub *hub, chat_sub *sub, const chat_stomp_message *m) {
  char cl[24];
  fanout fo;
  if (!fanout_init(&fo, hub, m, cl, sizeof cl)) return;
  fo.replayed = 1;
  deliver(sub, &fo);
  fanout_done(&fo);
}

size_t chat_stomp_hub_broadcast(chat_stomp_hub *hub, const char *destination, const char *body,
                                size_t body_len, const char *const *headers, uint64_t message_id) {
  if (message_id) chat_recent_ids_add(&hub->recent, message_id, chat_stomp_now_ms(hub));
  chat_broker_dest *d = chat_broker_find(hub->broker, destination);
  if (d == NULL) return 0;
  chat_stomp_message m = {destination, body, body_len, headers, message_id};
  if (message_id && chat_stomp_catch_up_screen(hub, d, &m)) return 0;
  return chat_stomp_fan_out(hub, d, &m);
}

int chat_stomp_hub_has_subscribers(chat_stomp_hub *hub, const char *destination) {
  return chat_broker_find(hub->broker, destination) != NULL;
}

size_t chat_stomp_hub_send_to_session(chat_stomp_hub *hub, const char *session_id,
                                      const char *destination, const char *body, size_t body_len,
                                      const char *const *headers) {
  char key[1024];
  chat_stomp_session_key(key, sizeof key, destination, session_id);
  chat_broker_dest *d = chat_broker_find(hub->broker, key);
  if (d == NULL) return 0;
  chat_stomp_message m = {destination, body, body_len, headers, 0};
  return chat_stomp_fan_out(hub, d, &m);
}

/* ---- the sweep: heart-beats, stalled writers and expired credentials, once a second ---- */

static void sweep(uv_timer_t *t) {
  chat_stomp_hub *hub = t->data;
  uint64_t now = chat_stomp_now_ms(hub);
  double wall = (double)time(NULL);
  for (chat_stomp_session *s = hub->sessions; s; s = s->next) {
    if (s->closing || s->gone) continue;
    /* A session lives no longer than the token it connected with: the client reconnects
     * with a fresh one. */
    if (s->expires_at > 0 && wall >= s->expires_at) {
      chat_stomp_session_error(s, "unauthorized: token expired", NULL, NULL);
      continue;
    }
    if (s->ops->queued(s->transport) > 0) {
      if (now - s->last_progress_ms > hub->limits.max_stall_ms) {
        chat_log_warn("stomp", "session %s: no write progress for %llu ms, dropping it", s->id,
                      (unsigned long long)(now - s->last_progress_ms));
        chat_metrics.stomp_slow_consumers++;
        chat_stomp_session_close(s);
        continue;
      }
    } else {
      s->last_progress_ms = now;
    }
    /* Spring and most clients allow some slack; a client silent for 1.5 intervals is gone. */
    if (s->expect_every_ms && now - s->last_received_ms > s->expect_every_ms * 3 / 2) {
      chat_log_info("stomp", "session %s: no heart-beat for %llu ms, closing", s->id,
                    (unsigned long long)(now - s->last_received_ms));
      chat_stomp_session_close(s);
      continue;
    }
    if (s->replays) chat_stomp_resume_sweep(s, now);
    if (s->connected && s->send_every_ms && now - s->last_sent_ms + 500 >= s->send_every_ms) {
      s->ops->send(s->transport, "\n", 1, NULL);
      chat_metrics.stomp_bytes_out++;
      s->last_sent_ms = now;
    }
  }
}

/* A room's Redis channels are listened to while it has local subscribers. */
static void destination_changed(void *ud, const char *name, int added) {
  chat_stomp_hub *hub = ud;
  if (hub->rt->pubsub) chat_redis_pubsub_destination(hub->rt->pubsub, name, added);
}

chat_stomp_hub *chat_stomp_hub_new(chat_runtime *rt, const chat_stomp_limits_config *limits) {
  chat_stomp_hub *hub = calloc(1, sizeof *hub);
  if (hub == NULL) return NULL;
  hub->rt = rt;
  hub->limits = *limits;
  hub->broker = chat_broker_new(chat_stomp_catch_up_free_dest);
  chat_broker_on_destination(hub->broker, destination_changed, hub);
  /* Until the Redis link first answers, nothing other instances publish arrives: the first
   * connect catches up like a reconnect (usually nobody has subscribed yet). */
  hub->link_lost_at = (double)time(NULL);
  uv_timer_init(rt->loop, &hub->sweep);
  hub->sweep.data = hub;
  uv_timer_start(&hub->sweep, sweep, 1000, 1000);
  uv_unref((uv_handle_t *)&hub->sweep); /* never keeps the loop alive on its own */
  return hub;
}

void chat_stomp_hub_drain(chat_stomp_hub *hub) {
  /* finish_drain may close a session, and a SockJS transport reports that at once:
   * the session is unlinked and may be freed, so its successor is read first. */
  for (chat_stomp_session *s = hub->sessions, *next; s; s = next) {
    next = s->next;
    if (s->closing || s->gone || s->draining) continue;
    s->draining = 1;
    s->ops->pause(s->transport, 1);
    chat_stomp_session_finish_drain(s);
  }
}

static void hub_timer_closed(uv_handle_t *h) {
  chat_stomp_hub *hub = h->data;
  chat_broker_free(hub->broker);
  free(hub);
}

void chat_stomp_hub_free(chat_stomp_hub *hub) {
  uv_timer_stop(&hub->sweep);
  uv_close((uv_handle_t *)&hub->sweep, hub_timer_closed);
}

size_t chat_stomp_hub_sessions(const chat_stomp_hub *hub) { return hub->count; }
size_t chat_stomp_hub_subscriptions(const chat_stomp_hub *hub) { return chat_broker_subscriptions(hub->broker); }
size_t chat_stomp_hub_destinations(const chat_stomp_hub *hub) { return chat_broker_destinations(hub->broker); }
