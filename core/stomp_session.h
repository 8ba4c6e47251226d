/* STOMP sessions, independent of the transport that carries them (raw WebSocket or a
 * SockJS session): CONNECT negotiation, heart-beats, subscriptions in the broker,
 * SEND dispatch to the Lua application (one frame at a time per session, so a client's
 * messages keep their order), receipts, ERROR frames, and the slow-consumer policy.
 *
 * The hub owns the broker and every session; one 1-second sweep timer enforces
 * heart-beats and write progress for all of them, so an idle session costs no timer. */
#ifndef CHAT_STOMP_SESSION_H
#define CHAT_STOMP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "shared_buf.h"

struct chat_runtime;
typedef struct chat_stomp_hub chat_stomp_hub;
typedef struct chat_stomp_session chat_stomp_session;

typedef struct chat_stomp_transport_ops {
  /* Queues one STOMP frame: `head` (copied) followed by `body` (retained until written,
   * may be NULL). A heart-beat is head "\n" with no body. */
  void (*send)(void *transport, const char *head, size_t head_len, chat_shared_buf *body);
  /* Closes after flushing what is queued; the transport then calls chat_stomp_session_closed. */
  void (*close)(void *transport);
  /* Bytes queued for the peer and not yet written. */
  size_t (*queued)(const void *transport);
  /* Stops (1) or resumes (0) reading while frames wait for the application. */
  void (*pause)(void *transport, int paused);
} chat_stomp_transport_ops;

typedef struct chat_stomp_limits_config {
  size_t max_frame_bytes;        /* 64 KiB */
  size_t max_queued_bytes;       /* 512 KiB: a consumer this far behind is dropped */
  uint64_t max_stall_ms;         /* 10 s without write progress: dropped */
  unsigned heartbeat_ms;         /* what the server offers both ways: 10000 */
  size_t max_headers;            /* header lines per frame: 64 */
  size_t max_subscriptions;      /* per connection: 100 */
  unsigned max_frames_per_second; /* per connection, with as many again as a burst: 100 */
} chat_stomp_limits_config;

chat_stomp_hub *chat_stomp_hub_new(struct chat_runtime *rt, const chat_stomp_limits_config *limits);

/* Graceful stop: every session stops reading, finishes the frames it already read (a
 * SEND in flight is stored and gets its RECEIPT), then gets ERROR "server shutting down"
 * and its transport closes, so the client reconnects to another instance. */
void chat_stomp_hub_drain(chat_stomp_hub *hub);
void chat_stomp_hub_free(chat_stomp_hub *hub);
size_t chat_stomp_hub_sessions(const chat_stomp_hub *hub);
size_t chat_stomp_hub_subscriptions(const chat_stomp_hub *hub);
size_t chat_stomp_hub_destinations(const chat_stomp_hub *hub);

chat_stomp_session *chat_stomp_session_new(chat_stomp_hub *hub, const chat_stomp_transport_ops *ops,
                                           void *transport);

/* The credentials of the request that opened the session (owned by the session from now
 * on), handed to app.stomp_connect with the CONNECT frame and freed once it answered. */
struct chat_handshake;
void chat_stomp_session_set_handshake(chat_stomp_session *s, struct chat_handshake *h);

/* Bytes from the peer (one WebSocket message, or one SockJS message). */
void chat_stomp_session_feed(chat_stomp_session *s, const char *data, size_t len);

/* The transport finished a write: progress for the slow-consumer policy. */
void chat_stomp_session_wrote(chat_stomp_session *s);

/* True once the server sends STOMP heart-beats on this session: SockJS then stops its
 * own heartbeat frames, as Spring does. */
int chat_stomp_session_heartbeating(const chat_stomp_session *s);

/* The transport is gone: unsubscribe, tell the application, free when no task needs it. */
void chat_stomp_session_closed(chat_stomp_session *s);

/* Headers a broadcast may add to each MESSAGE (content-type, a correlation id, ...). */
enum { CHAT_STOMP_MAX_EXTRA_HEADERS = 8 };

/* Delivers a MESSAGE to every local subscription of `destination`. The body is encoded
 * once and shared; only the per-subscriber head differs. `headers` (name/value pairs,
 * NULL-terminated, may be NULL) are added to each MESSAGE. message_id: the chat message's
 * id (0 for anything else): a destination is given each chat message once, and holds them
 * while it is being caught up (core/stomp_catch_up.c). Returns the deliveries. */
/* Whether any local subscription has this destination. */
int chat_stomp_hub_has_subscribers(chat_stomp_hub *hub, const char *destination);

size_t chat_stomp_hub_broadcast(chat_stomp_hub *hub, const char *destination, const char *body,
                                size_t body_len, const char *const *headers, uint64_t message_id);

/* The Redis Pub/Sub link was lost (up = 0) or answers again (up = 1): after a loss, the
 * application is asked for the chat messages stored meanwhile (app.stomp_catch_up). */
void chat_stomp_hub_link_changed(chat_stomp_hub *hub, int up);

/* Delivers to the subscriptions of one session (by its opaque id) to `destination`,
 * e.g. "/user/queue/errors". Returns the deliveries (0 when the session is gone). */
size_t chat_stomp_hub_send_to_session(chat_stomp_hub *hub, const char *session_id,
                                      const char *destination, const char *body, size_t body_len,
                                      const char *const *headers);

#endif
