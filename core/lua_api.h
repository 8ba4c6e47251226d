/* The Lua API areas: one injector per area, all with the chat_lua_api_inject_fn shape of
 * lua_vm.h, and the table of them that a generation's "chat.native" is opened from.
 * lua/chat/core.lua documents the whole API. */
#ifndef CHAT_LUA_API_H
#define CHAT_LUA_API_H

#include <lua.h>

#include "lua_vm.h"

struct chat_runtime;

/* Every area, in the order they are opened: { Lua name (NULL: chat.native itself),
 * injector }, ended by { NULL, NULL }. The one place the chat.<area> names are written. */
extern const chat_lua_api_entry CHAT_LUA_APIS[];

/* Each fills the table on top of L (see chat_lua_api_entry). crypto and json need none
 * of the runtime, so their tests open them in a bare Lua state with rt NULL. */
void chat_lua_api_core_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_pg_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_redis_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_stomp_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_kafka_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_metrics_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_crypto_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_json_inject(lua_State *L, struct chat_runtime *rt);

/* Reads the {name = value} table of STOMP headers at idx into NULL-terminated name/value
 * pairs (at most CHAT_STOMP_MAX_EXTRA_HEADERS); nil is none. Returns the count, or -1
 * when it is not such a table. The strings live as long as the table stays on the stack.
 * chat.stomp.broadcast raises on -1; a resume's replay (core/stomp_resume.c) logs it. */
int chat_lua_stomp_headers(lua_State *L, int idx, const char **out);

#endif
