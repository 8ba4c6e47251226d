/* The Lua VM and its coroutine scheduler.
 *
 * A chat_vm is one generation of the Lua application: a lua_State with the scripts of
 * CHAT_LUA_DIR loaded and the table returned by `require "chat"` (the app) kept in the
 * registry. A reload builds a new generation; the old one is retired and closed when its
 * last task ends, so requests in flight finish on the code they started with.
 *
 * A chat_task is one handler run: a coroutine calling app[entry](...). Bindings that do
 * I/O follow OpenResty's cosocket pattern: start the operation, `return chat_task_yield(L)`,
 * and the completion callback pushes its results onto the task's thread and calls
 * chat_task_resume(). Completion callbacks must never run synchronously inside the
 * binding that started them. */
#ifndef CHAT_LUA_VM_H
#define CHAT_LUA_VM_H

#include <lua.h>

typedef struct chat_vm chat_vm;
typedef struct chat_task chat_task;
struct chat_runtime;

/* Called once when a task ends. On success `ok` is 1 and the handler's `nres` return
 * values are on `co` (valid only during the call). On failure `ok` is 0, nres is 0, and
 * the error with its traceback has been logged already. */
typedef void (*chat_task_done_cb)(chat_task *t, lua_State *co, int ok, int nres, void *ud);

/* Pushes the handler's arguments onto `co`; returns how many. */
typedef int (*chat_task_push_args)(lua_State *co, void *ud);

/* Builds a generation from `lua_dir`: loads `chat` (lua_dir/chat/init.lua), checks it
 * returned a table, and calls app.validate() if present. On error returns NULL and writes
 * a one-line reason (with the file and line) into err. */
chat_vm *chat_vm_new(struct chat_runtime *rt, const char *lua_dir, char *err, size_t errlen);

/* Marks a generation as replaced; it is closed as soon as no task runs in it. */
void chat_vm_retire(chat_vm *vm);

/* A short hash of the scripts this generation was loaded from (for logs and metrics). */
const char *chat_vm_version(const chat_vm *vm);

/* The same hash computed from the files now in `lua_dir` without loading them, so a
 * watcher can tell a real change from noise (an editor's swap file, a touched folder). */
void chat_vm_scripts_version(const char *lua_dir, char out[17]);

/* Copies the array of strings app[field] (e.g. "redis_channels") into a NULL-terminated
 * malloc'ed array; free it with chat_vm_strings_free. NULL when absent. */
char **chat_vm_strings(chat_vm *vm, const char *field);
void chat_vm_strings_free(char **list);

/* Runs app[entry](args...) in a new coroutine of `vm`. Returns 0, or a negative code when
 * app[entry] is not a function (done_cb is then not called). The task may finish before
 * this returns (a handler that does no I/O): done_cb is called from inside this call. */
int chat_task_spawn(chat_vm *vm, const char *entry, chat_task_push_args push, void *push_ud,
                    chat_task_done_cb done, void *done_ud);

/* Tasks running or waiting for I/O, in every generation (metrics, graceful stop). */
int chat_tasks_running(void);

/* The task whose coroutine is L, or NULL when L is not a handler's own coroutine
 * (the main thread during validate(), or a coroutine the script created itself). */
chat_task *chat_task_from(lua_State *L);

/* For bindings: `return chat_task_yield(L);` after starting I/O on behalf of the task.
 * Raises a Lua error when L is not a task coroutine, since nothing would resume it. */
int chat_task_yield(lua_State *L);

/* The coroutine to push results onto before chat_task_resume(). */
lua_State *chat_task_thread(chat_task *t);

/* Resumes a yielded task with the top `nargs` values of its thread as the binding's results. */
void chat_task_resume(chat_task *t, int nargs);

#endif
