/* Strict JSON to Lua values (json_decode.h), in two passes over the text.
 *
 * The first pass (scan_*) checks the whole text against RFC 8259 and counts the elements
 * of every array and object, in the order they open; it makes no Lua value. The second
 * (build_*) reads the checked text again and makes the values, each table created at its
 * final size. Checking first means a refused text, however large or deep, costs no Lua
 * memory (the old dkjson path grew the process by ~36 MB per deeply nested body); exact
 * sizes mean no table is ever rehashed, which is most of what a flat SEND body costs.
 * Neither pass recurses: nesting lives in small arrays bounded by max_depth. */
#include "json_decode.h"

#include <lauxlib.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_ARRAY, KIND_OBJECT };

/* What the Lua values take, in bytes (Lua 5.4 on 64 bits, as Lua counts them): the
 * estimate the cost limit is checked against. Lua interns strings of up to 40 bytes, so
 * a repeated short string costs once: the first pass remembers the last short string per
 * slot of a small hash table (SEEN_SLOTS) and counts a string it has seen as free, so the
 * keys of an array of objects are counted once while distinct keys are all counted. */
enum {
  COST_TABLE = 56,
  COST_SLOT = 16,
  COST_NODE = 24,
  COST_STRING = 25,
  COST_INTERNED = 16, /* a short string's slot in Lua's string table, which doubles */
  SHORT_STRING = 40,
  SEEN_SLOTS = 64,
};

/* Where the first pass keeps the element counts: up to SIZES_ON_STACK on the C stack,
 * more in a malloc'd block. The block is owned by a small userdata whose __gc frees it,
 * because the second pass can raise on a full heap and must not leak it then; otherwise
 * it is freed as soon as the values are made, so a refused or decoded text leaves no big
 * block waiting for a collection. */
enum { SIZES_ON_STACK = 64 };
static const char SIZES_META[] = "chat.json.sizes";

typedef struct sizes_box {
  uint32_t *block;
} sizes_box;

typedef struct scan {
  const unsigned char *start, *end;
  const chat_json_options *opt;
  chat_json_error *err;
  lua_State *L;
  int box_slot;      /* stack index of the sizes_box, once there is one */
  sizes_box *box;
  uint32_t *sizes;   /* element count of the n-th array or object opened */
  size_t nsizes, cap;
  size_t cost, budget;
  struct {
    const unsigned char *raw; /* NULL: empty */
    size_t len;
  } seen[SEEN_SLOTS];
} scan;

static void sizes_gc_now(sizes_box *box) {
  free(box->block);
  box->block = NULL;
}

static int sizes_gc(lua_State *L) {
  sizes_gc_now(lua_touserdata(L, 1));
  return 0;
}

/* Bytes a string's fast loop can pass over: printable ASCII other than '"' and '\\'. */
static const unsigned char PLAIN[256] = {
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
    R16(0), R16(0), /* controls */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* '"' */
    R16(1), R16(1),
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* '\\' */
    R16(1), R16(1),
    R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), /* non-ASCII */
#undef R16
};

static int fail(scan *s, const unsigned char *at, const char *reason) {
  s->err->reason = reason;
  s->err->position = (size_t)(at - s->start) + 1;
  return -1;
}

