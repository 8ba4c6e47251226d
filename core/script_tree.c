#include "script_tree.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_DEPTH = 16 };

static int is_script(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".lua") == 0;
}

static void walk(const char *dir, int depth, chat_script_tree_fn fn, void *ud) {
  fn(dir, 1, ud);
  if (depth >= MAX_DEPTH) return;
  DIR *d = opendir(dir);
  if (d == NULL) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    if (n < 0 || (size_t)n >= sizeof path) continue;
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) walk(path, depth + 1, fn, ud);
    else if (S_ISREG(st.st_mode) && is_script(e->d_name)) fn(path, 0, ud);
  }
  closedir(d);
}

void chat_script_tree_walk(const char *dir, chat_script_tree_fn fn, void *ud) { walk(dir, 0, fn, ud); }
