/* Fuzzes chatd's JSON decoding: core/json_decode.c, differentially against jansson (a
 * strict RFC 8259 decoder with exact long long integers, a test-only dependency), and
 * lua/chat/lib/json.lua on top of it as chatd runs it (every request body, STOMP payload,
 * Redis message and Kafka record goes through json.decode before any business rule).
 *
 * Per input:
 * 1. jansson (JSON_DECODE_ANY | JSON_ALLOW_NUL) and the C decoder with its limits widened
 *    (NUL allowed, 1024 levels, no cost limit) must agree: both accept or both refuse,
 *    and accepted values are equal (integers exactly and as integers, floats equal and as
 *    floats, strings byte for byte, arrays and objects member for member, null as the
 *    sentinel, the object and array markers set). The documented exceptions: jansson
 *    refuses NUL in object keys, and nesting past 1024 levels is refused by the decoder.
 * 2. json.decode, chatd's options (NUL refused, 64 levels, the cost limit), must give the
 *    same value as (1), or refuse for a reason the input really has: a \u0000 where it
 *    says, nesting past 64 levels in jansson's value, or the cost limit.
 * 3. json.decode never throws and gives a value or nil and a string; json.encode of an
 *    accepted value decodes again and re-encodes to the same text.
 * Any difference aborts with the input and what differed. Lua lines count as coverage
 * (fuzz_lua.h). */
#include <jansson.h>
#include <string.h>

#include "fuzz_lua.h"
#include "fuzz_support.h"
#include "json_decode.h"
#include "lua_api.h"

/* Called with the checker's module; returns the function run per input. */
static const char CHECKER[] =
    "local json = require 'chat.lib.json'\n"
    "return function(text)\n"
    "  local ok, value, err = pcall(json.decode, text)\n"
    "  if not ok then error('json.decode threw: ' .. tostring(value), 0) end\n"
    "  if value == nil then\n"
    "    if type(err) ~= 'string' then error('json.decode gave nil without a reason', 0) end\n"
    "    return nil, err\n"
    "  end\n"
    "  if err ~= nil then error('json.decode gave a value and an error', 0) end\n"
    "  local ok1, text1 = pcall(json.encode, value)\n"
    "  if not ok1 then error('json.encode threw on a decoded value: ' .. tostring(text1), 0) end\n"
    "  local again, err2 = json.decode(text1)\n"
    "  if again == nil and not tostring(err2):find('^document too large') then\n"
    "    error('encoded text does not decode: ' .. tostring(err2) .. ' in ' .. text1, 0)\n"
    "  end\n"
    "  if again ~= nil then\n"
    "    local text2 = json.encode(again)\n"
    "    local text3 = json.encode(json.decode(text2))\n"
    "    if text2 ~= text3 then error('encoding is not stable: ' .. text2 .. ' then ' .. text3, 0) end\n"
    "  end\n"
    "  return value\n"
    "end, json.null\n";

static lua_State *L;
static int checker_ref;
/* Stack slots that stay for the whole run: the strict decode's null and markers, and
 * json.lua's null. */
enum { SLOT_NULL = 1, SLOT_OBJECT, SLOT_ARRAY, SLOT_JSON_NULL, SLOTS };

static void start_lua(void) {
  L = fuzz_lua_start();
  /* package.loaded["chat.core"] = {json = chat.json}: json.lua takes the C decoder. */
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "loaded");
  lua_newtable(L);
  lua_newtable(L); /* chat.core.json, filled as lua_vm.c fills it */
  chat_lua_api_json_inject(L, NULL);
  lua_setfield(L, -2, "json");
  lua_setfield(L, -2, "chat.core");
  lua_pop(L, 2);
  lua_settop(L, 0);
  lua_newtable(L); /* SLOT_NULL */
  lua_newtable(L); /* SLOT_OBJECT */
  lua_newtable(L); /* SLOT_ARRAY */
  if (luaL_loadbuffer(L, CHECKER, sizeof CHECKER - 1, "=fuzz_json") != LUA_OK || lua_pcall(L, 0, 2, 0) != LUA_OK) {
    fprintf(stderr, "fuzz_json: %s\n", lua_tostring(L, -1));
    abort();
  }
  /* SLOT_JSON_NULL is json.null; the checker goes to the registry. */
  lua_insert(L, -2);
  checker_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  FUZZ_ASSERT(lua_gettop(L) == SLOTS - 1);
  fuzz_lua_hook(L);
  (void)fuzz_lua_check; /* the checker here returns results, so it is called directly */
}

