/* The task API: what servers and bindings need from the Lua VM, and nothing more.
 *
 * A chat_task is one handler run: a coroutine calling app[entry](...). Bindings that do
 * I/O follow OpenResty's cosocket pattern: start the operation, `return chat_task_yield(L)`,
 * and the completion callback pushes its results onto the task's thread and calls
 * chat_task_resume(). Completion callbacks must never run synchronously inside the
 * binding that started them.
 *
 * This header is apart from lua_vm.h so that the areas spawning tasks (HTTP, STOMP,
 * Kafka, Redis messages) and the bindings yielding in them depend on the scheduler only,
 * not on how generations are built, loaded and given their bindings. The scheduler itself
 * is in lua_vm.c: a task's end is what lets a retired generation close. */
#ifndef CHAT_LUA_TASK_H
#define CHAT_LUA_TASK_H

#include <lua.h>

typedef struct chat_task chat_task;
struct chat_vm;

/* Called once when a task ends. On success `ok` is 1 and the handler's `nres` return
 * values are on `co` (valid only during the call). On failure `ok` is 0, nres is 0, and
 * the error with its traceback has been logged already. */
typedef void (*chat_task_done_cb)(chat_task *t, lua_State *co, int ok, int nres, void *ud);

/* Pushes the handler's arguments onto `co`; returns how many. */
typedef int (*chat_task_push_args)(lua_State *co, void *ud);

/* Runs app[entry](args...) in a new coroutine of `vm`. Returns 0, or a negative code when
 * app[entry] is not a function (done_cb is then not called). The task may finish before
 * this returns (a handler that does no I/O): done_cb is called from inside this call. */
int chat_task_spawn(struct chat_vm *vm, const char *entry, chat_task_push_args push, void *push_ud,
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
