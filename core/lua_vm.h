/* The Lua VM: generations of the application.
 *
 * A chat_vm is one generation of the Lua application: a lua_State with the scripts of
 * CHAT_LUA_DIR loaded and the table returned by `require "chat"` (the app) kept in the
 * registry. A reload builds a new generation; the old one is retired and closed when its
 * last task ends, so requests in flight finish on the code they started with.
 *
 * Tasks (handler runs in a generation) have their own header, lua_task.h. The bindings
 * are not known here: the caller hands chat_vm_new a table of them (lua_api.h's
 * CHAT_LUA_APIS), so the VM depends on no binding area and the bindings depend on the VM
 * only through lua_task.h. */
#ifndef CHAT_LUA_VM_H
#define CHAT_LUA_VM_H

#include <lua.h>

typedef struct chat_vm chat_vm;
struct chat_runtime;

/* One binding area of "chat.native": `inject` fills the table on top of L with the area's
 * functions. For a named area that table is new and becomes chat.native[name]; the entry
 * with a NULL name fills chat.native itself (chat.now, chat.log, ...). `rt` is handed
 * through untouched: the VM never looks inside it. A table ends with a NULL inject. */
typedef void (*chat_lua_api_inject_fn)(lua_State *L, struct chat_runtime *rt);
typedef struct chat_lua_api_entry {
  const char *name;
  chat_lua_api_inject_fn inject;
} chat_lua_api_entry;

/* Builds a generation from `lua_dir`: preloads "chat.native" from `apis` (opened with
 * `rt`), loads `chat` (lua_dir/chat/init.lua), checks it returned a table, and calls
 * app.validate() if present. `apis` must outlive the generation. On error returns NULL
 * and writes a one-line reason (with the file and line) into err. */
chat_vm *chat_vm_new(struct chat_runtime *rt, const char *lua_dir, const chat_lua_api_entry *apis,
                     char *err, size_t errlen);

/* Marks a generation as replaced; it is closed as soon as no task runs in it. */
void chat_vm_retire(chat_vm *vm);

/* A short hash of the scripts this generation was loaded from (for logs and metrics). */
const char *chat_vm_version(const chat_vm *vm);

/* The same hash computed from the files now in `lua_dir` without loading them, so a
 * watcher can tell a real change from noise (an editor's swap file, a touched folder). */
void chat_vm_scripts_version(const char *lua_dir, char out[17]);

/* Copies the array of strings app[field] (e.g. "redis_channels") into a NULL-terminated
 * malloc'ed array (a plain string is a list of one); free it with chat_vm_strings_free.
 * NULL when absent. */
char **chat_vm_strings(chat_vm *vm, const char *field);
void chat_vm_strings_free(char **list);

#endif
