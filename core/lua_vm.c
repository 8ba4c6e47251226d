/* Lua generations and the coroutine scheduler (see lua_vm.h and lua_task.h for the model).
 * Both live here because a task's end is what closes a retired generation. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "log.h"
#include "lua_profile.h"
#include "lua_task.h"
#include "lua_vm.h"
#include "runtime.h"
#include "script_tree.h"

struct chat_vm {
  lua_State *L;
  struct chat_runtime *rt;        /* handed to the bindings, never looked into */
  const chat_lua_api_entry *apis; /* the bindings "chat.native" is opened from */
  int app_ref;
  int tasks;   /* tasks started in this generation that have not ended */
  int retired; /* replaced by a newer generation: close when tasks reaches 0 */
  char version[17];
};

struct chat_task {
  chat_vm *vm;
  lua_State *co;
  int co_ref;   /* keeps the coroutine alive while it waits for I/O */
  int waiting;  /* yielded from a binding, which will resume it */
  chat_task_done_cb done;
  void *done_ud;
};

static chat_task **task_slot(lua_State *L) { return (chat_task **)lua_getextraspace(L); }

/* Tasks of every generation, retired ones included: a graceful stop waits for zero
 * before it closes the pools those tasks are using. */
static int tasks_running;

int chat_tasks_running(void) { return tasks_running; }

/* ---- version hash: FNV-1a over the sorted relative paths and contents ---- */

typedef struct {
  char **paths;
  size_t n, cap;
} path_list;

static void collect_script(const char *path, int is_dir, void *ud) {
  path_list *out = ud;
  if (is_dir) return;
  if (out->n == out->cap) {
    out->cap = out->cap ? out->cap * 2 : 32;
    out->paths = realloc(out->paths, out->cap * sizeof *out->paths);
  }
  out->paths[out->n++] = strdup(path);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

void chat_vm_scripts_version(const char *dir, char out[17]) {
  path_list files = {0};
  chat_script_tree_walk(dir, collect_script, &files);
  qsort(files.paths, files.n, sizeof *files.paths, cmp_str);
  uint64_t h = CHAT_HASH_SEED;
  size_t skip = strlen(dir);
  for (size_t i = 0; i < files.n; i++) {
    h = chat_hash_bytes(h, files.paths[i] + skip, strlen(files.paths[i] + skip));
    FILE *f = fopen(files.paths[i], "rb");
    if (f != NULL) {
      char buf[8192];
      size_t n;
      while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        h = chat_hash_bytes(h, buf, n);
      fclose(f);
    }
    free(files.paths[i]);
  }
  free(files.paths);
  snprintf(out, 17, "%016llx", (unsigned long long)h);
}

/* ---- generations ---- */

static int traceback_handler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) msg = luaL_tolstring(L, 1, NULL);
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* The C primitives, preloaded as "chat.native"; lua/chat/core.lua builds on them. The
 * bindings come from the generation's table, so this file names none of them. */
static int open_native(lua_State *L) {
  const chat_vm *vm = lua_touserdata(L, lua_upvalueindex(1));
  lua_newtable(L);
  for (const chat_lua_api_entry *e = vm->apis; e->inject != NULL; e++) {
    if (e->name == NULL) {
      e->inject(L, vm->rt);
      continue;
    }
    lua_newtable(L);
    e->inject(L, vm->rt);
    lua_setfield(L, -2, e->name);
  }
  return 1;
}

/* Runs `chunk` (on top of L) under the traceback handler; on error copies the first
 * line of the message into err. */
static int protected_call(lua_State *L, int nargs, int nres, char *err, size_t errlen) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, traceback_handler);
  lua_insert(L, base);
  int rc = lua_pcall(L, nargs, nres, base);
  lua_remove(L, base);
  if (rc != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    chat_log_error("lua", "%s", msg ? msg : "(error object is not a string)");
    snprintf(err, errlen, "%.*s", (int)strcspn(msg ? msg : "error", "\n"), msg ? msg : "error");
    lua_pop(L, 1);
    return -1;
  }
  return 0;
}

chat_vm *chat_vm_new(struct chat_runtime *rt, const char *lua_dir, const chat_lua_api_entry *apis,
                     char *err, size_t errlen) {
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    snprintf(err, errlen, "out of memory creating a Lua state");
    return NULL;
  }
  *task_slot(L) = NULL; /* coroutines created by scripts copy this: they are not tasks */
  luaL_openlibs(L);
  if (rt != NULL && rt->config.lua_profile != NULL) chat_lua_profile_attach(L); /* tasks inherit the hook */

  /* Made before "chat.native" is preloaded: open_native finds the bindings through it. */
  chat_vm *vm = calloc(1, sizeof *vm);
  vm->L = L;
  vm->rt = rt;
  vm->apis = apis;
  chat_vm_scripts_version(lua_dir, vm->version);

  /* The scripts' folder comes first so an operator's copy shadows nothing by accident
   * but wins over system-wide modules of the same name. */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "path");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;%s", lua_dir, lua_dir, lua_tostring(L, -1));
  lua_setfield(L, -3, "path");
  lua_pop(L, 1);
  lua_getfield(L, -1, "preload");
  lua_pushlightuserdata(L, vm);
  lua_pushcclosure(L, open_native, 1);
  lua_setfield(L, -2, "chat.native");
  lua_pop(L, 2);

  lua_getglobal(L, "require");
  lua_pushliteral(L, "chat");
  if (protected_call(L, 1, 1, err, errlen) < 0) goto fail;
  if (!lua_istable(L, -1)) {
    snprintf(err, errlen, "%s/chat/init.lua must return the application table", lua_dir);
    goto fail;
  }
  lua_getfield(L, -1, "validate");
  if (lua_isfunction(L, -1)) {
    if (protected_call(L, 0, 0, err, errlen) < 0) goto fail;
  } else {
    lua_pop(L, 1);
  }
  vm->app_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return vm;

