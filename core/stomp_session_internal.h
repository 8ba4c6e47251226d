/* What core/stomp_session.c (one STOMP session) and core/stomp_hub.c (every session of a
 * process: fan-out, the sweep) share and no other file may see: the two structures and
 * the session operations the hub applies. */
#ifndef CHAT_STOMP_SESSION_INTERNAL_H
#define CHAT_STOMP_SESSION_INTERNAL_H

#include <stdint.h>
#include <lua.h>
#include <uv.h>

#include "broker.h"
#include "handshake_credentials.h"
#include "held_frames.h"
#include "message_ids.h"
#include "runtime.h"
#include "stomp.h"
#include "stomp_session.h"

enum { SESSION_ID_LEN = 16, MAX_PENDING_FRAMES = 256 };

/* A frame waiting while an earlier frame of the same session is with the application. */
typedef struct pending_frame {
  struct pending_frame *next;
  chat_stomp_frame frame;
  char *mem; /* one block holding the command, headers and body */
} pending_frame;

/* A subscription resumed from a message id (core/stomp_resume.c): live messages are held
 * while the application reads the missed ones from PostgreSQL, then the ids it replayed
 * are remembered for a while, so a late live copy of one of them is not written twice. */
typedef struct chat_sub_replay {
  int holding;
  chat_held_frames held;
  chat_message_ids given; /* the replayed ids */
  uint64_t forget_at_ms;  /* when `given` is dropped (0 while holding) */
} chat_sub_replay;

/* A destination's recent chat message ids, and while the Redis link is being caught up
 * (core/stomp_catch_up.c), the live messages held back until the catch-up is delivered. */
typedef struct chat_dest_replay {
  chat_message_ids delivered;
  chat_held_frames held;
  int holding;
  uint64_t floor; /* the oldest recent id when the link was lost: the catch-up starts after it */
  int floor_frozen;
} chat_dest_replay;

/* One message on its way to subscriptions. */
typedef struct {
  const char *destination; /* the destination its recipients see */
  const char *body;
  size_t body_len;
  const char *const *headers; /* extra name/value pairs, NULL-terminated; may be NULL */
  uint64_t message_id;        /* the chat message's id; 0 when it is not one */
} chat_stomp_message;

struct chat_stomp_session {
  chat_stomp_hub *hub;
  struct chat_stomp_session *prev, *next; /* the hub's list, for the sweep */
  const chat_stomp_transport_ops *ops;
  void *transport;
  chat_stomp_parser *parser;
  chat_stomp_version version;
  char id[SESSION_ID_LEN + 1]; /* opaque: never the transport's own id */
  int connected;
  int closing;     /* asked the transport to close */
  int gone;        /* the transport is closed */
  int refs;        /* the transport + a task in flight */
  int busy;        /* a frame is with the application */
  int draining;    /* graceful stop: read nothing more, finish what was read, then ERROR */
  pending_frame *pending_head, *pending_tail;
  size_t pending_count;
  chat_sub *subs;  /* this session's subscriptions (chat_sub.session_next) */
  size_t replays;  /* of them, those with resume state (chat_sub.replay) */
  uint64_t message_seq;
  uint64_t send_every_ms, expect_every_ms; /* negotiated heart-beats, 0 = off */
  uint64_t last_sent_ms, last_received_ms, last_progress_ms;
  uint64_t frame_credit;   /* rate limit: thousandths of a frame the client may still send */
  uint64_t credit_at_ms;   /* when the credit was last topped up */
  int paused;              /* reading stopped for backpressure, since paused_at_ms */
  uint64_t paused_at_ms;
  chat_handshake *handshake; /* the opening request's credentials, until CONNECT is answered */
  char *user;                /* who lua/chat/auth/access.lua says is speaking; NULL: nobody */
  double expires_at;         /* wall-clock seconds when its credentials expire; 0: never */
  uint64_t offered_send_ms, offered_expect_ms; /* heart-beats, while CONNECT is with the app */
};

struct chat_stomp_hub {
  chat_runtime *rt;
  chat_stomp_limits_config limits;
  chat_broker *broker;
  chat_stomp_session *sessions;
  size_t count;
  uv_timer_t sweep;
  /* The Redis Pub/Sub link (core/stomp_catch_up.c): lost since link_lost_at (wall-clock
   * seconds; 0 when up and caught up); a catch-up in flight; another one wanted after it. */
  double link_lost_at;
  unsigned long link_losses;
  chat_recent_ids recent;   /* every room's latest ids, with or without subscribers here */
  uint64_t floor_at_loss;   /* the oldest of them when the link was lost: for rooms that had none */
  int catch_up_running, catch_up_wanted;
};

static inline uint64_t chat_stomp_now_ms(const chat_stomp_hub *h) { return uv_now(h->rt->loop); }

/* Asks the transport to close (once). */
void chat_stomp_session_close(chat_stomp_session *s);

/* ERROR with `message` (and the receipt and destination it concerns, may be NULL), then close. */
void chat_stomp_session_error(chat_stomp_session *s, const char *message, const char *receipt_id,
                              const char *destination);

/* Graceful stop of one session: once nothing is with the application, ERROR and close. */
void chat_stomp_session_finish_drain(chat_stomp_session *s);

/* Delivers m to every subscription of d: a subscription being resumed holds it. Returns
 * the deliveries. */
size_t chat_stomp_fan_out(chat_stomp_hub *hub, chat_broker_dest *d, const chat_stomp_message *m);

/* Delivers m to one subscription past its hold (a message its resume replays). */
void chat_stomp_deliver_replayed(chat_stomp_hub *hub, chat_sub *sub, const chat_stomp_message *m);

/* Writes an encoded frame to a session (a held one); drops the session if it cannot keep up. */
void chat_stomp_session_write(chat_stomp_session *s, const char *head, size_t head_len, chat_shared_buf *body);

/* Per-subscription resume (core/stomp_resume.c). */
int chat_stomp_resume_begin(chat_stomp_session *s, chat_sub *sub);
int chat_stomp_resume_hold(chat_stomp_session *s, chat_sub *sub, uint64_t id, const char *head,
                           size_t head_len, chat_shared_buf *body);
/* The application's replay (a Lua array at idx of {id=, body=, headers=}), then what was held. */
void chat_stomp_resume_finish(chat_stomp_session *s, chat_sub *sub, lua_State *co, int idx);
void chat_stomp_resume_free(chat_stomp_session *s, chat_sub *sub);
/* Forgets replayed ids whose time is up. */
void chat_stomp_resume_sweep(chat_stomp_session *s, uint64_t now_ms);

/* Per-destination catch-up (core/stomp_catch_up.c): a broadcast of a chat message goes
 * through here first; 1 when it must not be fanned out now (seen already, or held). */
int chat_stomp_catch_up_screen(chat_stomp_hub *hub, chat_broker_dest *d, const chat_stomp_message *m);
void chat_stomp_catch_up_free_dest(void *state);

/* The broker key of a session-scoped destination ("/user/queue/..."): the destination
 * with the session's id, so only that session's subscriptions match. */
void chat_stomp_session_key(char *out, size_t cap, const char *destination, const char *session_id);

#endif
