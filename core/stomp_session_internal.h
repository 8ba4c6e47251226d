/* What core/stomp_session.c (one STOMP session) and core/stomp_hub.c (every session of a
 * process: fan-out, the sweep) share and no other file may see: the two structures and
 * the session operations the hub applies. */
#ifndef CHAT_STOMP_SESSION_INTERNAL_H
#define CHAT_STOMP_SESSION_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "broker.h"
#include "handshake_credentials.h"
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
};

static inline uint64_t chat_stomp_now_ms(const chat_stomp_hub *h) { return uv_now(h->rt->loop); }

/* Asks the transport to close (once). */
void chat_stomp_session_close(chat_stomp_session *s);

/* ERROR with `message` (and the receipt and destination it concerns, may be NULL), then close. */
void chat_stomp_session_error(chat_stomp_session *s, const char *message, const char *receipt_id,
                              const char *destination);

/* Graceful stop of one session: once nothing is with the application, ERROR and close. */
void chat_stomp_session_finish_drain(chat_stomp_session *s);

/* The broker key of a session-scoped destination ("/user/queue/..."): the destination
 * with the session's id, so only that session's subscriptions match. */
void chat_stomp_session_key(char *out, size_t cap, const char *destination, const char *session_id);

#endif
