#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "broker.h"
#include "handshake_credentials.h"
#include "log.h"
#include "lua_task.h"
#include "metrics.h"
#include "runtime.h"
#include "stomp.h"
#include "stomp_session_internal.h"

/* One STOMP session, whatever transport carries it (see stomp_session.h); the hub that
 * holds them all is core/stomp_hub.c. */

/* ---- sending frames ---- */

static void send_frame(chat_stomp_session *s, const char *command, const char *const *headers,
                       const char *body, size_t body_len) {
  if (s->closing || s->gone) return;
  char head[2048];
  size_t n = chat_stomp_encode_head(head, sizeof head, s->version, command, headers);
  if (n > sizeof head) n = chat_stomp_encode_head(head, sizeof head, s->version, command, NULL);
  chat_shared_buf *b = chat_shared_buf_new(body, body_len + 1);
  if (b == NULL) return;
  b->data[body_len] = '\0';
  s->ops->send(s->transport, head, n, b);
  chat_shared_buf_release(b);
  s->last_sent_ms = chat_stomp_now_ms(s->hub);
  chat_metrics.stomp_frames_out++;
  chat_metrics.stomp_bytes_out += n + body_len + 1;
}

void chat_stomp_session_close(chat_stomp_session *s) {
  if (s->closing || s->gone) return;
  s->closing = 1;
  s->ops->close(s->transport);
}

/* STOMP's answer to a protocol violation: an ERROR frame, then the connection closes. */
void chat_stomp_session_error(chat_stomp_session *s, const char *message, const char *receipt_id,
                       const char *detail) {
  char len[24];
  size_t dlen = detail ? strlen(detail) : 0;
  snprintf(len, sizeof len, "%zu", dlen);
  const char *headers[] = {"message", message, "content-type", "text/plain;charset=UTF-8",
                           "content-length", len, receipt_id ? "receipt-id" : NULL, receipt_id, NULL};
  send_frame(s, "ERROR", headers, detail, dlen);
  chat_log_info("stomp", "session %s: ERROR %s", s->id, message);
  chat_stomp_session_close(s);
}

static void send_receipt(chat_stomp_session *s, const char *receipt) {
  if (receipt == NULL) return;
  const char *headers[] = {"receipt-id", receipt, NULL};
  send_frame(s, "RECEIPT", headers, NULL, 0);
}

/* ---- session lifetime ---- */

static void session_release(chat_stomp_session *s) {
  if (--s->refs > 0) return;
  for (pending_frame *p = s->pending_head; p;) {
    pending_frame *n = p->next;
    free(p->mem);
    free(p);
    p = n;
  }
  chat_stomp_parser_free(s->parser);
  chat_handshake_free(s->handshake);
  free(s->user);
  free(s);
}

void chat_stomp_session_set_handshake(chat_stomp_session *s, chat_handshake *h) {
  chat_handshake_free(s->handshake);
  s->handshake = h;
}

chat_stomp_session *chat_stomp_session_new(chat_stomp_hub *hub, const chat_stomp_transport_ops *ops,
                                           void *transport) {
  chat_stomp_session *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  chat_stomp_limits lim = {hub->limits.max_frame_bytes, hub->limits.max_headers};
  s->parser = chat_stomp_parser_new(&lim);
  if (s->parser == NULL) {
    free(s);
    return NULL;
  }
  s->hub = hub;
  s->ops = ops;
  s->transport = transport;
  s->version = CHAT_STOMP_V12;
  s->refs = 1;
  /* The id other clients may see (in presence lists): random, unrelated to transport ids. */
  unsigned char rnd[SESSION_ID_LEN / 2];
  if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0)
    for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)rand();
  for (size_t i = 0; i < sizeof rnd; i++) snprintf(s->id + 2 * i, 3, "%02x", rnd[i]);
  uint64_t now = chat_stomp_now_ms(hub);
  s->last_received_ms = s->last_sent_ms = s->last_progress_ms = now;
  s->credit_at_ms = now;
  s->frame_credit = (uint64_t)hub->limits.max_frames_per_second * 1000;
  s->next = hub->sessions;
  if (hub->sessions) hub->sessions->prev = s;
  hub->sessions = s;
  hub->count++;
  return s;
}

