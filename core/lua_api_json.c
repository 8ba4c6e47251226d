/* chat.json: the strict JSON decoder (core/json_decode.c) for lua/chat/lib/json.lua.
 *
 *   decode = chat.json.decoder{ null = json.null, object = mt, array = mt,
 *                               max_depth = 64, allow_nul = false }
 *   value = decode(text)          or nil, "invalid number at position 12"
 *   chat.json.quote(s)            -> s as a JSON string literal, escaped as Jackson does
 *   write = chat.json.object_writer{ {"id", "id", "integer"}, {"createdAt", "created_at",
 *                                    "localtime"}, ... }
 *   text, n = write(rows)         -> '{"id":1,"createdAt":"..."},{...}' and the row count
 *
 * A decoder is made once, with the application's null sentinel and the metatables its
 * encoder recognises as upvalues, so decoding passes nothing but the text. A text that is
 * not accepted is an answer (nil and the reason with its 1-based byte position), never an
 * error: request bodies come from clients. Only a wrong argument type raises. */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "json_decode.h"
#include "lua_api.h"
#include "time_zone.h"

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
static void add_quoted(luaL_Buffer *b, const char *s, size_t len) {
  size_t clean = 0;
  while (clean < len && (unsigned char)s[clean] >= 0x20 && s[clean] != '"' && s[clean] != '\\') clean++;
  char *out = luaL_prepbuffsize(b, clean + 2);
  out[0] = '"';
  memcpy(out + 1, s, clean);
  luaL_addsize(b, clean + 1);
  static const char hex[] = "0123456789ABCDEF";
  for (size_t i = clean; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *named = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f"
                      : c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
    if (named != NULL) {
      luaL_addstring(b, named);
    } else if (c < 0x20) {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      luaL_addlstring(b, u, sizeof u);
    } else {
      luaL_addchar(b, (char)c);
    }
  }
  luaL_addchar(b, '"');
}

static int quote(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  add_quoted(&b, s, len);
  luaL_pushresult(&b);
  return 1;
}

/* ---- chat.json.object_writer: rows (PostgreSQL's, as chat.pg returns them) as JSON objects
 * with fixed fields. A history page is fifty messages of seven fields; written from Lua
 * with string.format, quoting and chat.localtime per field it was 40 % of chatd's time per
 * page. The fields, their order and their kinds stay the scripts' choice. */

enum field_kind { FIELD_INTEGER, FIELD_STRING, FIELD_LOCALTIME };
enum { WRITER_MAX_FIELDS = 32, WRITER_PREFIX_MAX = 80 };

typedef struct {
  int count;
  struct {
    char prefix[WRITER_PREFIX_MAX]; /* '{"key":' for the first field, ',"key":' after */
    size_t prefix_len;
    enum field_kind kind;
  } field[WRITER_MAX_FIELDS];
} object_spec;

/* One field's value read from its row, kept until the row is written: the row's strings
 * stay reachable through the rows table (the writer's argument) meanwhile. */
typedef struct {
  int present;
  lua_Integer integer;
  lua_Number seconds;
  const char *text;
  size_t len;
  char number[48]; /* a number in a string field, as text: Lua's conversion would live on the popped slot only */
} field_value;

static void read_field(lua_State *L, enum field_kind kind, field_value *v, lua_Integer row, int field) {
  int type = lua_type(L, -1);
  v->present = type != LUA_TNIL;
  if (!v->present) return;
  int ok = 0;
  switch (kind) {
  case FIELD_INTEGER:
    v->integer = lua_tointegerx(L, -1, &ok);
    ok = ok && type == LUA_TNUMBER;
    break;
  case FIELD_STRING:
    ok = type == LUA_TSTRING || type == LUA_TNUMBER;
    if (type == LUA_TSTRING) {
      v->text = lua_tolstring(L, -1, &v->len);
    } else if (ok) {
      v->len = lua_isinteger(L, -1)
                   ? (size_t)snprintf(v->number, sizeof v->number, LUA_INTEGER_FMT, (LUAI_UACINT)lua_tointeger(L, -1))
                   : (size_t)snprintf(v->number, sizeof v->number, LUA_NUMBER_FMT, (LUAI_UACNUMBER)lua_tonumber(L, -1));
      v->text = v->number;
    }
    break;
  case FIELD_LOCALTIME:
    ok = type == LUA_TNUMBER;
    v->seconds = lua_tonumber(L, -1);
    break;
  }
  if (!ok) luaL_error(L, "row %I: field %d is a %s, not of its kind", row, field, lua_typename(L, type));
}