static const unsigned char *skip_ws(const unsigned char *p, const unsigned char *end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
  return p;
}

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static long hex4(const unsigned char *p) {
  long v = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_value(p[i]);
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/* Not the text's fault: raised once the size list is freed, as Lua raises on a full heap. */
static const char OUT_OF_MEMORY[] = "not enough memory";

/* Float conversion in the "C" locale whatever setlocale() a script made (os.setlocale):
 * strtod would read "1.5" as 1 under a locale with a decimal comma. Returns -1 only if a
 * copy of a number of 64 bytes or more cannot be made. */
static int to_double(const unsigned char *p, size_t n, double *out) {
  static locale_t c_locale; /* made once, kept for the process's life */
  if (c_locale == (locale_t)0) c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  /* strtod needs a terminated string, and the text's number is followed by more text. */
  char local[64], *copy = n < sizeof local ? local : malloc(n + 1);
  if (copy == NULL) return -1;
  memcpy(copy, p, n);
  copy[n] = '\0';
  *out = c_locale != (locale_t)0 ? strtod_l(copy, NULL, c_locale) : strtod(copy, NULL);
  if (copy != local) free(copy);
  return 0;
}

/* ---- first pass: check, count, estimate ---- */

static int add_cost(scan *s, const unsigned char *at, size_t bytes) {
  s->cost += bytes;
  if (s->cost > s->budget) return fail(s, at, "document too large for its size");
  return 0;
}

static int table_cost(scan *s, const unsigned char *at, int kind, uint32_t n) {
  size_t nodes = 1;
  if (kind == KIND_ARRAY) return add_cost(s, at, COST_TABLE + (size_t)n * COST_SLOT);
  while (nodes < n) nodes <<= 1;
  return add_cost(s, at, COST_TABLE + (n ? nodes * COST_NODE : 0));
}

/* Opens the next array or object: its slot in the size list. */
static int new_container(scan *s, const unsigned char *at, uint32_t *slot) {
  if (s->nsizes == s->cap) {
    if (s->box == NULL) {
      s->box = lua_newuserdatauv(s->L, sizeof *s->box, 0);
      s->box->block = NULL;
      if (luaL_newmetatable(s->L, SIZES_META)) {
        lua_pushcfunction(s->L, sizes_gc);
        lua_setfield(s->L, -2, "__gc");
      }
      lua_setmetatable(s->L, -2);
      lua_replace(s->L, s->box_slot);
    }
    size_t cap = s->cap * 2;
    uint32_t *bigger = cap <= SIZE_MAX / sizeof *bigger ? realloc(s->box->block, cap * sizeof *bigger) : NULL;
    if (bigger == NULL) return fail(s, at, OUT_OF_MEMORY);
    if (s->box->block == NULL) memcpy(bigger, s->sizes, s->nsizes * sizeof *bigger);
    s->box->block = s->sizes = bigger;
    s->cap = cap;
  }
  *slot = (uint32_t)s->nsizes;
  s->sizes[s->nsizes++] = 0;
  return 0;
}

/* Counts the cost of the string raw[0, len) (as written, escapes and all), unless it is
 * short and was seen already. */
static int string_cost(scan *s, const unsigned char *raw, size_t len) {
  if (len <= SHORT_STRING) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ raw[i]) * 16777619u;
    h = (h ^ h >> 16) % SEEN_SLOTS;
    if (s->seen[h].raw != NULL && s->seen[h].len == len && memcmp(s->seen[h].raw, raw, len) == 0) return 0;
    s->seen[h].raw = raw;
    s->seen[h].len = len;
    return add_cost(s, raw - 1, COST_STRING + COST_INTERNED + len);
  }
  return add_cost(s, raw - 1, COST_STRING + len);
}

/* Checks the string whose opening quote is at p; returns the byte after its closing quote,
 * or NULL (err set). */
static const unsigned char *scan_string(scan *s, const unsigned char *p) {
  const unsigned char *open = p, *end = s->end;
  p++;
  for (;;) {
    while (p < end && PLAIN[*p]) p++;
    if (p == end) return fail(s, open, "unterminated string"), NULL;
    unsigned char c = *p;
    if (c == '"') break;
    if (c < 0x20) return fail(s, p, "control character in string"), NULL;
    if (c == '\\') {
      if (p + 1 == end) return fail(s, open, "unterminated string"), NULL;
      switch (p[1]) {
      case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
        p += 2;
        continue;
      case 'u':
        break;
      default:
        return fail(s, p, "invalid escape in string"), NULL;
      }
      long u = end - p >= 6 ? hex4(p + 2) : -1;
      if (u < 0) return fail(s, p, "invalid \\u escape in string"), NULL;
      if (u == 0 && !s->opt->allow_nul) return fail(s, p, "string contains a NUL character"), NULL;
      if (u >= 0xDC00 && u <= 0xDFFF) return fail(s, p, "lone surrogate in \\u escape"), NULL;
      if (u >= 0xD800 && u <= 0xDBFF) {
        long low = end - p >= 12 && p[6] == '\\' && p[7] == 'u' ? hex4(p + 8) : -1;
        if (low < 0xDC00 || low > 0xDFFF) return fail(s, p, "lone surrogate in \\u escape"), NULL;
        p += 6;
      }
      p += 6;
      continue;
    }
    /* UTF-8 (RFC 3629, Unicode table 3-7): no overlong forms, no surrogates, nothing
     * past U+10FFFF; the second byte's range depends on the first. */
    unsigned char lo = 0x80, hi = 0xBF;
    int follow;
    if (c >= 0xC2 && c <= 0xDF) follow = 1;
    else if (c >= 0xE0 && c <= 0xEF) {
      follow = 2;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      follow = 3;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return fail(s, p, "invalid UTF-8 in string"), NULL;
    }
    if (end - p <= follow || p[1] < lo || p[1] > hi) return fail(s, p, "invalid UTF-8 in string"), NULL;
    for (int i = 2; i <= follow; i++)
      if (p[i] < 0x80 || p[i] > 0xBF) return fail(s, p, "invalid UTF-8 in string"), NULL;
    p += follow + 1;
  }
  if (string_cost(s, open + 1, (size_t)(p - open - 1)) < 0) return NULL;
  return p + 1;
}

