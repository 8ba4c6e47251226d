/* The strict JSON decoder (core/json_decode.c) through its binding (core/lua_api_json.c) in
 * a bare Lua state, as lua/chat/lib/json.lua uses it: each case is a text and either the Lua
 * value it must give (a Lua expression, compared with types: 1 and 1.0 differ, and so do
 * an object and an array) or the reason and 1-based position it must be refused with.
 * Then the limits: depth, the cost bound measured against Lua's own allocation count,
 * nothing pushed or kept on failure, and big inputs. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_decode.h"
#include "lua_api.h"

/* NULL, OBJ and ARR are the sentinel and metatables json.lua gives; same(a, b) compares
 * decoded values deeply, with integer/float subtypes and the markers. */
static const char PRELUDE[] =
    "NULL = setmetatable({}, {__name = 'json.null'})\n"
    "OBJ = {__jsontype = 'object'}\n"
    "ARR = {__jsontype = 'array'}\n"
    "local native = {}\n"
    "decode = json_native.decoder{null = NULL, object = OBJ, array = ARR}\n"
    "decode_nul = json_native.decoder{null = NULL, object = OBJ, array = ARR, allow_nul = true}\n"
    "function O(t) return setmetatable(t, OBJ) end\n"
    "function A(t) return setmetatable(t, ARR) end\n"
    "function same(a, b)\n"
    "  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end\n"
    "  if type(a) ~= 'table' or a == NULL or b == NULL then return a == b end\n"
    "  if getmetatable(a) ~= getmetatable(b) then return false end\n"
    "  for k, v in pairs(a) do if not same(v, b[k]) then return false end end\n"
    "  for k in pairs(b) do if a[k] == nil then return false end end\n"
    "  return true\n"
    "end\n";

typedef struct good_case {
  const char *text; /* NUL-terminated unless len is set */
  size_t len;
  const char *value; /* a Lua expression */
} good_case;

typedef struct bad_case {
  const char *text;
  size_t len;
  const char *reason;
  size_t position;
} bad_case;

static const good_case GOOD[] = {
    /* literals, scalars at the top level, whitespace */
    {"true", 0, "true"},
    {"false", 0, "false"},
    {"null", 0, "NULL"},
    {" \t\r\n 1 \t\r\n ", 0, "1"},
    {"\"\"", 0, "''"},
    /* numbers */
    {"0", 0, "0"},
    {"-0", 0, "0"},
    {"-0.0", 0, "-0.0"},
    {"12", 0, "12"},
    {"-12", 0, "-12"},
    {"9223372036854775807", 0, "math.maxinteger"},
    {"-9223372036854775808", 0, "math.mininteger"},
    {"9007199254740993", 0, "9007199254740993"},
    {"1.5", 0, "1.5"},
    {"1.0", 0, "1.0"},
    {"-0.25", 0, "-0.25"},
    {"1e2", 0, "100.0"},
    {"1E2", 0, "100.0"},
    {"1e+2", 0, "100.0"},
    {"1e-2", 0, "0.01"},
    {"0.1e1", 0, "1.0"},
    {"1.7976931348623157e308", 0, "1.7976931348623157e308"},
    {"1e-400", 0, "0.0"},
    {"0e999999999999", 0, "0.0"},
    {"123456789012345678901234567890.5", 0, "1.2345678901234568e29"},
    {"9223372036854775808.0", 0, "9223372036854775808.0"},
    /* strings: every escape, UTF-8 of each length, surrogate pairs */
    {"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", 0, "'\"\\\\/\\b\\f\\n\\r\\t'"},
    {"\"\\u0041\\u00e9\\u00E9\"", 0, "'A\\u{e9}\\u{e9}'"},
    {"\"\\ud64d\\uae38\\ub3d9\"", 0, "'홍길동'"},
    {"\"\\uD83D\\uDE00\"", 0, "'\\u{1F600}'"},
    {"\"\\uDBFF\\uDFFF\"", 0, "'\\u{10FFFF}'"},
    {"\"\\u007f\\u0080\\u07ff\\u0800\\uffff\"", 0, "'\\u{7f}\\u{80}\\u{7ff}\\u{800}\\u{ffff}'"},
    {"\"안녕하세요!\"", 0, "'안녕하세요!'"},
    {"\" !#$%&'()*+,-./09:;<=>?@AZ[]^_`az{|}~\"", 0, "' !#$%&\\'()*+,-./09:;<=>?@AZ[]^_`az{|}~'"},
    {"\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"", 0,
     "'\\u{80}\\u{7ff}\\u{800}\\u{d7ff}\\u{e000}\\u{10000}\\u{10ffff}'"},
    {"\"\x7f\"", 0, "'\\127'"},
    {"\"a\\u0000b\"", 0, NULL}, /* refused by default: see BAD; accepted with allow_nul below */
    /* containers */
    {"{}", 0, "O{}"},
    {"[]", 0, "A{}"},
    {"[ ]", 0, "A{}"},
    {"{ }", 0, "O{}"},
    {"[1,\"a\",true,false,null,1.5,{},[]]", 0, "A{1,'a',true,false,NULL,1.5,O{},A{}}"},
    {"[null,null]", 0, "A{NULL,NULL}"},
    {"{\"a\":{\"b\":[1,{\"c\":null}]}}", 0, "O{a=O{b=A{1,O{c=NULL}}}}"},
    {" { \"a\" : 1 , \"b\" : [ 2 , 3 ] } ", 0, "O{a=1,b=A{2,3}}"},
    {"{\"a\":1,\"a\":2}", 0, "O{a=2}"}, /* the last of a repeated key, as Jackson */
    {"{\"\":0}", 0, "O{['']=0}"},
    {"{\"1\":\"x\"}", 0, "O{['1']='x'}"},
    {"{\"\\u00e9\":\"\\n\"}", 0, "O{['\\u{e9}']='\\n'}"},
    {"{\"chatRoomId\":1,\"senderId\":123,\"senderNickname\":\"홍길동\",\"content\":\"안녕하세요!\","
     "\"messageType\":\"CHAT\"}",
     0, "O{chatRoomId=1,senderId=123,senderNickname='홍길동',content='안녕하세요!',messageType='CHAT'}"},
    {"{\"id\":9223372036854775807,\"n\":-9223372036854775808}", 0,
     "O{id=math.maxinteger,n=math.mininteger}"},
};