/* ---- the application side: tasks ---- */

typedef struct {
  chat_stomp_session *s;
  const chat_stomp_frame *frame;
  char *receipt;
  int kind; /* FRAME_CONNECT, FRAME_SEND or FRAME_SUBSCRIBE */
  char *destination;
  char *sub_id;
  chat_sub *resumed; /* a SUBSCRIBE with last-message-id: made at once, holding live messages */
  uint64_t started_ns; /* when it was handed to the application (chatd_stomp_send_seconds) */
} frame_call;

enum { FRAME_SEND = 1, FRAME_SUBSCRIBE = 2, FRAME_CONNECT = 3 };

static void process_pending(chat_stomp_session *s);
static void handle_frame(chat_stomp_session *s, const chat_stomp_frame *f);

/* A draining session says goodbye once nothing it read is left with the application:
 * the ERROR frame tells the client to reconnect elsewhere, and the transport closes
 * after it is written, behind any RECEIPT sent just before. */
void chat_stomp_session_finish_drain(chat_stomp_session *s) {
  if (s->draining && !s->busy && s->pending_head == NULL && !s->closing && !s->gone)
    chat_stomp_session_error(s, "server shutting down", NULL, NULL);
}

static void push_headers(lua_State *co, const chat_stomp_frame *f) {
  lua_createtable(co, 0, (int)f->header_count);
  for (size_t i = f->header_count; i-- > 0;) { /* reversed, so the first occurrence wins */
    lua_pushstring(co, f->headers[i].value);
    lua_setfield(co, -2, f->headers[i].name);
  }
}

static void push_optional(lua_State *co, const char *value, const char *name) {
  if (value == NULL) return;
  lua_pushstring(co, value);
  lua_setfield(co, -2, name);
}

/* app.stomp_connect(session_id, headers, handshake)
 * app.stomp_send(session_id, destination, headers, body, user)
 * app.stomp_subscribe(session_id, destination, user, last_message_id)
 *     user: nil when nobody; last_message_id: the header's text, nil without one */
static int push_frame_args(lua_State *co, void *ud) {
  frame_call *c = ud;
  const chat_stomp_frame *f = c->frame;
  chat_stomp_session *s = c->s;
  lua_pushstring(co, s->id);
  if (c->kind == FRAME_CONNECT) {
    push_headers(co, f);
    lua_createtable(co, 0, 5);
    if (s->handshake) {
      push_optional(co, s->handshake->authorization, "authorization");
      push_optional(co, s->handshake->user_id, "user_id");
      push_optional(co, s->handshake->access_token, "access_token");
      push_optional(co, s->handshake->peer, "peer");
      lua_pushboolean(co, s->handshake->forwarded);
      lua_setfield(co, -2, "forwarded");
    }
    return 3;
  }
  lua_pushstring(co, c->destination);
  if (c->kind == FRAME_SUBSCRIBE) {
    if (s->user) lua_pushstring(co, s->user);
    else lua_pushnil(co);
    const char *last = chat_stomp_frame_header(f, "last-message-id");
    if (last) lua_pushstring(co, last);
    else lua_pushnil(co);
    return 4;
  }
  push_headers(co, f);
  lua_pushlstring(co, f->body, f->body_len);
  if (s->user) lua_pushstring(co, s->user);
  else lua_pushnil(co);
  return 5;
}

/* /user/queue/... belongs to one session: the broker indexes it as "destination#session"
 * so a delivery to one session is the same hash lookup as a broadcast. */
static int is_session_scoped(const char *destination) { return strncmp(destination, "/user/queue/", 12) == 0; }