static int depth_of(json_t *v) {
  int deepest = 0;
  size_t i;
  const char *key;
  json_t *item;
  if (json_is_array(v)) {
    json_array_foreach(v, i, item) {
      int d = depth_of(item);
      if (d > deepest) deepest = d;
    }
    return deepest + 1;
  }
  if (json_is_object(v)) {
    json_object_foreach(v, key, item) {
      int d = depth_of(item);
      if (d > deepest) deepest = d;
    }
    return deepest + 1;
  }
  return 0;
}

/* The marker of a decoded table: 1 object, 2 array, 0 neither. With explicit marker slots
 * (the strict decode) by identity, else (json.lua's) by __jsontype. */
static int marker(int idx, int explicit_slots) {
  if (!lua_getmetatable(L, idx)) return 0;
  int kind = 0;
  if (explicit_slots) {
    kind = lua_rawequal(L, -1, SLOT_OBJECT) ? 1 : lua_rawequal(L, -1, SLOT_ARRAY) ? 2 : 0;
  } else {
    lua_getfield(L, -1, "__jsontype");
    const char *t = lua_tostring(L, -1);
    kind = t && strcmp(t, "object") == 0 ? 1 : t && strcmp(t, "array") == 0 ? 2 : 0;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return kind;
}

/* Whether the Lua value at idx equals jansson's v (see the top of the file). */
static int same(int idx, json_t *v, int null_slot, int explicit_slots) {
  idx = lua_absindex(L, idx);
  luaL_checkstack(L, 4, "fuzz_json");
  switch (json_typeof(v)) {
  case JSON_NULL: return lua_rawequal(L, idx, null_slot);
  case JSON_TRUE: return lua_isboolean(L, idx) && lua_toboolean(L, idx);
  case JSON_FALSE: return lua_isboolean(L, idx) && !lua_toboolean(L, idx);
  case JSON_INTEGER: return lua_isinteger(L, idx) && lua_tointeger(L, idx) == json_integer_value(v);
  case JSON_REAL: return lua_type(L, idx) == LUA_TNUMBER && !lua_isinteger(L, idx) && lua_tonumber(L, idx) == json_real_value(v);
  case JSON_STRING: {
    size_t n;
    const char *s = lua_type(L, idx) == LUA_TSTRING ? lua_tolstring(L, idx, &n) : NULL;
    return s && n == json_string_length(v) && memcmp(s, json_string_value(v), n) == 0;
  }
  case JSON_ARRAY: {
    if (!lua_istable(L, idx) || marker(idx, explicit_slots) != 2) return 0;
    size_t n = json_array_size(v), count = 0;
    if (lua_rawlen(L, idx) != n) return 0;
    for (size_t i = 0; i < n; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i + 1);
      int ok = same(-1, json_array_get(v, i), null_slot, explicit_slots);
      lua_pop(L, 1);
      if (!ok) return 0;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      count++;
      lua_pop(L, 1);
    }
    return count == n;
  }
  case JSON_OBJECT: {
    if (!lua_istable(L, idx) || marker(idx, explicit_slots) != 1) return 0;
    size_t count = 0, key_len;
    const char *key;
    json_t *item;
    json_object_keylen_foreach(v, key, key_len, item) {
      lua_pushlstring(L, key, key_len);
      lua_rawget(L, idx);
      int ok = same(-1, item, null_slot, explicit_slots);
      lua_pop(L, 1);
      if (!ok) return 0;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      count++;
      lua_pop(L, 1);
    }
    return count == json_object_size(v);
  }
  }
  return 0;
}

/* jansson 2.14 loses a raw NUL byte that follows a number or a literal ("[1\0]" and
 * "true\0" load): its stream takes the NUL it puts back after such a token for the end
 * of its one-character buffer. The decoder refuses such a text where the NUL is, which is
 * what is checked instead. */
