/* Catching subscribers up after the Redis Pub/Sub link was down. While it is down, what
 * other instances publish never arrives here, although it is stored. So every destination
 * remembers its recent chat message ids (core/message_ids.c); when the link is lost, the
 * oldest of them is frozen as the destination's floor and every id delivered from then on
 * is kept. When the link is back (its first SUBSCRIBE answered, so everything published
 * from now on arrives), live chat messages are held, the application reads from
 * PostgreSQL what was stored after each floor (app.stomp_catch_up), and that goes out,
 * minus what was delivered, before the held messages, minus what the catch-up gave.
 * Per-subscription resume (core/stomp_resume.c) is the same idea for one client. */
#include <lauxlib.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "lua_task.h"
#include "metrics.h"
#include "stomp_session_internal.h"

static chat_dest_replay *state_of(chat_stomp_hub *hub, chat_broker_dest *d) {
  void **slot = chat_broker_dest_state(d);
  if (*slot == NULL) {
    chat_dest_replay *st = calloc(1, sizeof *st);
    if (st == NULL) return NULL;
    /* Born during an outage: everything it is given must be remembered until the catch-up. */
    st->delivered.keep_all = hub->link_lost_at > 0;
    *slot = st;
  }
  return *slot;
}

void chat_stomp_catch_up_free_dest(void *state) {
  chat_dest_replay *st = state;
  chat_message_ids_free(&st->delivered);
  chat_held_frames_clear(&st->held);
  free(st);
}

int chat_stomp_catch_up_screen(chat_stomp_hub *hub, chat_broker_dest *d, const chat_stomp_message *m) {
  chat_dest_replay *st = state_of(hub, d);
  if (st == NULL) return 0;
  if (chat_message_ids_contains(&st->delivered, m->message_id)) {
    chat_metrics.stomp_duplicates_skipped++;
    return 1;
  }
  if (st->holding && st->held.bytes < hub->limits.max_queued_bytes) {
    chat_shared_buf *b = chat_shared_buf_new(m->body, m->body_len);
    int held = b && chat_held_frames_push(&st->held, m->message_id, NULL, 0, b) == 0;
    chat_shared_buf_release(b);
    if (held) return 1;
  }
  chat_message_ids_add(&st->delivered, m->message_id, chat_stomp_now_ms(hub));
  return 0;
}

/* ---- the link's loss ---- */

static void freeze_floor(chat_broker_dest *d, void *ud) {
  chat_dest_replay *st = state_of(ud, d);
  if (st == NULL || st->floor_frozen) return;
  st->floor = chat_message_ids_floor(&st->delivered, chat_stomp_now_ms(ud));
  st->floor_frozen = 1;
  chat_message_ids_keep_all(&st->delivered, 1, 0);
}

/* ---- the catch-up: a task of the application ---- */

static void start_catch_up(chat_stomp_hub *hub);

typedef struct {
  chat_stomp_hub *hub;
  unsigned long losses_at_start;
} catch_up;

static void hold(chat_broker_dest *d, void *ud) {
  chat_dest_replay *st = state_of(ud, d);
  if (st) st->holding = 1;
}

typedef struct {
  chat_stomp_hub *hub;
  lua_State *co;
} push_ctx;

static void push_floor(chat_broker_dest *d, void *ud) {
  push_ctx *pc = ud;
  lua_State *co = pc->co;
  chat_dest_replay *st = *chat_broker_dest_state(d);
  if (st == NULL) return;
  uint64_t floor = st->floor_frozen ? st->floor : chat_message_ids_floor(&st->delivered, chat_stomp_now_ms(pc->hub));
  if (floor == 0) floor = pc->hub->floor_at_loss;
  lua_pushinteger(co, (lua_Integer)floor);
  lua_setfield(co, -2, chat_broker_dest_name(d));
}

/* app.stomp_catch_up(floors, since): floors {destination = the id after which to replay;
 * 0 when this instance had seen no message at all}, since: when the link was lost
 * (wall-clock seconds). */
static int push_catch_up_args(lua_State *co, void *ud) {
  chat_stomp_hub *hub = ((catch_up *)ud)->hub;
  lua_createtable(co, 0, (int)chat_broker_destinations(hub->broker));
  push_ctx pc = {hub, co};
  chat_broker_each_dest(hub->broker, push_floor, &pc);
  lua_pushnumber(co, hub->link_lost_at);
  return 2;
}

/* 1 when m was new to the destination (and is now delivered). */
static int deliver_caught_up(chat_stomp_hub *hub, chat_broker_dest *d, chat_stomp_message *m) {
  chat_dest_replay *st = state_of(hub, d);
  if (st == NULL || chat_message_ids_contains(&st->delivered, m->message_id)) return 0;
  chat_message_ids_add(&st->delivered, m->message_id, chat_stomp_now_ms(hub));
  chat_stomp_fan_out(hub, d, m);
  return 1;
}