void chat_stomp_session_key(char *out, size_t cap, const char *destination, const char *session_id) {
  snprintf(out, cap, "%s#%s", destination, session_id);
}

static chat_sub *subscribe_now(chat_stomp_session *s, const char *destination, const char *id) {
  char key[1024];
  if (is_session_scoped(destination)) {
    chat_stomp_session_key(key, sizeof key, destination, s->id);
    destination = key;
  }
  chat_sub *sub = chat_broker_subscribe(s->hub->broker, destination, s, id);
  if (sub == NULL) {
    chat_stomp_session_error(s, "out of memory", NULL, NULL);
    return NULL;
  }
  sub->session_next = s->subs;
  s->subs = sub;
  return sub;
}

static void unsubscribe(chat_stomp_session *s, chat_sub *sub) {
  for (chat_sub **pp = &s->subs; *pp; pp = &(*pp)->session_next) {
    if (*pp == sub) {
      *pp = sub->session_next;
      break;
    }
  }
  chat_stomp_resume_free(s, sub);
  chat_broker_unsubscribe(s->hub->broker, sub);
}

/* Frames that waited in the socket while we did not read arrive in one burst that the
 * client did not send as one: the rate limit credits the time we were not reading. */
static void resume_reading(chat_stomp_session *s) {
  if (s->paused) {
    enum { MAX_PAUSE_CREDIT_MS = 10000 }; /* a long stall must not license a flood */
    uint64_t rate = s->hub->limits.max_frames_per_second, now = chat_stomp_now_ms(s->hub);
    uint64_t paused_ms = now - s->paused_at_ms;
    if (paused_ms > MAX_PAUSE_CREDIT_MS) paused_ms = MAX_PAUSE_CREDIT_MS;
    s->frame_credit = rate * 1000 + paused_ms * rate;
    s->credit_at_ms = now;
    s->paused = 0;
  }
  s->ops->pause(s->transport, 0);
}

static void send_connected(chat_stomp_session *s, const char *receipt);

/* app.stomp_connect answers `true, user, expires_at` (user nil: nobody in particular;
 * expires_at: when the session must end, in wall-clock seconds, nil: never) or `nil, reason`;
 * app.stomp_send / app.stomp_subscribe answer `true` or `nil, reason`. */
static void frame_done(chat_task *t, lua_State *co, int ok, int nres, void *ud) {
  (void)t;
  frame_call *c = ud;
  chat_stomp_session *s = c->s;
  int accepted = 0;
  const char *reason = "internal error";
  if (ok && nres >= 1) {
    int base = lua_gettop(co) - nres + 1;
    accepted = lua_toboolean(co, base);
    if (!accepted && nres >= 2 && lua_isstring(co, base + 1)) reason = lua_tostring(co, base + 1);
    if (accepted && c->kind == FRAME_CONNECT && nres >= 2 && lua_isstring(co, base + 1)) {
      free(s->user);
      s->user = strdup(lua_tostring(co, base + 1));
      if (nres >= 3 && lua_isnumber(co, base + 2)) s->expires_at = lua_tonumber(co, base + 2);
    }
  }
  if (c->kind == FRAME_CONNECT) {
    /* The credentials have done their job; tokens are not kept for the session's life. */
    chat_stomp_session_set_handshake(s, NULL);
  }
  if (!s->gone && !s->closing) {
    if (c->kind == FRAME_CONNECT) {
      if (accepted) send_connected(s, c->receipt);
      else chat_stomp_session_error(s, reason, c->receipt, NULL);
    } else if (c->kind == FRAME_SUBSCRIBE) {
      if (accepted) {
        /* A resume's replay is the second result; the RECEIPT follows it, so a client that
         * asked for one knows the replay is complete when it arrives. */
        if (c->resumed) chat_stomp_resume_finish(s, c->resumed, co, nres >= 2 ? lua_gettop(co) - nres + 2 : 0);
        else subscribe_now(s, c->destination, c->sub_id);
        send_receipt(s, c->receipt);
      } else {
        if (c->resumed) unsubscribe(s, c->resumed);
        chat_stomp_session_error(s, reason, c->receipt, NULL);
      }
    } else if (accepted) {
      /* For a SEND the receipt means "stored": the application returned after commit. */
      send_receipt(s, c->receipt);
    }
  }
  if (c->kind == FRAME_SEND) {
    /* A refusal or failure is counted by the script, which knows whose fault it was. */
    if (accepted) chat_metrics.stomp_sends[CHAT_SEND_STORED]++;
    chat_metrics_observe_send((double)(uv_hrtime() - c->started_ns) / 1e9);
  }
  free(c->receipt);
  free(c->destination);
  free(c->sub_id);
  free(c);
  s->busy = 0;
  if (s->pending_count == 0 && !s->gone && !s->draining) resume_reading(s);
  process_pending(s);
  chat_stomp_session_finish_drain(s);
  session_release(s);
}

