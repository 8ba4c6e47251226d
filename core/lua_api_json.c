/* chat.json: the strict JSON decoder (core/json_decode.c) for lua/chat/lib/json.lua.
 *
 *   decode = chat.json.decoder{ null = json.null, object = mt, array = mt,
 *                               max_depth = 64, allow_nul = false }
 *   value = decode(text)          or nil, "invalid number at position 12"
 *   chat.json.quote(s)            -> s as a JSON string literal, escaped as Jackson does
 *
 * A decoder is made once, with the application's null sentinel and the metatables its
 * encoder recognises as upvalues, so decoding passes nothing but the text. A text that is
 * not accepted is an answer (nil and the reason with its 1-based byte position), never an
 * error: request bodies come from clients. Only a wrong argument type raises. */
#include <lauxlib.h>
#include <string.h>

#include "json_decode.h"
#include "lua_api.h"

enum { UP_NULL = 1, UP_OBJECT, UP_ARRAY, UP_DEPTH, UP_NUL };

static int decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  chat_json_options opt = {
      .null_index = lua_upvalueindex(UP_NULL),
      .object_mt_index = lua_istable(L, lua_upvalueindex(UP_OBJECT)) ? lua_upvalueindex(UP_OBJECT) : 0,
      .array_mt_index = lua_istable(L, lua_upvalueindex(UP_ARRAY)) ? lua_upvalueindex(UP_ARRAY) : 0,
      .max_depth = (int)lua_tointeger(L, lua_upvalueindex(UP_DEPTH)),
      .allow_nul = lua_toboolean(L, lua_upvalueindex(UP_NUL)),
  };
  chat_json_error err;
  if (chat_json_decode(L, text, len, &opt, &err) == 0) return 1;
  lua_pushnil(L);
  lua_pushfstring(L, "%s at position %I", err.reason, (lua_Integer)err.position);
  return 2;
}

/* chat.json.decoder(options) -> a decode function bound to those options. */
static int decoder(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "null");
  if (lua_getfield(L, 1, "object") != LUA_TNIL) luaL_checktype(L, -1, LUA_TTABLE);
  if (lua_getfield(L, 1, "array") != LUA_TNIL) luaL_checktype(L, -1, LUA_TTABLE);
  lua_getfield(L, 1, "max_depth");
  lua_Integer depth = luaL_optinteger(L, -1, CHAT_JSON_DEFAULT_DEPTH);
  luaL_argcheck(L, depth >= 1 && depth <= CHAT_JSON_DEPTH_LIMIT, 1, "max_depth must be 1..1024");
  lua_pop(L, 1);
  lua_pushinteger(L, depth);
  lua_getfield(L, 1, "allow_nul");
  lua_pushboolean(L, lua_toboolean(L, -1));
  lua_remove(L, -2);
  lua_pushcclosure(L, decode, 5);
  return 1;
}

/* Jackson's escaping: the quote, the backslash and control characters only, the common
 * ones by name and the rest as uppercase \u00XX; other bytes, UTF-8 included, as they are.
 * In C because every message's JSON quotes four strings: the Lua gsub was half of a
 * history page's cost. A string needing no escape (nearly all) is one scan and one copy. */
static int quote(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  size_t clean = 0;
  while (clean < len && (unsigned char)s[clean] >= 0x20 && s[clean] != '"' && s[clean] != '\\') clean++;
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, len + 2);
  out[0] = '"';
  memcpy(out + 1, s, clean);
  luaL_addsize(&b, clean + 1);
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = clean; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *named = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                      : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
    if (named != NULL) {
      luaL_addstring(&b, named);
    } else if (c < 0x20) {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      luaL_addlstring(&b, u, sizeof u);
    } else {
      luaL_addchar(&b, (char)c);
    }
  }
  luaL_addchar(&b, '"');
  luaL_pushresult(&b);
  return 1;
}

void chat_lua_api_json_inject(lua_State *L, struct chat_runtime *rt) {
  (void)rt; /* nothing here depends on the runtime */
  static const luaL_Reg fns[] = {{"decoder", decoder}, {"quote", quote}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