static int jansson_drops_nul(const uint8_t *data, size_t size, size_t position) {
  if (position < 2 || position > size || data[position - 1] != '\0') return 0;
  uint8_t before = data[position - 2];
  return (before >= '0' && before <= '9') || (before >= 'a' && before <= 'z');
}

/* Aborts with the input and the finding. */
static void found(const char *what, const uint8_t *data, size_t size, const char *detail) {
  fprintf(stderr, "fuzz_json: %s (%s) for input of %zu bytes: %.*s\n", what, detail ? detail : "", size,
          (int)(size > 300 ? 300 : size), (const char *)data);
  abort();
}

/* 1-based position as the decoder reports it, from "... at position N". */
static size_t position_in(const char *reason) {
  const char *at = strstr(reason, " at position ");
  return at ? (size_t)strtoull(at + 13, NULL, 10) : 0;
}

/* The entry point libFuzzer (or replay_main.c) calls by name. libFuzzer ships no header
 * for it, so it is declared here, which keeps it extern and -Wmissing-prototypes quiet. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (L == NULL) start_lua();
  json_error_t jerr;
  json_t *ref = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

  /* 1. The strict comparison, through the C interface with the limits widened. */
  chat_json_options wide = {.null_index = SLOT_NULL, .object_mt_index = SLOT_OBJECT, .array_mt_index = SLOT_ARRAY,
                            .max_depth = CHAT_JSON_DEPTH_LIMIT, .allow_nul = 1, .no_cost_limit = 1};
  chat_json_error err;
  int rc = chat_json_decode(L, (const char *)data, size, &wide, &err);
  if (rc == 0 && ref == NULL && strstr(jerr.text, "NUL byte in object key") == NULL)
    found("accepted what jansson refuses", data, size, jerr.text);
  if (rc != 0 && ref != NULL &&
      !(strcmp(err.reason, "nesting too deep") == 0 && depth_of(ref) > CHAT_JSON_DEPTH_LIMIT) &&
      !jansson_drops_nul(data, size, err.position))
    found("refused what jansson accepts", data, size, err.reason);
  if (rc == 0 && ref != NULL && !same(-1, ref, SLOT_NULL, 1)) found("a value differs from jansson's", data, size, NULL);
  if (rc == 0) lua_pop(L, 1);
  FUZZ_ASSERT(lua_gettop(L) == SLOTS - 1);

  /* 2 and 3. json.decode as chatd runs it, through the checker. */
  lua_rawgeti(L, LUA_REGISTRYINDEX, checker_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 2, 0) != LUA_OK) found("the checker failed", data, size, lua_tostring(L, -1));
  if (!lua_isnil(L, -2)) {
    if (rc != 0) found("json.decode accepted what the strict decode refused", data, size, err.reason);
    if (ref != NULL && !same(-2, ref, SLOT_JSON_NULL, 0)) found("json.decode's value differs from jansson's", data, size, NULL);
  } else {
    const char *why = lua_tostring(L, -1);
    size_t at = position_in(why);
    if (strncmp(why, "string contains a NUL character", 31) == 0) {
      /* (jansson's value may have none: a repeated key can replace the string.) */
      size_t backslashes = 0;
      while (at >= 1 && backslashes < at && data[at - 1 - backslashes] == '\\') backslashes++;
      if (at < 1 || at + 5 > size || memcmp(data + at - 1, "\\u0000", 6) != 0 || backslashes % 2 == 0)
        found("a NUL reported where there is none", data, size, why);
    } else if (strncmp(why, "nesting too deep", 16) == 0) {
      if (at < 1 || at > size || (data[at - 1] != '[' && data[at - 1] != '{') ||
          (ref != NULL && depth_of(ref) <= CHAT_JSON_DEFAULT_DEPTH))
        found("nesting reported too deep where it is not", data, size, why);
    } else if (strncmp(why, "document too large for its size", 31) != 0) {
      /* Any other reason: the strict decode refused too, for the same reason and place. */
      char strict[200];
      snprintf(strict, sizeof strict, "%s at position %zu", rc != 0 ? err.reason : "(accepted)",
               rc != 0 ? err.position : 0);
      if (strcmp(strict, why) != 0) found("json.decode and the strict decode refuse differently", data, size, why);
    }
  }
  lua_settop(L, SLOTS - 1);
  json_decref(ref);
  return 0;
}
