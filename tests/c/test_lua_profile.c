/* The scripts' sampling profile (core/lua_profile.c): samples land in the functions that run
 * the instructions, in proportion; coroutines made from a profiled state are sampled too (a
 * task's coroutine); a function is the same across two states (a reload); the written
 * profile is sorted, most first, with shares. */
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "lua_profile.h"

static const char SCRIPT[] =
    "function heavy(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end\n"
    "function light(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end\n";

static lua_State *profiled_state(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  chat_lua_profile_attach(L);
  if (luaL_dostring(L, SCRIPT) != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  return L;
}

/* The samples of the profile line whose label ends with `name`, or -1. */
static long samples_of(const char *text, const char *name) {
  const char *line = text;
  while (line != NULL && *line != '\0') {
    const char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    size_t nlen = strlen(name);
    if (line[0] != '#' && len > nlen && strncmp(line + len - nlen, name, nlen) == 0 && line[len - nlen - 1] == ' ')
      return strtol(line, NULL, 10);
    line = end ? end + 1 : NULL;
  }
  return -1;
}

static char *profile_text(void) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  chat_lua_profile_write(f);
  fclose(f);
  return buf;
}

int main(void) {
  lua_State *L = profiled_state();
  CHECK(luaL_dostring(L, "heavy(2000000) light(200000)") == LUA_OK);
  /* A coroutine made from the profiled state, as a task's is. */
  CHECK(luaL_dostring(L, "local co = coroutine.wrap(function() return heavy(1000000) end) co()") == LUA_OK);
  lua_close(L);

  char *text = profile_text();
  long heavy = samples_of(text, "heavy"), light = samples_of(text, "light");
  CHECK(heavy > 0 && light > 0);
  /* heavy ran 15 times the instructions of light: well over 5 times the samples. */
  CHECK(heavy > 5 * light);
  CHECK(strncmp(text, "# chatd Lua profile: ", 21) == 0);
  CHECK(strstr(text, "one per 100 VM instructions") != NULL);
  /* Most first: heavy's line comes before light's. */
  CHECK(strstr(text, " heavy\n") != NULL && strstr(text, " heavy\n") < strstr(text, " light\n"));
  CHECK(strstr(text, "% [string \"function heavy(n)") != NULL);
  free(text);

  /* A second state with the same script (a reload): the same functions, counted on. */
  uint64_t before = chat_lua_profile_samples();
  L = profiled_state();
  CHECK(luaL_dostring(L, "light(2000000)") == LUA_OK);
  lua_close(L);
  CHECK(chat_lua_profile_samples() > before);
  text = profile_text();
  CHECK(samples_of(text, "light") > light + 10000);
  free(text);

  /* Written to a file. */
  char path[] = "/tmp/chatd-lua-profile-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK(chat_lua_profile_save(path) == 0);
  FILE *f = fopen(path, "r");
  char first[64] = {0};
  CHECK(f != NULL && fgets(first, sizeof first, f) != NULL);
  CHECK(strncmp(first, "# chatd Lua profile", 19) == 0);
  if (f) fclose(f);
  unlink(path);
  CHECK(chat_lua_profile_save("/nonexistent-dir/profile") == -1);
  CHECK_DONE();
}
