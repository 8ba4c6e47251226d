/* The table of Lua API areas (lua_api.h). A new area is a lua_api_<area>.c and a line
 * here; lua_vm.c opens whatever this table lists without knowing any area. */
#include <stddef.h>

#include "lua_api.h"

const chat_lua_api_entry CHAT_LUA_APIS[] = {
    {NULL, chat_lua_api_core_inject}, /* chat.now, chat.sleep, chat.log, chat.config, ... */
    {"pg", chat_lua_api_pg_inject},
    {"redis", chat_lua_api_redis_inject},
    {"stomp", chat_lua_api_stomp_inject},
    {"kafka", chat_lua_api_kafka_inject},
    {"metrics", chat_lua_api_metrics_inject},
    {"crypto", chat_lua_api_crypto_inject},
    {"json", chat_lua_api_json_inject},
    {NULL, NULL},
};
