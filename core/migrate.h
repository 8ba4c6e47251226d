/* Schema migrations, applied at start-up before anything is served. */
#ifndef CHAT_MIGRATE_H
#define CHAT_MIGRATE_H

/* Applies dir/NNNN_name.sql files in name order, each once, each in its own transaction,
 * recorded in chatd_schema_migrations, under an advisory lock so pods starting together
 * take turns. Waits up to wait_seconds for PostgreSQL to accept connections. Blocking:
 * it runs before the event loop. Returns 0, or -1 after logging what failed. */
int chat_migrate_run(const char *conninfo, const char *dir, int wait_seconds);

#endif
