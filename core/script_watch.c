/* Watches the scripts' folder and reloads on a change (see script_watch.h for the model). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "log.h"
#include "lua_vm.h"
#include "runtime.h"
#include "script_tree.h"
#include "script_watch.h"

/* Long enough to cover an editor's save or the kubelet's write-link-rename-delete
 * sequence (a few milliseconds), short enough that a reload feels immediate. */
enum { DEBOUNCE_MS = 250 };

struct chat_script_watch {
  chat_runtime *rt;
  uv_timer_t debounce;
  uv_fs_event_t **events; /* one per watched folder, each freed in its close callback */
  size_t n, cap;
  int open_handles;       /* the timer and every event handle not yet closed */
  int stopping;
  char last_rejected[17]; /* version of the last scripts a reload refused, or "" */
};

static void maybe_free(chat_script_watch *w) {
  if (w->stopping && w->open_handles == 0) {
    free(w->events);
    free(w);
  }
}

static void on_event_closed(uv_handle_t *h) {
  chat_script_watch *w = h->data;
  free(h);
  w->open_handles--;
  maybe_free(w);
}

static void on_timer_closed(uv_handle_t *h) {
  chat_script_watch *w = h->data;
  w->open_handles--;
  maybe_free(w);
}

static void on_settled(uv_timer_t *t);

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status) {
  (void)filename, (void)events;
  chat_script_watch *w = h->data;
  if (status < 0) chat_log_debug("reload", "watch error: %s", uv_strerror(status));
  if (w->stopping) return;
  /* Every event restarts the quiet period: one reload per burst. */
  uv_timer_start(&w->debounce, on_settled, DEBOUNCE_MS, 0);
}

static void watch_folder(chat_script_watch *w, const char *path) {
  uv_fs_event_t *h = malloc(sizeof *h);
  if (h == NULL) return;
  uv_fs_event_init(w->rt->loop, h);
  h->data = w;
  int rc = uv_fs_event_start(h, on_fs_event, path, 0);
  w->open_handles++;
  if (rc < 0) {
    chat_log_warn("reload", "cannot watch %s: %s", path, uv_strerror(rc));
    uv_close((uv_handle_t *)h, on_event_closed);
    return;
  }
  if (w->n == w->cap) {
    size_t cap = w->cap ? w->cap * 2 : 8;
    uv_fs_event_t **grown = realloc(w->events, cap * sizeof *grown);
    if (grown == NULL) {
      uv_close((uv_handle_t *)h, on_event_closed);
      return;
    }
    w->events = grown;
    w->cap = cap;
  }
  w->events[w->n++] = h;
}

static void watch_if_folder(const char *path, int is_dir, void *ud) {
  if (is_dir) watch_folder(ud, path);
}

/* Watches CHAT_LUA_DIR and every folder below it (core/script_tree.h says which). */
static void watch_tree(chat_script_watch *w, const char *dir) {
  chat_script_tree_walk(dir, watch_if_folder, w);
}

static void unwatch_all(chat_script_watch *w) {
  for (size_t i = 0; i < w->n; i++) uv_close((uv_handle_t *)w->events[i], on_event_closed);
  w->n = 0;
}

/* The burst is over: lay the watches anew on the current tree, then reload if the
 * scripts really changed. */
static void on_settled(uv_timer_t *t) {
  chat_script_watch *w = t->data;
  chat_runtime *rt = w->rt;
  if (w->stopping || rt->stopping) return;
  unwatch_all(w);
  watch_tree(w, rt->config.lua_dir);

  char version[17];
  chat_vm_scripts_version(rt->config.lua_dir, version);
  if (rt->vm && strcmp(version, chat_vm_version(rt->vm)) == 0) {
    chat_log_debug("reload", "%s changed but scripts %s are already running", rt->config.lua_dir,
                   version);
    return;
  }
  if (strcmp(version, w->last_rejected) == 0) return; /* reported already */
  chat_log_info("reload", "scripts in %s changed (now %s): reloading", rt->config.lua_dir, version);
  if (chat_app_reload(rt) < 0)
    memcpy(w->last_rejected, version, sizeof version);
  else
    w->last_rejected[0] = '\0';
}

chat_script_watch *chat_script_watch_start(chat_runtime *rt) {
  chat_script_watch *w = calloc(1, sizeof *w);
  if (w == NULL) return NULL;
  w->rt = rt;
  uv_timer_init(rt->loop, &w->debounce);
  w->debounce.data = w;
  w->open_handles = 1;
  watch_tree(w, rt->config.lua_dir);
  if (w->n == 0) {
    chat_log_warn("reload", "not watching %s: reload with SIGHUP", rt->config.lua_dir);
    chat_script_watch_stop(w);
    return NULL;
  }
  chat_log_info("reload", "watching %s (%zu folders) for changed scripts", rt->config.lua_dir, w->n);
  return w;
}

void chat_script_watch_stop(chat_script_watch *w) {
  if (w == NULL || w->stopping) return;
  w->stopping = 1;
  unwatch_all(w);
  uv_close((uv_handle_t *)&w->debounce, on_timer_closed);
}
