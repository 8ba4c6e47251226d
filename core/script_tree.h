/* The scripts' folder tree (CHAT_LUA_DIR), walked the same way by the reload watcher
 * (which folders to watch) and by the version hash (which files make the scripts).
 * Symlinks are followed, since a k3s ConfigMap volume is made of them, but dot-names are
 * skipped: the kubelet's "..data" and "..<timestamp>" hold the same files again, and
 * hidden folders hold no scripts. The depth is bounded, so a symlink loop ends. */
#ifndef CHAT_SCRIPT_TREE_H
#define CHAT_SCRIPT_TREE_H

/* Called with `dir` itself and every folder below it (is_dir 1), and every regular file
 * whose name ends in ".lua" (is_dir 0). */
typedef void (*chat_script_tree_fn)(const char *path, int is_dir, void *ud);

void chat_script_tree_walk(const char *dir, chat_script_tree_fn fn, void *ud);

#endif
