/* A sampling profile of the Lua scripts (CHAT_LUA_PROFILE): which Lua functions the VM
 * spends its instructions in. perf sees the interpreter as one opaque loop; this names the
 * scripts' functions. One sample per CHAT_LUA_PROFILE_PERIOD VM instructions, taken by a
 * count hook on the main Lua state, which every task's coroutine inherits; counts survive
 * reloads (a function is known by its file and first line, not by a pointer). Time spent in
 * C functions called from Lua (chat.pg, chat.stomp.broadcast, ...) is not counted: perf
 * names those. */
#ifndef CHAT_LUA_PROFILE_H
#define CHAT_LUA_PROFILE_H

#include <lua.h>
#include <stdint.h>
#include <stdio.h>

/* The mean distance between samples, in instructions. Every request and message runs in a
 * new coroutine of a few hundred instructions, and Lua counts each coroutine's
 * instructions from zero: with a fixed period every request would be sampled at the same
 * few places (its 100th, 200th... instruction). So each distance is drawn at random
 * between 1 and twice the mean, from a task's first instruction on: every instruction has
 * the same chance to be sampled. The hook costs CPU (a diagnostic mode: shares stay
 * right, rates drop). */
enum { CHAT_LUA_PROFILE_PERIOD = 100 };

/* Starts sampling a Lua state or coroutine: each VM at its creation, each task's coroutine
 * (a coroutine made by a script inherits its creator's hook). */
void chat_lua_profile_attach(lua_State *L);

/* The samples so far, most first: "samples share function" lines after a header. */
void chat_lua_profile_write(FILE *out);

/* Writes them to `path` (replacing it); 0, or -1 with errno set. */
int chat_lua_profile_save(const char *path);

/* Samples taken so far (tests). */
uint64_t chat_lua_profile_samples(void);

#endif