/* Checks the number at p; returns the byte after it, or NULL. */
static const unsigned char *scan_number(scan *s, const unsigned char *p) {
  const unsigned char *start = p, *end = s->end;
  int negative = *p == '-';
  if (negative) p++;
  if (p == end || *p < '0' || *p > '9') return fail(s, start, "invalid number"), NULL;
  const unsigned char *digits = p;
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9') return fail(s, start, "invalid number"), NULL;
  } else {
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  size_t int_digits = (size_t)(p - digits);
  int integer = 1, exponent = 0;
  if (p < end && *p == '.') {
    integer = 0;
    p++;
    if (p == end || *p < '0' || *p > '9') return fail(s, start, "invalid number"), NULL;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    integer = 0;
    exponent = 1;
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p == end || *p < '0' || *p > '9') return fail(s, start, "invalid number"), NULL;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  if (integer) {
    /* int64: up to 9223372036854775807, or ...808 below zero. */
    static const char MAX[] = "9223372036854775807";
    if (int_digits > 19) return fail(s, start, "number out of range"), NULL;
    if (int_digits == 19) {
      int cmp = memcmp(digits, MAX, 18);
      if (cmp == 0) cmp = (int)digits[18] - (MAX[18] + negative);
      if (cmp > 0) return fail(s, start, "number out of range"), NULL;
    }
  } else if (exponent || int_digits > 308) {
    /* Without an exponent and with at most 308 integer digits, no double overflows. */
    double d;
    if (to_double(start, (size_t)(p - start), &d) < 0) return fail(s, start, OUT_OF_MEMORY), NULL;
    if (d > 1.7976931348623157e308 || d < -1.7976931348623157e308)
      return fail(s, start, "number out of range"), NULL;
  }
  return p;
}

static const unsigned char *scan_literal(scan *s, const unsigned char *p) {
  static const char *const WORDS[] = {"true", "false", "null"};
  for (int i = 0; i < 3; i++) {
    size_t n = strlen(WORDS[i]);
    if (*p == (unsigned char)WORDS[i][0]) {
      if ((size_t)(s->end - p) < n || memcmp(p, WORDS[i], n) != 0) break;
      return p + n;
    }
  }
  return fail(s, p, "invalid literal"), NULL;
}

static int scan_document(scan *s) {
  const unsigned char *p = s->start, *end = s->end;
  int max_depth = s->opt->max_depth;
  unsigned char kind[CHAT_JSON_DEPTH_LIMIT];
  uint32_t slot[CHAT_JSON_DEPTH_LIMIT];
  int depth = 0;

  p = skip_ws(p, end);
  if (p == end) return fail(s, p, "empty document");
value:
  p = skip_ws(p, end);
  if (p == end) return fail(s, p, "unexpected end of input");
  switch (*p) {
  case '{':
  case '[':
    if (depth == max_depth) return fail(s, p, "nesting too deep");
    kind[depth] = *p == '{' ? KIND_OBJECT : KIND_ARRAY;
    if (new_container(s, p, &slot[depth]) < 0) return -1;
    depth++;
    p = skip_ws(p + 1, end);
    if (p < end && *p == (kind[depth - 1] == KIND_OBJECT ? '}' : ']')) {
      p++;
      depth--;
      if (table_cost(s, p, kind[depth], 0) < 0) return -1;
      goto after_value;
    }
    s->sizes[slot[depth - 1]] = 1;
    if (kind[depth - 1] == KIND_OBJECT) goto key;
    goto value;
  case '"':
    if ((p = scan_string(s, p)) == NULL) return -1;
    goto after_value;
  case '-':
  case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
    if ((p = scan_number(s, p)) == NULL) return -1;
    goto after_value;
  case 't':
  case 'f':
  case 'n':
    if ((p = scan_literal(s, p)) == NULL) return -1;
    goto after_value;
  default:
    return fail(s, p, "unexpected character");
  }
key:
  p = skip_ws(p, end);
  if (p == end) return fail(s, p, "unexpected end of input");
  if (*p != '"') return fail(s, p, "expected a string key");
  if ((p = scan_string(s, p)) == NULL) return -1;
  p = skip_ws(p, end);
  if (p == end) return fail(s, p, "unexpected end of input");
  if (*p != ':') return fail(s, p, "expected ':'");
  p++;
  goto value;
after_value:
  p = skip_ws(p, end);
  if (depth == 0) {
    if (p != end) return fail(s, p, "unexpected characters after the JSON value");
    return 0;
  }
  if (p == end) return fail(s, p, "unexpected end of input");
  if (*p == ',') {
    p++;
    s->sizes[slot[depth - 1]]++;
    if (kind[depth - 1] == KIND_OBJECT) goto key;
    goto value;
  }
  if (*p != (kind[depth - 1] == KIND_OBJECT ? '}' : ']'))
    return fail(s, p, kind[depth - 1] == KIND_OBJECT ? "expected ',' or '}'" : "expected ',' or ']'");
  p++;
  depth--;
  if (table_cost(s, p, kind[depth], s->sizes[slot[depth]]) < 0) return -1;
  goto after_value;
}

