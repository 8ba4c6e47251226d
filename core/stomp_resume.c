/* Resuming a subscription from the last message a client has (the SUBSCRIBE header
 * last-message-id, docs/protocol.md): the subscription is made at once but holds its live
 * messages; the application reads the missed ones from PostgreSQL (app.stomp_subscribe);
 * they go out in id order, then the held live ones minus those the replay already gave.
 * Subscribing before the read is what makes the seam exact: a message committed after the
 * read began is published after it too, so it reaches the held queue. */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lua_api.h"
#include "metrics.h"
#include "stomp_session_internal.h"

/* How long replayed ids are remembered after the replay: longer than any live copy of a
 * message can trail its commit (a publish waits at most CHAT_REDIS_TIMEOUT_MS). */
enum { REMEMBER_REPLAYED_MS = 30000 };

int chat_stomp_resume_begin(chat_stomp_session *s, chat_sub *sub) {
  chat_sub_replay *r = calloc(1, sizeof *r);
  if (r == NULL) return -1;
  r->holding = 1;
  r->given.keep_all = 1;
  sub->replay = r;
  s->replays++;
  return 0;
}

int chat_stomp_resume_hold(chat_stomp_session *s, chat_sub *sub, uint64_t id, const char *head,
                           size_t head_len, chat_shared_buf *body) {
  chat_sub_replay *r = sub->replay;
  if (chat_held_frames_push(&r->held, id, head, head_len, body) < 0 ||
      r->held.bytes > s->hub->limits.max_queued_bytes) {
    chat_log_warn("stomp", "session %s: too much held while its resume runs, dropping it", s->id);
    chat_metrics.stomp_slow_consumers++;
    chat_stomp_session_close(s);
    return -1;
  }
  return 0;
}

/* Reads {id=, body=, headers=} at the top of co's stack; 0 when malformed (a script bug). */
static int read_replayed(lua_State *co, chat_stomp_message *m, const char **headers) {
  lua_getfield(co, -1, "body");
  lua_getfield(co, -2, "id");
  lua_getfield(co, -3, "headers");
  if (lua_type(co, -3) != LUA_TSTRING || !(lua_isnil(co, -2) || lua_isinteger(co, -2))) return 0;
  if (chat_lua_stomp_headers(co, -1, headers) < 0) return 0;
  m->body = lua_tolstring(co, -3, &m->body_len); /* alive in the element, still on the stack */
  m->message_id = lua_isinteger(co, -2) ? (uint64_t)lua_tointeger(co, -2) : 0;
  return 1;
}

void chat_stomp_resume_finish(chat_stomp_session *s, chat_sub *sub, lua_State *co, int idx) {
  chat_sub_replay *r = sub->replay;
  chat_stomp_hub *hub = s->hub;
  size_t replayed = 0;
  if (idx > 0 && lua_istable(co, idx) && lua_checkstack(co, 8)) {
    lua_Integer n = luaL_len(co, idx);
    for (lua_Integer i = 1; i <= n && !s->closing; i++) {
      int top = lua_gettop(co);
      lua_geti(co, idx, i);
      const char *headers[2 * CHAT_STOMP_MAX_EXTRA_HEADERS + 1];
      chat_stomp_message m = {.destination = sub->destination, .headers = headers};
      if (lua_istable(co, -1) && read_replayed(co, &m, headers)) {
        chat_stomp_deliver_replayed(hub, sub, &m);
        if (m.message_id) chat_message_ids_add(&r->given, m.message_id, 0), replayed++;
      } else {
        chat_log_error("stomp", "app.stomp_subscribe: replay element %lld is not {body=, id=, headers=}",
                       (long long)i);
      }
      lua_settop(co, top);
    }
  }
  chat_metrics.stomp_resumes++;
  chat_metrics.stomp_replayed_messages += replayed;
  /* What arrived live meanwhile, in arrival order, minus what the replay gave. */
  chat_held_frame *f;
  while ((f = chat_held_frames_pop(&r->held)) != NULL) {
    if (!s->closing && !(f->id && chat_message_ids_contains(&r->given, f->id))) {
      chat_stomp_session_write(s, f->head, f->head_len, f->body);
      chat_metrics.stomp_deliveries++;
      chat_metrics.stomp_frames_out++;
      chat_metrics.stomp_bytes_out += f->head_len + f->body->len;
    }
    chat_held_frame_free(f);
  }
  r->holding = 0;
  r->forget_at_ms = chat_stomp_now_ms(hub) + REMEMBER_REPLAYED_MS;
}

void chat_stomp_resume_free(chat_stomp_session *s, chat_sub *sub) {
  chat_sub_replay *r = sub->replay;
  if (r == NULL) return;
  chat_held_frames_clear(&r->held);
  chat_message_ids_free(&r->given);
  free(r);
  sub->replay = NULL;
  s->replays--;
}

void chat_stomp_resume_sweep(chat_stomp_session *s, uint64_t now_ms) {
  for (chat_sub *sub = s->subs; sub; sub = sub->session_next) {
    chat_sub_replay *r = sub->replay;
    if (r && !r->holding && now_ms >= r->forget_at_ms) chat_stomp_resume_free(s, sub);
  }
}