static void dispatch_to_app(chat_stomp_session *s, const chat_stomp_frame *f, int kind,
                           const char *destination, const char *sub_id, chat_sub *resumed) {
  static const char *const entries[] = {NULL, "stomp_send", "stomp_subscribe", "stomp_connect"};
  frame_call *c = calloc(1, sizeof *c);
  const char *receipt = chat_stomp_frame_header(f, "receipt");
  c->s = s;
  c->frame = f;
  c->kind = kind;
  c->receipt = receipt ? strdup(receipt) : NULL;
  c->destination = strdup(destination);
  c->sub_id = sub_id ? strdup(sub_id) : NULL;
  c->resumed = resumed;
  c->started_ns = uv_hrtime();
  s->busy = 1;
  s->refs++;
  if (chat_task_spawn(s->hub->rt->vm, entries[kind], push_frame_args, c, frame_done, c) < 0) {
    chat_log_error("stomp", "the application has no %s handler", entries[kind]);
    if (resumed) unsubscribe(s, resumed);
    free(c->receipt);
    free(c->destination);
    free(c->sub_id);
    free(c);
    s->busy = 0;
    chat_stomp_session_error(s, "server misconfigured", receipt, NULL);
    session_release(s);
  }
}

static void disconnect_done(chat_task *t, lua_State *co, int ok, int nres, void *ud) {
  (void)t, (void)co, (void)ok, (void)nres;
  session_release(ud);
}

static int push_session_id(lua_State *co, void *ud) {
  lua_pushstring(co, ((chat_stomp_session *)ud)->id);
  return 1;
}

/* ---- frames ---- */

static chat_stomp_version negotiate(const char *accept) {
  if (accept == NULL) return CHAT_STOMP_V10;
  if (strstr(accept, "1.2")) return CHAT_STOMP_V12;
  if (strstr(accept, "1.1")) return CHAT_STOMP_V11;
  if (strstr(accept, "1.0")) return CHAT_STOMP_V10;
  return 0;
}