fail:
  lua_close(L);
  free(vm);
  return NULL;
}

static void vm_close_if_idle(chat_vm *vm) {
  if (vm->retired && vm->tasks == 0) {
    chat_log_debug("lua", "closing retired generation %s", vm->version);
    lua_close(vm->L);
    free(vm);
  }
}

void chat_vm_retire(chat_vm *vm) {
  if (vm == NULL) return;
  vm->retired = 1;
  vm_close_if_idle(vm);
}

const char *chat_vm_version(const chat_vm *vm) { return vm->version; }

char **chat_vm_strings(chat_vm *vm, const char *field) {
  lua_State *L = vm->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, vm->app_ref);
  lua_getfield(L, -1, field);
  char **list = NULL;
  if (lua_istable(L, -1)) {
    lua_Integer n = luaL_len(L, -1);
    list = calloc((size_t)n + 1, sizeof *list);
    size_t k = 0;
    for (lua_Integer i = 1; list && i <= n; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) == LUA_TSTRING) list[k++] = strdup(lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    list = calloc(2, sizeof *list);
    if (list) list[0] = strdup(lua_tostring(L, -1));
  }
  lua_pop(L, 2);
  return list;
}

void chat_vm_strings_free(char **list) {
  for (char **p = list; p && *p; p++) free(*p);
  free(list);
}

/* ---- tasks ---- */

static void task_end(chat_task *t) {
  chat_vm *vm = t->vm;
  luaL_unref(vm->L, LUA_REGISTRYINDEX, t->co_ref);
  free(t);
  vm->tasks--;
  tasks_running--;
  vm_close_if_idle(vm);
}

/* Resumes the coroutine and handles how it stopped: waiting for I/O, finished, failed. */
static void task_run(chat_task *t, int nargs) {
  int nres = 0;
  int rc = lua_resume(t->co, NULL, nargs, &nres);
  if (rc == LUA_YIELD) {
    if (t->waiting) return; /* a binding started I/O and will resume us */
    /* A bare coroutine.yield() in a handler: nothing would ever resume it. */
    lua_pop(t->co, nres);
    lua_pushliteral(t->co, "a handler yielded outside an I/O call (coroutine.yield in a handler?)");
    rc = LUA_ERRRUN;
  }
  if (rc == LUA_OK) {
    t->done(t, t->co, 1, nres, t->done_ud);
  } else {
    const char *msg = lua_tostring(t->co, -1);
    luaL_traceback(t->vm->L, t->co, msg ? msg : "(error object is not a string)", 0);
    chat_log_error("lua", "handler failed: %s", lua_tostring(t->vm->L, -1));
    lua_pop(t->vm->L, 1);
    t->done(t, t->co, 0, 0, t->done_ud);
  }
  task_end(t);
}

int chat_task_spawn(chat_vm *vm, const char *entry, chat_task_push_args push, void *push_ud,
                    chat_task_done_cb done, void *done_ud) {
  lua_State *L = vm->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, vm->app_ref);
  lua_getfield(L, -1, entry);
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 2);
    return -1;
  }
  chat_task *t = calloc(1, sizeof *t);
  if (t == NULL) {
    lua_pop(L, 2);
    return -2;
  }
  t->co = lua_newthread(L);
  t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(L, t->co, 1); /* the handler function */
  lua_pop(L, 1);          /* the app table */
  *task_slot(t->co) = t;
  if (vm->rt != NULL && vm->rt->config.lua_profile != NULL) chat_lua_profile_attach(t->co); /* a phase of its own */
  t->vm = vm;
  t->done = done;
  t->done_ud = done_ud;
  vm->tasks++;
  tasks_running++;
  int nargs = push ? push(t->co, push_ud) : 0;
  task_run(t, nargs);
  return 0;
}

chat_task *chat_task_from(lua_State *L) { return *task_slot(L); }

int chat_task_yield(lua_State *L) {
  chat_task *t = chat_task_from(L);
  if (t == NULL || t->co != L)
    return luaL_error(L, "I/O is only possible from a handler's own coroutine");
  t->waiting = 1;
  return lua_yield(L, 0);
}

lua_State *chat_task_thread(chat_task *t) { return t->co; }

void chat_task_resume(chat_task *t, int nargs) {
  t->waiting = 0;
  task_run(t, nargs);
}