static const bad_case BAD[] = {
    /* the document */
    {"", 0, "empty document", 1},
    {" \n\t\r", 0, "empty document", 5},
    {"1 2", 0, "unexpected characters after the JSON value", 3},
    {"{} x", 0, "unexpected characters after the JSON value", 4},
    {"{\"a\":1}{\"b\":2}", 0, "unexpected characters after the JSON value", 8},
    {"[1]]", 0, "unexpected characters after the JSON value", 4},
    {"\xef\xbb\xbf{}", 0, "unexpected character", 1}, /* a BOM is not whitespace */
    {"\f1", 0, "unexpected character", 1},             /* nor is a form feed */
    {"1\v", 0, "unexpected characters after the JSON value", 2},
    {"1\0", 2, "unexpected characters after the JSON value", 2},
    {"\xa0" "1", 0, "unexpected character", 1},
    /* numbers */
    {"{\"studyId\":012}", 0, "invalid number", 12},
    {"00", 0, "invalid number", 1},
    {"-01", 0, "invalid number", 1},
    {"+1", 0, "unexpected character", 1},
    {"-", 0, "invalid number", 1},
    {"- 1", 0, "invalid number", 1},
    {".5", 0, "unexpected character", 1},
    {"1.", 0, "invalid number", 1},
    {"1.e2", 0, "invalid number", 1},
    {"1e", 0, "invalid number", 1},
    {"1e+", 0, "invalid number", 1},
    {"[1.5.3]", 0, "expected ',' or ']'", 5},
    {"0x10", 0, "unexpected characters after the JSON value", 2},
    {"NaN", 0, "unexpected character", 1},
    {"Infinity", 0, "unexpected character", 1},
    {"-Infinity", 0, "invalid number", 1},
    {"9223372036854775808", 0, "number out of range", 1},
    {"-9223372036854775809", 0, "number out of range", 1},
    {"[99999999999999999999]", 0, "number out of range", 2},
    {"10000000000000000000", 0, "number out of range", 1},
    {"1e309", 0, "number out of range", 1},
    {"-1.8e308", 0, "number out of range", 1},
    /* literals */
    {"tru", 0, "invalid literal", 1},
    {"True", 0, "unexpected character", 1},
    {"nul", 0, "invalid literal", 1},
    {"nulll", 0, "unexpected characters after the JSON value", 5},
    {"[fals]", 0, "invalid literal", 2},
    /* strings */
    {"\"abc", 0, "unterminated string", 1},
    {"\"abc\\", 0, "unterminated string", 1},
    {"\"a\tb\"", 0, "control character in string", 3},
    {"\"a\nb\"", 0, "control character in string", 3},
    {"\"\x1f\"", 0, "control character in string", 2},
    {"\"a\0b\"", 5, "control character in string", 3},
    {"\"\\x41\"", 0, "invalid escape in string", 2},
    {"\"\\'\"", 0, "invalid escape in string", 2},
    {"\"\\u12\"", 0, "invalid \\u escape in string", 2},
    {"\"\\u12g4\"", 0, "invalid \\u escape in string", 2},
    {"\"\\U0041\"", 0, "invalid escape in string", 2},
    {"\"a\\u0000b\"", 0, "string contains a NUL character", 3},
    {"{\"\\u0000\":1}", 0, "string contains a NUL character", 3},
    {"\"\\ud800\"", 0, "lone surrogate in \\u escape", 2},
    {"\"\\udc00\"", 0, "lone surrogate in \\u escape", 2},
    {"\"\\ud800\\u0041\"", 0, "lone surrogate in \\u escape", 2},
    {"\"\\ud800\\ud800\"", 0, "lone surrogate in \\u escape", 2},
    {"\"\\ud800x\"", 0, "lone surrogate in \\u escape", 2},
    /* bad UTF-8: stray continuation, overlongs, surrogates, > U+10FFFF, truncated, invalid bytes */
    {"\"\x80\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xc0\xaf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xc1\xbf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xe0\x80\xaf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xe0\x9f\xbf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xf0\x80\x80\xaf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xf0\x8f\xbf\xbf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xed\xa0\x80\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xed\xbf\xbf\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xf5\x80\x80\x80\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xff\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xc3\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xe4\xb8\"", 0, "invalid UTF-8 in string", 2},
    {"\"\xe4\xb8", 0, "invalid UTF-8 in string", 2},
    {"\"\xf0\x9f\x98\"", 0, "invalid UTF-8 in string", 2},
    {"\"a\xc3(\"", 0, "invalid UTF-8 in string", 3},
    {"{\"\xff\":1}", 0, "invalid UTF-8 in string", 3},
    /* structure */
    {"[", 0, "unexpected end of input", 2},
    {"[1", 0, "unexpected end of input", 3},
    {"[1,", 0, "unexpected end of input", 4},
    {"[1,]", 0, "unexpected character", 4},
    {"[,1]", 0, "unexpected character", 2},
    {"[1 2]", 0, "expected ',' or ']'", 4},
    {"{", 0, "unexpected end of input", 2},
    {"{\"a\"", 0, "unexpected end of input", 5},
    {"{\"a\":", 0, "unexpected end of input", 6},
    {"{\"a\":1,}", 0, "expected a string key", 8},
    {"{\"a\" 1}", 0, "expected ':'", 6},
    {"{a:1}", 0, "expected a string key", 2},
    {"{'a':1}", 0, "expected a string key", 2},
    {"{1:1}", 0, "expected a string key", 2},
    {"{\"a\":1 \"b\":2}", 0, "expected ',' or '}'", 8},
    {"{\"a\":1]", 0, "expected ',' or '}'", 7},
    {"[1}", 0, "expected ',' or ']'", 3},
    {"]", 0, "unexpected character", 1},
    {"/* */1", 0, "unexpected character", 1},
};

