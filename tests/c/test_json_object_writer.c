/* chat.json.object_writer (core/lua_api_json.c), the way lua/chat/domain/messages.lua writes
 * a history page: exact texts for each kind and for absent fields, escaping, timestamps'
 * fractions, many rows against a Lua reference, and the specs and rows it must refuse. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "lua_api.h"

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) == LUA_OK) return 1;
  fprintf(stderr, "    lua: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

/* The writer history pages use, on rows as chat.pg returns them. */
static const char PRELUDE[] =
    "write = json_native.object_writer {\n"
    "  { 'id', 'id', 'integer' }, { 'chatRoomId', 'chat_room_id', 'integer' },\n"
    "  { 'senderNickname', 'sender_nickname', 'string' }, { 'content', 'content', 'string' },\n"
    "  { 'createdAt', 'created_at', 'localtime' },\n"
    "}\n";

static void check_texts(lua_State *L) {
  CHECK(run(L, "local text, n = write {}\n"
               "assert(text == '' and n == 0, 'no rows: no text')"));
  CHECK(run(L, "local text, n = write { { id = 4, chat_room_id = 7, sender_nickname = '홍길동',\n"
               "  content = 'a\"b\\\\c\\n\\1', created_at = 1736400600.5 } }\n"
               "assert(n == 1)\n"
               "assert(text == '{\"id\":4,\"chatRoomId\":7,\"senderNickname\":\"홍길동\",'\n"
               "  .. '\"content\":\"a\\\\\"b\\\\\\\\c\\\\n\\\\u0001\",\"createdAt\":\"2025-01-09T05:30:00.5\"}', text)"));
  CHECK(run(L, "local text = write { { id = 5, chat_room_id = 7, created_at = 1736400660 },\n"
               "  { id = 6, chat_room_id = 7, content = 'x', created_at = 1736400660.000001 } }\n"
               "assert(text == '{\"id\":5,\"chatRoomId\":7,\"senderNickname\":null,\"content\":null,'\n"
               "  .. '\"createdAt\":\"2025-01-09T05:31:00\"},{\"id\":6,\"chatRoomId\":7,\"senderNickname\":null,'\n"
               "  .. '\"content\":\"x\",\"createdAt\":\"2025-01-09T05:31:00.000001\"}', text)"));
  /* A float id with an integer value is written as the integer; a count as a string field. */
  CHECK(run(L, "local text = write { { id = 9.0, chat_room_id = -1, content = 12, created_at = 0 } }\n"
               "assert(text == '{\"id\":9,\"chatRoomId\":-1,\"senderNickname\":null,\"content\":\"12\",'\n"
               "  .. '\"createdAt\":\"1970-01-01T00:00:00\"}', text)"));
  /* Numbers in string fields, many rows: the buffer grows while their text is held. */
  CHECK(run(L, "local rows = {}\n"
               "for i = 1, 3000 do rows[i] = { id = i, chat_room_id = 1, content = i % 2 == 0 and i or i + 0.5, created_at = 0 } end\n"
               "local text = write(rows)\n"
               "assert(text:find('\"content\":\"3000\"', 1, true) and text:find('\"content\":\"2999.5\"', 1, true))\n"
               "collectgarbage()\n"
               "assert(#text > 3000 * 80)"));
  CHECK(run(L, "local text = write { { id = math.mininteger, chat_room_id = math.maxinteger, created_at = 0.9999999 } }\n"
               "assert(text == '{\"id\":-9223372036854775808,\"chatRoomId\":9223372036854775807,'\n"
               "  .. '\"senderNickname\":null,\"content\":null,\"createdAt\":\"1970-01-01T00:00:01\"}', text)"));
}

/* 2,000 rows of random fields against the same objects written in Lua. */
static void check_against_lua(lua_State *L) {
  CHECK(run(L, "math.randomseed(42)\n"
               "local q = json_native.quote\n"
               "local function iso(t)\n"
               "  local s = os.date('!%Y-%m-%dT%H:%M:%S', t // 1)\n"
               "  local us = math.floor((t - t // 1) * 1e6 + 0.5)\n"
               "  if us > 0 then s = s .. ('.%06d'):format(us):gsub('0+$', '') end\n"
               "  return s\n"
               "end\n"
               "local rows, want = {}, {}\n"
               "for i = 1, 2000 do\n"
               "  local bytes = {}\n"
               "  for j = 1, math.random(0, 20) do bytes[j] = string.char(math.random(0, 255)) end\n"
               "  local row = { id = math.random(1, 1 << 50), chat_room_id = math.random(1, 1000),\n"
               "    content = table.concat(bytes), created_at = 1.7e9 + math.random(0, 1e6) + math.random(0, 999999) / 1e6 }\n"
               "  if i % 3 == 0 then row.sender_nickname = 'n' .. i end\n"
               "  rows[i] = row\n"
               "  want[i] = ('{\"id\":%d,\"chatRoomId\":%d,\"senderNickname\":%s,\"content\":%s,\"createdAt\":\"%s\"}')\n"
               "    :format(row.id, row.chat_room_id, row.sender_nickname and q(row.sender_nickname) or 'null',\n"
               "      q(row.content), iso(row.created_at))\n"
               "end\n"
               "local text, n = write(rows)\n"
               "assert(n == 2000)\n"
               "assert(text == table.concat(want, ','), 'differs from the Lua reference')"));
}

static void check_refusals(lua_State *L) {
  CHECK(run(L, "local ok, err = pcall(write, { { id = 'x', chat_room_id = 1, created_at = 0 } })\n"
               "assert(not ok and err:find('row 1: field 1 is a string'), err)"));
  CHECK(run(L, "local ok, err = pcall(write, { { id = 1.5, chat_room_id = 1, created_at = 0 } })\n"
               "assert(not ok and err:find('row 1: field 1'), err)"));
  CHECK(run(L, "local ok, err = pcall(write, { { id = 1, chat_room_id = 1, created_at = '2025' } })\n"
               "assert(not ok and err:find('field 5 is a string'), err)"));
  CHECK(run(L, "local ok, err = pcall(write, { {}, 'not a row' })\n"
               "assert(not ok and err:find('row 2 is not a table'), err)"));
  CHECK(run(L, "assert(not pcall(write, 'rows'))"));
  CHECK(run(L, "local w = json_native.object_writer\n"
               "assert(not pcall(w, {}), 'no fields')\n"
               "assert(not pcall(w, { { 'id', 'id', 'float' } }), 'an unknown kind')\n"
               "assert(not pcall(w, { { 'id', 'id' } }), 'no kind')\n"
               "assert(not pcall(w, { { 1, 'id', 'integer' } }), 'a key that is not a string')\n"
               "assert(not pcall(w, { 'id' }), 'a field that is not a table')\n"
               "assert(not pcall(w, { { string.rep('k', 77), 'id', 'integer' } }), 'a key too long')\n"
               "local many = {}\n"
               "for i = 1, 33 do many[i] = { 'k' .. i, 'k' .. i, 'integer' } end\n"
               "assert(not pcall(w, many), 'too many fields')\n"
               "many[33] = nil\n"
               "assert(select(2, w(many)({ {} })) == 1, 'thirty-two are fine')"));
}

int main(void) {
  setenv("TZ", "UTC", 1); /* "localtime" fields are in the process's zone */
  tzset();
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L);
  chat_lua_api_json_inject(L, NULL);
  lua_setglobal(L, "json_native");
  if (!run(L, PRELUDE)) return 1;
  check_texts(L);
  check_against_lua(L);
  check_refusals(L);
  lua_close(L);
  CHECK_DONE();
}