/* ---- second pass: the checked text to Lua values ---- */

static void put_utf8(char *out, size_t *n, unsigned long cp) {
  if (cp < 0x80) {
    out[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*n)++] = (char)(0xC0 | cp >> 6);
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*n)++] = (char)(0xE0 | cp >> 12);
    out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*n)++] = (char)(0xF0 | cp >> 18);
    out[(*n)++] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

/* Pushes the checked string whose opening quote is at p; returns the byte after it. */
static const unsigned char *build_string(lua_State *L, const unsigned char *p) {
  const unsigned char *body = ++p;
  while (*p != '"' && *p != '\\') p++;
  if (*p == '"') {
    lua_pushlstring(L, (const char *)body, (size_t)(p - body));
    return p + 1;
  }
  /* Escapes: the decoded text is never longer than the raw one. */
  const unsigned char *close = p;
  while (*close != '"') close += *close == '\\' ? 2 : 1;
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, (size_t)(close - body));
  size_t n = (size_t)(p - body);
  memcpy(out, body, n);
  while (p < close) {
    if (*p != '\\') {
      out[n++] = (char)*p++;
      continue;
    }
    unsigned long cp;
    switch (p[1]) {
    case 'b': cp = '\b'; break;
    case 'f': cp = '\f'; break;
    case 'n': cp = '\n'; break;
    case 'r': cp = '\r'; break;
    case 't': cp = '\t'; break;
    case 'u':
      cp = (unsigned long)hex4(p + 2);
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)hex4(p + 8) - 0xDC00);
        p += 6;
      }
      put_utf8(out, &n, cp);
      p += 6;
      continue;
    default: cp = p[1]; break; /* '"', '\\', '/' */
    }
    out[n++] = (char)cp;
    p += 2;
  }
  luaL_pushresultsize(&b, n);
  return close + 1;
}

/* Pushes the checked number at p; returns the byte after it. A number can end the text,
 * so unlike the other tokens it is read with the end in sight. */
static const unsigned char *build_number(lua_State *L, const unsigned char *p, const unsigned char *end) {
  const unsigned char *start = p;
  int negative = *p == '-';
  if (negative) p++;
  uint64_t u = 0;
  while (p < end && *p >= '0' && *p <= '9') u = u * 10 + (uint64_t)(*p++ - '0');
  if (p == end || (*p != '.' && *p != 'e' && *p != 'E')) {
    /* Range checked by the first pass; -2^63 has no positive counterpart to negate. */
    lua_Integer v = !negative ? (lua_Integer)u : u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(lua_Integer)u;
    lua_pushinteger(L, v);
    return p;
  }
  if (*p == '.') do p++; while (p < end && *p >= '0' && *p <= '9');
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (*p == '+' || *p == '-') p++;
    while (p < end && *p >= '0' && *p <= '9') p++;
  }
  double d;
  if (to_double(start, (size_t)(p - start), &d) < 0) luaL_error(L, "%s", OUT_OF_MEMORY);
  lua_pushnumber(L, (lua_Number)d);
  return p;
}

/* The text is checked, so the second pass looks for no errors: a token is known to be
 * whole, and after a value inside a container there is always a ',' or a closer. */