static int run(lua_State *L, const char *code) {
  if (luaL_dostring(L, code) == LUA_OK) return 1;
  fprintf(stderr, "    lua: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  return 0;
}

/* Calls the global decoder `fn` on text; leaves its results (1 or 2) on the stack. */
static int call_decoder(lua_State *L, const char *fn, const char *text, size_t len) {
  int top = lua_gettop(L);
  lua_getglobal(L, fn);
  lua_pushlstring(L, text, len);
  if (lua_pcall(L, 1, LUA_MULTRET, 0) != LUA_OK) {
    fprintf(stderr, "    decode raised: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  return lua_gettop(L) - top;
}

static void check_good(lua_State *L, const char *fn, const char *text, size_t len, const char *value) {
  int n = call_decoder(L, fn, text, len);
  int ok = n == 1 && !lua_isnil(L, -1);
  if (ok) {
    lua_setglobal(L, "got");
    char code[1024];
    snprintf(code, sizeof code, "assert(same(got, %s), 'a different value')", value);
    ok = run(L, code);
  } else {
    fprintf(stderr, "    refused: %s\n", n == 2 ? lua_tostring(L, -1) : "?");
    if (n > 0) lua_pop(L, n);
  }
  if (!ok) fprintf(stderr, "  for %s\n", text);
  CHECK(ok);
}

static void check_bad(lua_State *L, const char *text, size_t len, const char *reason, size_t position) {
  int top = lua_gettop(L);
  int n = call_decoder(L, "decode", text, len);
  char want[200];
  snprintf(want, sizeof want, "%s at position %zu", reason, position);
  const char *got = n == 2 && lua_isnil(L, -2) ? lua_tostring(L, -1) : "(accepted)";
  if (got == NULL || strcmp(got, want) != 0) fprintf(stderr, "  for %.60s\n", text);
  CHECK_STR(got, want);
  lua_settop(L, top);
}

/* Lua's allocation count in bytes. */
static size_t lua_bytes(lua_State *L) {
  return (size_t)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
}

/* Decodes text with the collector stopped: returns the bytes Lua allocated meanwhile (the
 * values, and whatever became garbage on the way), and leaves the result(s) on the stack. */
static size_t decode_cost(lua_State *L, const char *text, size_t len) {
  lua_pushlstring(L, text, len); /* the text's own string is not the decoder's cost */
  lua_setglobal(L, "text");
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_gc(L, LUA_GCSTOP, 0);
  /* A first call grows the Lua stack for the decoder's levels (the collection shrank it). */
  CHECK(run(L, "assert(decode('[]'))"));
  size_t before = lua_bytes(L);
  lua_getglobal(L, "decode");
  lua_getglobal(L, "text");
  lua_call(L, 1, 2);
  size_t cost = lua_bytes(L) - before;
  lua_gc(L, LUA_GCRESTART, 0);
  lua_pushnil(L);
  lua_setglobal(L, "text");
  return cost;
}

/* head, `times` units, tail; a unit with "%06d" in it is numbered (0, 1, ...). The number
 * is printed with a literal format around the unit's two halves, so no format string
 * comes from data (-Wformat-nonliteral). */
static char *repeat(const char *head, const char *unit, size_t times, const char *tail, size_t *len) {
  const char *mark = strstr(unit, "%06d");
  int numbered = mark != NULL;
  size_t hl = strlen(head), ul = strlen(unit) + (numbered ? 2 : 0), tl = strlen(tail);
  *len = hl + ul * times + tl;
  char *s = malloc(*len + 1), *p = s;
  memcpy(p, head, hl);
  p += hl;
  for (size_t i = 0; i < times; i++, p += ul) {
    if (numbered) {
      char one[64];
      snprintf(one, sizeof one, "%.*s%06d%s", (int)(mark - unit), unit, (int)(i % 1000000), mark + 4);
      memcpy(p, one, ul);
    } else {
      memcpy(p, unit, ul);
    }
  }
  memcpy(p, tail, tl);
  p[tl] = '\0';
  return s;
}

/* Depth: max_depth levels are fine, one more is refused where it opens. */
static void check_depth(lua_State *L) {
  size_t len;
  char *at_limit = repeat("", "[", 64, "", &len);
  char *text = malloc(129);
  memcpy(text, at_limit, 64);
  memset(text + 64, ']', 64);
  check_good(L, "decode", text, 128, "(function() local t = A{} for _ = 1, 63 do t = A{t} end return t end)()");
  free(at_limit);
  char *over = repeat("", "{\"a\":", 65, "1", &len);
  check_bad(L, over, len, "nesting too deep", 65 * 5 - 4);
  free(over);
  /* Deep and huge: refused at the 65th bracket, before anything is made. */
  char *deep = repeat("", "[", 1000000, "", &len);
  check_bad(L, deep, len, "nesting too deep", 65);
  CHECK(decode_cost(L, deep, len) < 100); /* the reason's string */
  CHECK_STR(lua_tostring(L, -1), "nesting too deep at position 65");
  lua_pop(L, 2);
  free(deep);
  CHECK(run(L, "local d = json_native.decoder{max_depth = 2}\n"
               "assert(d('[[1]]')[1][1] == 1)\n"
               "local v, err = d('[[[1]]]')\n"
               "assert(v == nil and err == 'nesting too deep at position 3', err)\n"
               "assert(not pcall(json_native.decoder, {max_depth = 0}))\n"
               "assert(not pcall(json_native.decoder, {max_depth = 1025}))\n"));
  free(text);
}

/* The cost bound: what a text's values take is at most COST_RATIO times its size plus the
 * slack, measured with Lua's own count; the shapes past it are refused before any value
 * is made; a refused text leaves the stack and the heap as they were. */
static void check_cost(lua_State *L) {
  static const struct {
    const char *head, *unit, *tail;
    size_t times;
    int accepted;
  } SHAPES[] = {
      {"[", "0,", "0]", 500000, 1},                      /* 16 bytes of Lua per 2 of text */
      {"[", "\"abcdefghijklmnopqrstuvwxyz\",", "1]", 30000, 1},
      {"[", "{\"id\":1,\"nickname\":\"ab\"},", "1]", 40000, 1},
      {"{", "\"k\":[],", "\"z\":1}", 100000, 0}, /* a repeated key: each value made is counted */
      {"[", "[],", "[]]", 340000, 0},                     /* 80 bytes per 3 of input */
      {"[", "{},", "{}]", 340000, 0},
      {"[", "[0],", "0]", 250000, 0},
      {"{", "\"k%06d\":0,", "\"z\":0}", 80000, 1},         /* distinct short keys */
      {"{", "\"k%06d\":{},", "\"z\":0}", 80000, 0},        /* a table per 12 bytes */
      {"[", "\"ab\",", "1]", 200000, 1},                     /* one interned string */
      {"[", "\"%06d\",", "1]", 100000, 1},                    /* distinct short strings */
  };
  for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
    size_t len;
    char *text = repeat(SHAPES[i].head, SHAPES[i].unit, SHAPES[i].times, SHAPES[i].tail, &len);
    int top = lua_gettop(L);
    size_t cost = decode_cost(L, text, len);
    int accepted = !lua_isnil(L, -2);
    if (accepted != SHAPES[i].accepted)
      fprintf(stderr, "  shape %zu (%s): %s\n", i, SHAPES[i].unit, accepted ? "accepted" : lua_tostring(L, -1));
    CHECK(accepted == SHAPES[i].accepted);
    if (accepted) {
      CHECK(cost <= len * CHAT_JSON_COST_RATIO + CHAT_JSON_COST_SLACK);
    } else {
      static const char WHY[] = "document too large for its size at position ";
      CHECK(strncmp(lua_tostring(L, -1), WHY, sizeof WHY - 1) == 0);
      /* The reason's string, and the box of the size list (its block freed already). */
      CHECK(cost < 256);
    }
    printf("  %-30s %7zu bytes of text -> %8zu bytes of Lua (%.1fx)%s\n", SHAPES[i].unit, len, cost,
           (double)cost / (double)len, accepted ? "" : ", refused");
    lua_settop(L, top);
    free(text);
  }
}

/* Big inputs: a long string with escapes, a long number, a wide array, and a 1 MiB object. */
static void check_big(lua_State *L) {
  size_t len;
  char *s = repeat("\"", "ab\\n\\u00e9\\ud83d\\ude00", 100000, "\"", &len);
  check_good(L, "decode", s, len, "string.rep('ab\\n\\u{e9}\\u{1F600}', 100000)");
  free(s);
  char *num = repeat("0.", "0", 100000, "1e100001", &len);
  check_good(L, "decode", num, len, "1.0");
  free(num);
  char *wide = repeat("[", "1,", 100000, "1]", &len);
  check_good(L, "decode", wide, len, "(function() local t = A{} for i = 1, 100001 do t[i] = 1 end return t end)()");
  free(wide);
  CHECK(run(L, "local t = decode('[' .. string.rep('7,', 99999) .. '7]')\n"
               "assert(#t == 100000 and t[100000] == 7 and math.type(t[1]) == 'integer')\n"
               "local parts = {}\n"
               "for i = 1, 20000 do parts[i] = string.format('\"key%05d\":\"%s\"', i, ('v'):rep(40)) end\n"
               "local text = '{' .. table.concat(parts, ',') .. '}'\n"
               "assert(#text > 1000000)\n"
               "local o = decode(text)\n"
               "local n = 0 for _ in pairs(o) do n = n + 1 end\n"
               "assert(n == 20000 and o.key00001 == ('v'):rep(40) and o.key20000 == ('v'):rep(40))\n"));
}

/* The binding's other promises: nothing left on the stack after a refusal, a wrong type
 * raises, the options are read, nothing is kept between calls. */
static void check_binding(lua_State *L) {
  CHECK(run(L, "local v, err = decode('[1,')\n"
               "assert(v == nil and err == 'unexpected end of input at position 4')\n"
               "assert(select('#', decode('[1,')) == 2 and select('#', decode('[1]')) == 1)\n"
               "assert(not pcall(decode, {}))\n"
               "assert(not pcall(decode))\n"
               "assert(decode_nul('\"a\\\\u0000b\"') == 'a\\0b')\n"
               "assert(decode_nul('{\"\\\\u0000\":1}')['\\0'] == 1)\n"
               "local plain = json_native.decoder{}\n"
               "local t = plain('{\"a\":[null]}')\n"
               "assert(getmetatable(t) == nil and getmetatable(t.a) == nil and #t.a == 0)\n"
               "assert(plain('null') == nil)\n"
               "assert(not pcall(json_native.decoder, {object = 1}))\n"));
  /* The same text twice gives equal, separate values. */
  CHECK(run(L, "local a, b = decode('{\"x\":[1]}'), decode('{\"x\":[1]}')\n"
               "assert(a ~= b and a.x ~= b.x and same(a, b))\n"));
  /* The decoder under a locale with a decimal comma still reads '.' */
  CHECK(run(L, "local old = os.setlocale()\n"
               "local comma = os.setlocale('de_DE.UTF-8') or os.setlocale('fr_FR.UTF-8')\n"
               "local v = decode('[1.5, 2e3]')\n"
               "os.setlocale(old)\n"
               "assert(v[1] == 1.5 and v[2] == 2000.0, tostring(comma))\n"));
}

/* chat.json.quote: Jackson's escaping, byte for byte what lua/chat/lib/json.lua's Lua
 * quote writes (checked over every byte value, alone and inside text). */
static void check_quote(lua_State *L) {
  CHECK(run(L, "local q = json_native.quote\n"
               "assert(q('') == '\"\"')\n"
               "assert(q('plain 한국어 text') == '\"plain 한국어 text\"')\n"
               "assert(q('a\"b\\\\c') == [[\"a\\\"b\\\\c\"]])\n"
               "assert(q('\\n\\r\\t\\b\\f') == [[\"\\n\\r\\t\\b\\f\"]])\n"
               "assert(q('\\0\\1\\31\\127') == '\"\\\\u0000\\\\u0001\\\\u001F\\127\"')\n"
               "local names = { ['\"'] = '\\\\\"', ['\\\\'] = '\\\\\\\\', ['\\b'] = '\\\\b', ['\\f'] = '\\\\f',\n"
               "  ['\\n'] = '\\\\n', ['\\r'] = '\\\\r', ['\\t'] = '\\\\t' }\n"
               "local function lua_quote(s)\n"
               "  return '\"' .. s:gsub('[%z\\1-\\31\"\\\\]', function(c)\n"
               "    return names[c] or string.format('\\\\u%04X', c:byte()) end) .. '\"'\n"
               "end\n"
               "for b = 0, 255 do\n"
               "  local c = string.char(b)\n"
               "  for _, s in ipairs { c, 'x' .. c, c .. 'y', 'ab' .. c .. c .. 'cd' } do\n"
               "    assert(q(s) == lua_quote(s), 'byte ' .. b)\n"
               "  end\n"
               "end\n"
               "assert(not pcall(q, {}))\n"));
}

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  lua_newtable(L); /* chat.native.json, filled as lua_vm.c fills it */
  chat_lua_api_json_inject(L, NULL);
  lua_setglobal(L, "json_native");
  if (!run(L, PRELUDE)) return 1;

  size_t good = 0, bad = 0;
  for (size_t i = 0; i < sizeof GOOD / sizeof *GOOD; i++) {
    const good_case *c = &GOOD[i];
    size_t len = c->len ? c->len : strlen(c->text);
    if (c->value == NULL) {
      check_good(L, "decode_nul", c->text, len, "'a\\0b'");
    } else {
      check_good(L, "decode", c->text, len, c->value);
    }
    good++;
  }
  for (size_t i = 0; i < sizeof BAD / sizeof *BAD; i++) {
    const bad_case *c = &BAD[i];
    check_bad(L, c->text, c->len ? c->len : strlen(c->text), c->reason, c->position);
    bad++;
  }
  printf("%zu accepted and %zu refused texts\n", good, bad);
  check_depth(L);
  check_cost(L);
  check_big(L);
  check_binding(L);
  check_quote(L);
  CHECK(lua_gettop(L) == 0);
  lua_close(L);
  CHECK_DONE();
}
