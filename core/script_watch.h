/* Automatic reload: watches CHAT_LUA_DIR and reloads the scripts, as SIGHUP does, when
 * their contents change.
 *
 * Two writers are expected. A developer edits files in place (or an editor replaces them
 * by rename) anywhere in the tree. In k3s the kubelet updates a ConfigMap volume by
 * writing a new `..<timestamp>` folder, pointing `..data_tmp` at it and renaming that over
 * `..data`; the visible entries are symlinks through `..data`, so the whole tree changes
 * with one rename in the top folder. inotify is not recursive, so every folder of the tree
 * is watched, and the watches are laid anew after each burst, since the kubelet's swap
 * replaces the folders the old watches were on.
 *
 * A burst of events (a swap, an editor's save) gives one reload after DEBOUNCE_MS of
 * quiet. The reload happens only when the scripts' version hash (chat_vm_scripts_version)
 * differs from the running generation's, so swap files and touched folders do nothing,
 * and a rejected version is reported once, not on every later event. */
#ifndef CHAT_SCRIPT_WATCH_H
#define CHAT_SCRIPT_WATCH_H

struct chat_runtime;
typedef struct chat_script_watch chat_script_watch;

/* Starts watching rt->config.lua_dir. Returns NULL (after logging why) when the folder
 * cannot be watched; chatd then still reloads on SIGHUP. */
chat_script_watch *chat_script_watch_start(struct chat_runtime *rt);

/* Stops watching; the watcher frees itself once its handles are closed. NULL is a no-op. */
void chat_script_watch_stop(chat_script_watch *w);

#endif