static void on_connect(chat_stomp_session *s, const chat_stomp_frame *f) {
  if (s->connected) {
    chat_stomp_session_error(s, "already connected", NULL, NULL);
    return;
  }
  chat_stomp_version v = negotiate(chat_stomp_frame_header(f, "accept-version"));
  if (v == 0) {
    const char *headers[] = {"version", "1.0,1.1,1.2", "message", "Supported protocol versions are 1.0,1.1,1.2",
                             NULL};
    send_frame(s, "ERROR", headers, NULL, 0);
    chat_stomp_session_close(s);
    return;
  }
  s->version = v;
  chat_stomp_parser_set_version(s->parser, v);
  /* Heart-beats (STOMP 1.1 §Heart-beating): each side sends at the larger of what it
   * can do and what the other wants; 0 on either side turns a direction off. */
  unsigned long cx = 0, cy = 0;
  const char *hb = chat_stomp_frame_header(f, "heart-beat");
  if (hb && sscanf(hb, "%lu,%lu", &cx, &cy) != 2) {
    chat_stomp_session_error(s, "malformed heart-beat header", NULL, NULL);
    return;
  }
  unsigned offer = s->hub->limits.heartbeat_ms;
  s->offered_send_ms = cy == 0 ? 0 : (cy > offer ? cy : offer);
  s->offered_expect_ms = cx == 0 ? 0 : (cx > offer ? cx : offer);
  /* Who is connecting is the application's call (lua/chat/auth/access.lua); CONNECTED follows
   * in frame_done, and frames sent meanwhile wait their turn. */
  dispatch_to_app(s, f, FRAME_CONNECT, "", NULL, NULL);
}

static void send_connected(chat_stomp_session *s, const char *receipt) {
  unsigned offer = s->hub->limits.heartbeat_ms;
  s->send_every_ms = s->offered_send_ms;
  s->expect_every_ms = s->offered_expect_ms;
  char hb_out[48];
  snprintf(hb_out, sizeof hb_out, "%u,%u", offer, offer);
  const char *versions[] = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "1.0", "1.1", "1.2"};
  const char *headers[] = {"version", versions[s->version], "heart-beat", hb_out, "server", "chatd/0.1",
                           "session", s->id, s->user ? "user-name" : NULL, s->user, NULL};
  s->connected = 1;
  send_frame(s, "CONNECTED", headers, NULL, 0);
  send_receipt(s, receipt);
}

static void on_unsubscribe(chat_stomp_session *s, const chat_stomp_frame *f) {
  const char *id = chat_stomp_frame_header(f, "id");
  if (id == NULL && s->version == CHAT_STOMP_V10) id = chat_stomp_frame_header(f, "destination");
  if (id == NULL) {
    chat_stomp_session_error(s, "UNSUBSCRIBE without an id header", chat_stomp_frame_header(f, "receipt"), NULL);
    return;
  }
  for (chat_sub *sub = s->subs; sub; sub = sub->session_next) {
    if (strcmp(sub->id, id) == 0) { /* ids are unique in a session (SUBSCRIBE checks) */
      unsubscribe(s, sub);
      break;
    }
  }
  send_receipt(s, chat_stomp_frame_header(f, "receipt"));
}

