/* Sampling profile of the Lua scripts (see lua_profile.h). */
#include "lua_profile.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"

enum { SLOTS = 4096, LABEL_MAX = 200 };

typedef struct {
  uint64_t hash; /* 0: empty */
  uint64_t samples;
  char label[LABEL_MAX]; /* "chat/stomp/delivery.lua:170 redis_message" */
} function_samples;

/* Process-wide: one loop thread runs every VM, and counts outlive a reload's VM. */
static function_samples table[SLOTS];
static uint64_t total, overflow;

/* The source shortened to what follows the last "/lua/" (the scripts' folder), if any. */
static const char *script_name(const char *short_src) {
  const char *p = strstr(short_src, "/lua/");
  const char *last = NULL;
  while (p != NULL) {
    last = p;
    p = strstr(p + 1, "/lua/");
  }
  return last != NULL ? last + 5 : short_src;
}

/* A distance to the next sample: uniform in 1 .. 2 × PERIOD - 1 (xorshift64). */
static int next_distance(void) {
  static uint64_t state = 88172645463325252u;
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return 1 + (int)(state % (2 * CHAT_LUA_PROFILE_PERIOD - 1));
}

static void on_count(lua_State *L, lua_Debug *ar);

void chat_lua_profile_attach(lua_State *L) { lua_sethook(L, on_count, LUA_MASKCOUNT, next_distance()); }

static void on_count(lua_State *L, lua_Debug *ar) {
  chat_lua_profile_attach(L); /* the next distance */
  if (!lua_getinfo(L, "Sn", ar)) return;
  const char *src = script_name(ar->short_src);
  uint64_t h = chat_hash_bytes(chat_hash_str(src), &ar->linedefined, sizeof ar->linedefined);
  if (h == 0) h = 1;
  total++;
  for (size_t i = 0, slot = (size_t)(h % SLOTS); i < SLOTS; i++, slot = (slot + 1) % SLOTS) {
    function_samples *f = &table[slot];
    if (f->hash == h) {
      f->samples++;
      return;
    }
    if (f->hash == 0) {
      f->hash = h;
      f->samples = 1;
      snprintf(f->label, sizeof f->label, "%s:%d %s", src, ar->linedefined,
               ar->name != NULL ? ar->name : ar->what[0] == 'm' ? "(main chunk)" : "(anonymous)");
      return;
    }
  }
  overflow++;
}

uint64_t chat_lua_profile_samples(void) { return total; }

static int by_samples(const void *a, const void *b) {
  const function_samples *x = *(function_samples *const *)a, *y = *(function_samples *const *)b;
  return x->samples < y->samples ? 1 : x->samples > y->samples ? -1 : strcmp(x->label, y->label);
}

void chat_lua_profile_write(FILE *out) {
  static function_samples *sorted[SLOTS];
  size_t n = 0;
  for (size_t i = 0; i < SLOTS; i++)
    if (table[i].hash != 0) sorted[n++] = &table[i];
  qsort(sorted, n, sizeof *sorted, by_samples);
  fprintf(out, "# chatd Lua profile: %llu samples, one per %d VM instructions on average (CHAT_LUA_PROFILE)\n",
          (unsigned long long)total, CHAT_LUA_PROFILE_PERIOD);
  fprintf(out, "# samples share function (script:first line, name)\n");
  for (size_t i = 0; i < n; i++)
    fprintf(out, "%llu %.1f%% %s\n", (unsigned long long)sorted[i]->samples,
            total ? 100.0 * (double)sorted[i]->samples / (double)total : 0.0, sorted[i]->label);
  if (overflow) fprintf(out, "%llu - (functions past the table's %d)\n", (unsigned long long)overflow, SLOTS);
}

int chat_lua_profile_save(const char *path) {
  FILE *f = fopen(path, "w");
  if (f == NULL) return -1;
  chat_lua_profile_write(f);
  return fclose(f);
}