static void build_document(lua_State *L, scan *s) {
  const unsigned char *p = s->start;
  const chat_json_options *opt = s->opt;
  unsigned char kind[CHAT_JSON_DEPTH_LIMIT];
  lua_Integer index[CHAT_JSON_DEPTH_LIMIT];
  size_t next_size = 0;
  int depth = 0;

value:
  p = skip_ws(p, s->end);
  switch (*p) {
  case '{':
  case '[': {
    int object = *p == '{';
    uint32_t n = s->sizes[next_size++];
    int hint = n > INT_MAX ? INT_MAX : (int)n; /* a size hint only */
    lua_createtable(L, object ? 0 : hint, object ? hint : 0);
    int mt = object ? opt->object_mt_index : opt->array_mt_index;
    if (mt != 0) {
      lua_pushvalue(L, mt);
      lua_setmetatable(L, -2);
    }
    kind[depth] = object ? KIND_OBJECT : KIND_ARRAY;
    index[depth] = 0;
    depth++;
    p = skip_ws(p + 1, s->end);
    if (n == 0) {
      p++;
      depth--;
      goto after_value;
    }
    if (object) goto key;
    goto value;
  }
  case '"':
    p = build_string(L, p);
    goto after_value;
  case 't':
    lua_pushboolean(L, 1);
    p += 4;
    goto after_value;
  case 'f':
    lua_pushboolean(L, 0);
    p += 5;
    goto after_value;
  case 'n':
    if (opt->null_index != 0) lua_pushvalue(L, opt->null_index);
    else lua_pushnil(L);
    p += 4;
    goto after_value;
  default:
    p = build_number(L, p, s->end);
    goto after_value;
  }
key:
  p = build_string(L, skip_ws(p, s->end));
  p = skip_ws(p, s->end) + 1; /* ':' */
  goto value;
after_value:
  if (depth == 0) return;
  if (kind[depth - 1] == KIND_OBJECT) lua_rawset(L, -3);
  else lua_rawseti(L, -2, ++index[depth - 1]);
  p = skip_ws(p, s->end);
  if (*p++ == ',') {
    if (kind[depth - 1] == KIND_OBJECT) goto key;
    goto value;
  }
  depth--; /* '}' or ']': the table is the value just made */
  goto after_value;
}

int chat_json_decode(lua_State *L, const char *text, size_t len, const chat_json_options *opt,
                     chat_json_error *err) {
  chat_json_options o = *opt;
  if (o.max_depth <= 0) o.max_depth = CHAT_JSON_DEFAULT_DEPTH;
  if (o.max_depth > CHAT_JSON_DEPTH_LIMIT) o.max_depth = CHAT_JSON_DEPTH_LIMIT;
  /* Relative indices would move as the decoder pushes. */
  if (o.null_index < 0 && o.null_index > LUA_REGISTRYINDEX) o.null_index = lua_absindex(L, o.null_index);
  if (o.object_mt_index < 0 && o.object_mt_index > LUA_REGISTRYINDEX)
    o.object_mt_index = lua_absindex(L, o.object_mt_index);
  if (o.array_mt_index < 0 && o.array_mt_index > LUA_REGISTRYINDEX)
    o.array_mt_index = lua_absindex(L, o.array_mt_index);
  luaL_checkstack(L, 2 * o.max_depth + 8, "JSON nesting");

  uint32_t on_stack[SIZES_ON_STACK];
  scan s = {.start = (const unsigned char *)text, .end = (const unsigned char *)text + len, .opt = &o,
            .err = err, .L = L, .sizes = on_stack, .cap = SIZES_ON_STACK};
  s.budget = o.no_cost_limit || len > (SIZE_MAX - CHAT_JSON_COST_SLACK) / CHAT_JSON_COST_RATIO
                 ? SIZE_MAX
                 : len * CHAT_JSON_COST_RATIO + CHAT_JSON_COST_SLACK;
  lua_pushnil(L); /* the slot of the sizes_box, if one is needed */
  s.box_slot = lua_gettop(L);
  int rc = scan_document(&s);
  /* Values of earlier large documents are garbage by now (a request's body is dropped once
   * answered), but Lua's collector only gets to them as more is allocated: collected
   * first, a burst of large documents costs one document's values, not several. */
  if (rc == 0 && s.cost >= CHAT_JSON_COLLECT_COST) lua_gc(L, LUA_GCCOLLECT, 0);
  if (rc == 0) build_document(L, &s);
  if (s.box != NULL) sizes_gc_now(s.box);
  if (rc == 0) lua_replace(L, s.box_slot); /* the value takes the slot */
  lua_settop(L, s.box_slot - (rc != 0));
  if (rc != 0 && err->reason == OUT_OF_MEMORY) return luaL_error(L, "%s", OUT_OF_MEMORY);
  return rc;
}
