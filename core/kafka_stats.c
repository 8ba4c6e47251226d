/* librdkafka's statistics, read (kafka_stats.h). */
#include "kafka_stats.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <string.h>

#include "json_decode.h"

/* brokers: { "<name>": { "state": "UP", ... }, ... } */
static int count_brokers_up(lua_State *L, int brokers) {
  int up = 0;
  lua_pushnil(L);
  while (lua_next(L, brokers) != 0) {
    if (lua_istable(L, -1) && lua_getfield(L, -1, "state") == LUA_TSTRING && strcmp(lua_tostring(L, -1), "UP") == 0)
      up++;
    lua_settop(L, brokers + 1); /* keep the key for lua_next */
  }
  return up;
}

/* topics: { "<topic>": { "partitions": { "<n>": { "consumer_lag": L, ... } } } }; the
 * partition "-1" is librdkafka's own bookkeeping, and a lag of -1 means not known yet. */
static void read_lags(lua_State *L, int topics, chat_kafka_stats *out) {
  lua_pushnil(L);
  while (lua_next(L, topics) != 0) {
    const char *topic = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    if (topic && strlen(topic) < CHAT_KAFKA_STATS_TOPIC_MAX && lua_istable(L, -1) &&
        lua_getfield(L, -1, "partitions") == LUA_TTABLE) {
      int parts = lua_gettop(L);
      lua_pushnil(L);
      while (lua_next(L, parts) != 0) {
        int partition = -1;
        if (lua_type(L, -2) == LUA_TSTRING && sscanf(lua_tostring(L, -2), "%d", &partition) == 1 && partition >= 0 &&
            lua_istable(L, -1) && lua_getfield(L, -1, "consumer_lag") == LUA_TNUMBER && lua_isinteger(L, -1) &&
            lua_tointeger(L, -1) >= 0 && out->npartitions < CHAT_KAFKA_STATS_MAX_PARTITIONS) {
          chat_kafka_partition_lag *p = &out->partitions[out->npartitions++];
          snprintf(p->topic, sizeof p->topic, "%s", topic);
          p->partition = partition;
          p->lag = (int64_t)lua_tointeger(L, -1);
        }
        lua_settop(L, parts + 1); /* keep the key for lua_next */
      }
    }
    lua_settop(L, topics + 1);
  }
}

int chat_kafka_stats_read(const char *json, size_t len, chat_kafka_stats *out) {
  memset(out, 0, sizeof *out);
  lua_State *L = luaL_newstate();
  if (L == NULL) return -1;
  chat_json_options opt = {0};
  chat_json_error err;
  int ok = chat_json_decode(L, json, len, &opt, &err) == 0 && lua_istable(L, -1);
  if (ok) {
    int doc = lua_gettop(L);
    if (lua_getfield(L, doc, "brokers") == LUA_TTABLE) out->brokers_up = count_brokers_up(L, lua_gettop(L));
    lua_settop(L, doc);
    if (lua_getfield(L, doc, "topics") == LUA_TTABLE) read_lags(L, lua_gettop(L), out);
  }
  lua_close(L);
  return ok ? 0 : -1;
}