static void handle_frame(chat_stomp_session *s, const chat_stomp_frame *f) {
  const char *cmd = f->command;
  const char *receipt = chat_stomp_frame_header(f, "receipt");
  if (strcmp(cmd, "CONNECT") == 0 || strcmp(cmd, "STOMP") == 0) {
    on_connect(s, f);
    return;
  }
  if (!s->connected) {
    chat_stomp_session_error(s, "expected a CONNECT frame first", receipt, NULL);
    return;
  }
  if (strcmp(cmd, "SEND") == 0) {
    const char *dest = chat_stomp_frame_header(f, "destination");
    if (dest == NULL) {
      chat_stomp_session_error(s, "SEND without a destination header", receipt, NULL);
      return;
    }
    if (strncmp(dest, "/app/", 5) != 0) {
      chat_stomp_session_error(s, "unknown destination: only /app/... accepts SEND", receipt, dest);
      return;
    }
    dispatch_to_app(s, f, FRAME_SEND, dest, NULL, NULL);
    return;
  }
  if (strcmp(cmd, "SUBSCRIBE") == 0) {
    const char *dest = chat_stomp_frame_header(f, "destination");
    const char *id = chat_stomp_frame_header(f, "id");
    if (id == NULL && s->version == CHAT_STOMP_V10) id = dest;
    if (dest == NULL || id == NULL) {
      chat_stomp_session_error(s, "SUBSCRIBE needs destination and id headers", receipt, NULL);
      return;
    }
    size_t count = 0;
    for (chat_sub *sub = s->subs; sub; sub = sub->session_next, count++) {
      if (strcmp(sub->id, id) == 0) {
        chat_stomp_session_error(s, "subscription id already in use", receipt, id);
        return;
      }
    }
    if (count >= s->hub->limits.max_subscriptions) {
      chat_metrics.stomp_limit_errors++;
      chat_stomp_session_error(s, "too many subscriptions on one connection", receipt, NULL);
      return;
    }
    chat_sub *resumed = NULL;
    if (chat_stomp_frame_header(f, "last-message-id") && !is_session_scoped(dest)) {
      /* Subscribed before the application reads what was missed: see core/stomp_resume.c. */
      resumed = subscribe_now(s, dest, id);
      if (resumed == NULL) return;
      if (chat_stomp_resume_begin(s, resumed) < 0) {
        unsubscribe(s, resumed);
        chat_stomp_session_error(s, "out of memory", receipt, NULL);
        return;
      }
    }
    dispatch_to_app(s, f, FRAME_SUBSCRIBE, dest, id, resumed);
    return;
  }
  if (strcmp(cmd, "UNSUBSCRIBE") == 0) {
    on_unsubscribe(s, f);
    return;
  }
  if (strcmp(cmd, "DISCONNECT") == 0) {
    send_receipt(s, receipt);
    chat_stomp_session_close(s);
    return;
  }
  if (strcmp(cmd, "ACK") == 0 || strcmp(cmd, "NACK") == 0 || strcmp(cmd, "BEGIN") == 0 ||
      strcmp(cmd, "COMMIT") == 0 || strcmp(cmd, "ABORT") == 0) {
    /* Subscriptions are auto-ack and SENDs are not transactional, as with Spring's simple
     * broker: accepted and ignored. */
    send_receipt(s, receipt);
    return;
  }
  chat_stomp_session_error(s, "unknown command", receipt, cmd);
}

/* Copies a frame so it can wait in the session's queue. */
static pending_frame *copy_frame(const chat_stomp_frame *f) {
  size_t size = f->header_count * sizeof(chat_stomp_header) + strlen(f->command) + 1 + f->body_len + 1;
  for (size_t i = 0; i < f->header_count; i++)
    size += strlen(f->headers[i].name) + strlen(f->headers[i].value) + 2;
  pending_frame *p = calloc(1, sizeof *p);
  char *mem = malloc(size);
  if (p == NULL || mem == NULL) {
    free(p);
    free(mem);
    return NULL;
  }
  p->mem = mem;
  p->frame.headers = (chat_stomp_header *)mem;
  p->frame.header_count = f->header_count;
  char *text = mem + f->header_count * sizeof(chat_stomp_header);
#define COPY_STR(dst, src)          \
  do {                              \
    size_t l_ = strlen(src) + 1;    \
    memcpy(text, src, l_);          \
    dst = text;                     \
    text += l_;                     \
  } while (0)
  COPY_STR(p->frame.command, f->command);
  for (size_t i = 0; i < f->header_count; i++) {
    COPY_STR(p->frame.headers[i].name, f->headers[i].name);
    COPY_STR(p->frame.headers[i].value, f->headers[i].value);
  }
#undef COPY_STR
  memcpy(text, f->body, f->body_len);
  text[f->body_len] = '\0';
  p->frame.body = text;
  p->frame.body_len = f->body_len;
  return p;
}

static void process_pending(chat_stomp_session *s) {
  while (!s->busy && s->pending_head && !s->closing && !s->gone) {
    pending_frame *p = s->pending_head;
    s->pending_head = p->next;
    if (s->pending_head == NULL) s->pending_tail = NULL;
    s->pending_count--;
    handle_frame(s, &p->frame);
    free(p->mem);
    free(p);
  }
}

