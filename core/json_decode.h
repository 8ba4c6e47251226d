/* Strict JSON (RFC 8259) decoding straight into Lua values: every request body, STOMP
 * SEND body, Redis payload and Kafka record chatd reads goes through it (lua/chat/lib/json.lua
 * calls it through chat.json, core/lua_api_json.c).
 *
 * What it accepts is RFC 8259 and nothing more: one value with optional SP/HTAB/LF/CR
 * around it; numbers without leading zeros, '+', NaN or hex; strings of valid UTF-8 with
 * no raw control characters and only the RFC's escapes, surrogate pairs joined. Integer
 * literals become exact Lua integers over the whole int64 range (outside it: an error, as
 * Jackson refuses such a value for a Long); other numbers become floats, and one that
 * overflows to infinity is an error. A duplicated object key keeps its last value, as
 * Jackson and jansson do.
 *
 * Resources are bounded by the text's size: nesting is limited (64 levels by default), the
 * text is checked in full before any Lua value is made (so a refused text costs no Lua
 * memory beyond its reason), and a text whose Lua values would take more than
 * CHAT_JSON_COST_RATIO times its size plus CHAT_JSON_COST_SLACK bytes is refused before
 * one is made. Before making values of CHAT_JSON_COLLECT_COST bytes or more it runs a full
 * collection, so the garbage of earlier large documents never piles up. Nothing is kept
 * between calls. */
#ifndef CHAT_JSON_DECODE_H
#define CHAT_JSON_DECODE_H

#include <lua.h>
#include <stddef.h>

enum {
  CHAT_JSON_DEFAULT_DEPTH = 64,
  /* The decoder keeps one byte and one counter per level on the C stack. */
  CHAT_JSON_DEPTH_LIMIT = 1024,
  /* The Lua values of a text may take this many times its size, plus the slack (which
   * lets small documents have any shape: a 100-byte SEND body costs about 600 bytes). */
  CHAT_JSON_COST_RATIO = 8,
  CHAT_JSON_COST_SLACK = 64 * 1024,
  /* A document whose values take this much or more is made after a full collection. */
  CHAT_JSON_COLLECT_COST = 1024 * 1024,
};

typedef struct chat_json_options {
  /* Stack indices (upvalue pseudo-indices are fine) of the value JSON null becomes, and of
   * the metatables objects and arrays get; 0: null becomes nil (lost in arrays and objects,
   * so the binding always gives one), no metatable. */
  int null_index;
  int object_mt_index;
  int array_mt_index;
  int max_depth; /* levels of arrays and objects; 0: CHAT_JSON_DEFAULT_DEPTH */
  int allow_nul; /* accept \u0000 in strings (chatd does not: PostgreSQL text cannot hold it) */
  int no_cost_limit; /* for tests/fuzz/fuzz_json.c's comparison with another decoder only */
} chat_json_options;

typedef struct chat_json_error {
  const char *reason; /* a static string, e.g. "invalid number" */
  size_t position;    /* 1-based byte offset where the text went wrong */
} chat_json_error;

/* Decodes text[0, len) and pushes its value: returns 0. On a text that is not accepted,
 * pushes nothing, fills *err and returns -1. Raises only as any Lua allocation does (out
 * of memory). Needs about 2 * max_depth + 8 free stack slots, which it reserves. */
int chat_json_decode(lua_State *L, const char *text, size_t len, const chat_json_options *opt,
                     chat_json_error *err);

#endif