static void add_field(luaL_Buffer *b, enum field_kind kind, const field_value *v) {
  if (!v->present) {
    luaL_addstring(b, "null");
    return;
  }
  char buf[48];
  switch (kind) {
  case FIELD_INTEGER: { /* by hand: snprintf was a tenth of a history page */
    char *end = buf + sizeof buf, *p = end;
    lua_Unsigned u = v->integer < 0 ? 0u - (lua_Unsigned)v->integer : (lua_Unsigned)v->integer;
    do {
      *--p = (char)('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (v->integer < 0) *--p = '-';
    luaL_addlstring(b, p, (size_t)(end - p));
    break;
  }
  case FIELD_STRING:
    add_quoted(b, v->text, v->len);
    break;
  case FIELD_LOCALTIME: {
    long micros;
    time_t whole = chat_time_split(v->seconds, 1e6, &micros);
    buf[0] = '"';
    size_t n = 1 + chat_time_local_iso(buf + 1, sizeof buf - 2, whole, micros, NULL);
    buf[n++] = '"';
    luaL_addlstring(b, buf, n);
    break;
  }
  }
}

/* write(rows): upvalue 1 is the row keys (a list), upvalue 2 the object_spec. Reads each
 * row's fields off the stack before writing, as a luaL_Buffer needs the stack balanced
 * between its operations. */
static int write_objects(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const object_spec *spec = lua_touserdata(L, lua_upvalueindex(2));
  lua_Integer rows = (lua_Integer)lua_rawlen(L, 1);
  field_value values[WRITER_MAX_FIELDS];
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (lua_Integer r = 1; r <= rows; r++) {
    if (lua_rawgeti(L, 1, r) != LUA_TTABLE) luaL_error(L, "row %I is not a table", r);
    for (int i = 0; i < spec->count; i++) {
      lua_rawgeti(L, lua_upvalueindex(1), i + 1);
      lua_rawget(L, -2);
      read_field(L, spec->field[i].kind, &values[i], r, i + 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (r > 1) luaL_addchar(&b, ',');
    for (int i = 0; i < spec->count; i++) {
      luaL_addlstring(&b, spec->field[i].prefix, spec->field[i].prefix_len);
      add_field(&b, spec->field[i].kind, &values[i]);
    }
    luaL_addchar(&b, '}');
  }
  luaL_pushresult(&b);
  lua_pushinteger(L, rows);
  return 2;
}

/* chat.json.object_writer(fields): fields = { {json key, row key, kind}, ... }. Checked
 * here, once, so that writing never meets a bad spec. */
static int object_writer(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_Integer count = (lua_Integer)lua_rawlen(L, 1);
  luaL_argcheck(L, count >= 1 && count <= WRITER_MAX_FIELDS, 1, "1 to 32 fields");
  lua_createtable(L, (int)count, 0); /* upvalue 1: the row keys */
  int keys = lua_gettop(L);
  object_spec *spec = lua_newuserdatauv(L, sizeof *spec, 0); /* upvalue 2 */
  spec->count = (int)count;
  static const char *const kinds[] = {"integer", "string", "localtime", NULL};
  for (int i = 0; i < spec->count; i++) {
    luaL_argcheck(L, lua_rawgeti(L, 1, i + 1) == LUA_TTABLE, 1, "each field is {json key, row key, kind}");
    lua_rawgeti(L, -1, 1);
    lua_rawgeti(L, -2, 2);
    lua_rawgeti(L, -3, 3);
    luaL_argcheck(L, lua_type(L, -3) == LUA_TSTRING && lua_type(L, -2) == LUA_TSTRING, 1,
                  "a field's json key and row key are strings");
    size_t key_len;
    const char *key = lua_tolstring(L, -3, &key_len);
    spec->field[i].kind = (enum field_kind)luaL_checkoption(L, -1, NULL, kinds);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, i == 0 ? '{' : ',');
    add_quoted(&b, key, key_len);
    luaL_addchar(&b, ':');
    luaL_pushresult(&b);
    size_t prefix_len;
    const char *prefix = lua_tolstring(L, -1, &prefix_len);
    luaL_argcheck(L, prefix_len <= WRITER_PREFIX_MAX, 1, "a json key of at most 76 bytes");
    memcpy(spec->field[i].prefix, prefix, prefix_len);
    spec->field[i].prefix_len = prefix_len;
    lua_pop(L, 2);             /* the prefix, the kind */
    lua_rawseti(L, keys, i + 1); /* the row key */
    lua_pop(L, 2);             /* the json key, the field */
  }
  lua_pushcclosure(L, write_objects, 2);
  return 1;
}

void chat_lua_api_json_inject(lua_State *L, struct chat_runtime *rt) {
  (void)rt; /* nothing here depends on the runtime */
  static const luaL_Reg fns[] = {{"decoder", decoder}, {"quote", quote}, {"object_writer", object_writer}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
