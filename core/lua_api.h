/* One injector per Lua API area: each adds its table (pg, redis, stomp, ...) to the
 * "chat.native" table on top of the stack. lua/chat/core.lua documents the whole API. */
#ifndef CHAT_LUA_API_H
#define CHAT_LUA_API_H

#include <lua.h>

struct chat_runtime;
struct chat_pg_pool;
struct chat_redis;
struct chat_stomp_hub;
struct chat_kafka;

void chat_lua_api_core_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_pg_inject(lua_State *L, struct chat_pg_pool *pool);
void chat_lua_api_redis_inject(lua_State *L, struct chat_redis *redis);
void chat_lua_api_stomp_inject(lua_State *L, struct chat_stomp_hub *hub);
void chat_lua_api_kafka_inject(lua_State *L, struct chat_kafka *kafka);
void chat_lua_api_metrics_inject(lua_State *L, struct chat_runtime *rt);
void chat_lua_api_crypto_inject(lua_State *L);
void chat_lua_api_json_inject(lua_State *L);

#endif