/* A token bucket per connection: max_frames_per_second sustained, as many again at once.
 * A client past it is flooding (no chat user sends 100 frames a second), so it gets an
 * ERROR and is closed, and nobody else notices. Returns 0 when the frame may pass. */
static int over_rate(chat_stomp_session *s) {
  uint64_t rate = s->hub->limits.max_frames_per_second, burst = rate * 1000, now = chat_stomp_now_ms(s->hub);
  /* Credit above the burst is what a pause granted (see resume_reading): it is spent,
   * never topped up. */
  if (s->frame_credit < burst) {
    s->frame_credit += (now - s->credit_at_ms) * rate;
    if (s->frame_credit > burst) s->frame_credit = burst;
  }
  s->credit_at_ms = now;
  if (s->frame_credit < 1000) return 1;
  s->frame_credit -= 1000;
  return 0;
}

static int on_parsed(const chat_stomp_frame *f, void *ud) {
  chat_stomp_session *s = ud;
  s->last_received_ms = chat_stomp_now_ms(s->hub);
  if (f == NULL) return 0; /* a heart-beat */
  chat_metrics.stomp_frames_in++;
  if (over_rate(s)) {
    chat_metrics.stomp_limit_errors++;
    chat_stomp_session_error(s, "too many frames per second", NULL, NULL);
    return 1;
  }
  if (s->busy) {
    if (s->pending_count >= MAX_PENDING_FRAMES) {
      chat_stomp_session_error(s, "too many frames waiting; slow down", NULL, NULL);
      return 1;
    }
    pending_frame *p = copy_frame(f);
    if (p == NULL) {
      chat_stomp_session_error(s, "out of memory", NULL, NULL);
      return 1;
    }
    if (s->pending_tail) s->pending_tail->next = p;
    else s->pending_head = p;
    s->pending_tail = p;
    s->pending_count++;
    /* Backpressure: read no more until the application has caught up. */
    if (!s->paused) s->paused_at_ms = chat_stomp_now_ms(s->hub);
    s->paused = 1;
    s->ops->pause(s->transport, 1);
    return 0;
  }
  handle_frame(s, f);
  return s->closing || s->gone;
}

void chat_stomp_session_feed(chat_stomp_session *s, const char *data, size_t len) {
  chat_metrics.stomp_bytes_in += len;
  /* Draining: bytes that arrive now (a SockJS xhr_send) were sent after the stop began;
   * they get no RECEIPT, so the client knows to send them again elsewhere. */
  if (s->closing || s->gone || s->draining) return;
  const char *err = NULL;
  s->refs++; /* a frame's task may end synchronously and drop the last other reference */
  if (chat_stomp_parser_feed(s->parser, data, len, on_parsed, s, &err) < 0 && !s->closing)
    chat_stomp_session_error(s, err, NULL, NULL);
  session_release(s);
}

int chat_stomp_session_heartbeating(const chat_stomp_session *s) { return s->send_every_ms > 0; }

void chat_stomp_session_wrote(chat_stomp_session *s) { s->last_progress_ms = chat_stomp_now_ms(s->hub); }

void chat_stomp_session_closed(chat_stomp_session *s) {
  chat_stomp_hub *hub = s->hub;
  if (s->gone) return;
  s->gone = 1;
  while (s->subs) {
    chat_sub *sub = s->subs;
    s->subs = sub->session_next;
    chat_stomp_resume_free(s, sub);
    chat_broker_unsubscribe(hub->broker, sub);
  }
  if (s->prev) s->prev->next = s->next;
  else hub->sessions = s->next;
  if (s->next) s->next->prev = s->prev;
  hub->count--;
  if (s->connected) {
    /* The application cleans up what it keeps per session (presence) in Redis. */
    s->refs++;
    if (chat_task_spawn(hub->rt->vm, "stomp_disconnect", push_session_id, s, disconnect_done, s) < 0)
      s->refs--;
  }
  session_release(s);
}