/* Reads the application's answer {{destination=, id=, body=}, ...} at idx. */
static size_t deliver_answer(chat_stomp_hub *hub, lua_State *co, int idx) {
  size_t n = 0;
  lua_Integer len = luaL_len(co, idx);
  for (lua_Integer i = 1; i <= len; i++) {
    int top = lua_gettop(co);
    lua_geti(co, idx, i);
    if (lua_istable(co, -1)) {
      lua_getfield(co, -1, "destination");
      lua_getfield(co, -2, "id");
      lua_getfield(co, -3, "body");
      chat_broker_dest *d = lua_type(co, -3) == LUA_TSTRING ? chat_broker_find(hub->broker, lua_tostring(co, -3)) : NULL;
      if (d && lua_isinteger(co, -2) && lua_type(co, -1) == LUA_TSTRING) {
        chat_stomp_message m = {.destination = chat_broker_dest_name(d), .message_id = (uint64_t)lua_tointeger(co, -2)};
        m.body = lua_tolstring(co, -1, &m.body_len);
        n += (size_t)deliver_caught_up(hub, d, &m);
      }
    }
    lua_settop(co, top);
  }
  return n;
}

typedef struct {
  chat_stomp_hub *hub;
  int complete;
} release_ctx;

static void release(chat_broker_dest *d, void *ud) {
  release_ctx *rc = ud;
  chat_dest_replay *st = *chat_broker_dest_state(d);
  if (st == NULL) return;
  st->holding = 0;
  chat_held_frame *f;
  while ((f = chat_held_frames_pop(&st->held)) != NULL) {
    chat_stomp_message m = {chat_broker_dest_name(d), f->body->data, f->body->len, NULL, f->id};
    deliver_caught_up(rc->hub, d, &m);
    chat_held_frame_free(f);
  }
  if (rc->complete) {
    if (st->delivered.len == 0) { /* not a destination of chat messages: keep nothing for it */
      chat_stomp_catch_up_free_dest(st);
      *chat_broker_dest_state(d) = NULL;
      return;
    }
    st->floor_frozen = 0;
    st->floor = 0;
    chat_message_ids_keep_all(&st->delivered, 0, chat_stomp_now_ms(rc->hub));
  }
}

static void catch_up_done(chat_task *t, lua_State *co, int ok, int nres, void *ud) {
  (void)t;
  catch_up *c = ud;
  chat_stomp_hub *hub = c->hub;
  size_t n = 0;
  if (ok && nres >= 1 && lua_istable(co, lua_gettop(co) - nres + 1)) {
    n = deliver_answer(hub, co, lua_gettop(co) - nres + 1);
  } else {
    const char *why = ok && nres >= 2 && lua_isstring(co, lua_gettop(co) - nres + 2)
                          ? lua_tostring(co, lua_gettop(co) - nres + 2) : "the application failed";
    chat_log_error("stomp", "catching up after the Redis outage failed (%s): subscribers may have missed "
                   "messages stored meanwhile; they are in history", why);
  }
  /* Another outage began while this one was read: keep the floors for the next catch-up. */
  release_ctx rc = {hub, hub->link_losses == c->losses_at_start};
  chat_broker_each_dest(hub->broker, release, &rc);
  chat_metrics.redis_catch_ups++;
  chat_metrics.redis_caught_up_messages += n;
  if (hub->link_losses > 0) /* not at start-up, when the link had never been up */
    chat_log_info("stomp", "caught up after the Redis outage: %zu message(s) delivered from PostgreSQL", n);
  if (rc.complete) hub->link_lost_at = 0, hub->floor_at_loss = 0;
  hub->catch_up_running = 0;
  free(c);
  if (hub->catch_up_wanted) start_catch_up(hub);
}

static void start_catch_up(chat_stomp_hub *hub) {
  if (hub->catch_up_running) {
    hub->catch_up_wanted = 1;
    return;
  }
  catch_up *c = calloc(1, sizeof *c);
  if (c == NULL) return;
  c->hub = hub;
  c->losses_at_start = hub->link_losses;
  hub->catch_up_running = 1;
  hub->catch_up_wanted = 0;
  chat_broker_each_dest(hub->broker, hold, hub);
  if (chat_task_spawn(hub->rt->vm, "stomp_catch_up", push_catch_up_args, c, catch_up_done, c) < 0) {
    chat_log_error("stomp", "the application has no stomp_catch_up handler: no catch-up after the Redis outage");
    release_ctx rc = {hub, 1};
    chat_broker_each_dest(hub->broker, release, &rc);
    hub->link_lost_at = 0;
    hub->catch_up_running = 0;
    free(c);
  }
}

void chat_stomp_hub_link_changed(chat_stomp_hub *hub, int up) {
  if (!up) {
    hub->link_losses++;
    if (hub->link_lost_at == 0) {
      hub->link_lost_at = (double)time(NULL);
      hub->floor_at_loss = chat_recent_ids_floor(&hub->recent, chat_stomp_now_ms(hub));
    }
    chat_broker_each_dest(hub->broker, freeze_floor, hub);
    return;
  }
  if (hub->link_lost_at > 0) start_catch_up(hub);
}
