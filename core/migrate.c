#include <dirent.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "migrate.h"
#include "pg.h"

/* Any fixed number works; this one spells "chatd" so it is recognisable in pg_locks. */
static const char LOCK_KEY[] = "6368617464";

static int exec_ok(PGconn *pg, const char *sql, const char *what) {
  PGresult *r = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(r);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) chat_log_error("migrate", "%s failed: %s", what, PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    free(buf);
    buf = NULL;
  }
  if (buf) buf[n] = '\0';
  fclose(f);
  return buf;
}

static int applied(PGconn *pg, const char *name) {
  const char *params[] = {name};
  PGresult *r = PQexecParams(pg, "SELECT 1 FROM chatd_schema_migrations WHERE name = $1", 1, NULL,
                             params, NULL, NULL, 0);
  int yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;
  PQclear(r);
  return yes;
}

static int record(PGconn *pg, const char *name) {
  const char *params[] = {name};
  PGresult *r = PQexecParams(pg, "INSERT INTO chatd_schema_migrations(name) VALUES ($1)", 1, NULL,
                             params, NULL, NULL, 0);
  int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  if (!ok) chat_log_error("migrate", "recording %s failed: %s", name, PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

static int run_sql(PGconn *pg, const char *sql, const char *name) {
  PGresult *r = PQexec(pg, sql);
  ExecStatusType st = PQresultStatus(r);
  int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
  if (!ok) chat_log_error("migrate", "%s failed: %s", name, PQresultErrorMessage(r));
  PQclear(r);
  return ok;
}

/* A migration whose first line is this runs outside a transaction, one statement at a
 * time (statements end with ';' at the end of a line): what PostgreSQL refuses inside one,
 * such as CREATE INDEX CONCURRENTLY, which builds an index on a live table without
 * blocking writes. Such a file must be safe to run again from the start, since a crash
 * can stop it between statements (drop what an interrupted build left INVALID first). */
static const char NO_TRANSACTION[] = "-- chatd: no transaction";

static int apply_without_transaction(PGconn *pg, char *sql, const char *name) {
  int ok = 1;
  char *stmt = sql;
  while (ok && *stmt) {
    char *end = strstr(stmt, ";\n");
    if (end) *end = '\0';
    ok = run_sql(pg, stmt, name);
    stmt = end ? end + 2 : stmt + strlen(stmt);
  }
  return ok && record(pg, name);
}

static int apply(PGconn *pg, const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *sql = read_file(path);
  if (sql == NULL) {
    chat_log_error("migrate", "cannot read %s", path);
    return -1;
  }
  int ok;
  if (strncmp(sql, NO_TRANSACTION, sizeof NO_TRANSACTION - 1) == 0) {
    chat_log_info("migrate", "applying %s outside a transaction", name);
    ok = apply_without_transaction(pg, sql, name);
  } else {
    ok = exec_ok(pg, "BEGIN", "BEGIN") && run_sql(pg, sql, name) && record(pg, name) &&
         exec_ok(pg, "COMMIT", "COMMIT");
    if (!ok) exec_ok(pg, "ROLLBACK", "ROLLBACK");
  }
  if (ok) chat_log_info("migrate", "applied %s", name);
  free(sql);
  return ok ? 0 : -1;
}

/* Waits for the migration lock without holding a snapshot meanwhile: a CREATE INDEX
 * CONCURRENTLY in the session that holds it waits for every transaction with an older
 * snapshot, so a pod blocked inside pg_advisory_lock() would deadlock with it. */
static int take_lock(PGconn *pg) {
  char sql[96];
  snprintf(sql, sizeof sql, "SELECT pg_try_advisory_lock(%s)", LOCK_KEY);
  for (int waited = 0;; waited++) {
    PGresult *r = PQexec(pg, sql);
    int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    int got = ok && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    if (!ok) chat_log_error("migrate", "taking the migration lock failed: %s", PQresultErrorMessage(r));
    PQclear(r);
    if (!ok) return 0;
    if (got) return 1;
    if (waited == 0) chat_log_info("migrate", "another instance is migrating; waiting for it");
    usleep(200 * 1000);
  }
}

int chat_migrate_run(const char *conninfo, const char *dir, int wait_seconds) {
  PGconn *pg = NULL;
  for (int waited = 0;; waited++) {
    pg = PQconnectdb(conninfo);
    if (PQstatus(pg) == CONNECTION_OK) {
      PQsetNoticeProcessor(pg, chat_pg_log_notice, NULL);
      break;
    }
    if (waited >= wait_seconds) {
      chat_log_error("migrate", "cannot connect to PostgreSQL: %s", PQerrorMessage(pg));
      PQfinish(pg);
      return -1;
    }
    if (waited == 0)
      chat_log_warn("migrate", "PostgreSQL not reachable yet (%s); waiting up to %d s",
                    strtok(PQerrorMessage(pg), "\n"), wait_seconds);
    PQfinish(pg);
    sleep(1);
  }

  DIR *d = opendir(dir);
  if (d == NULL) {
    chat_log_error("migrate", "cannot open the migrations folder %s", dir);
    PQfinish(pg);
    return -1;
  }
  char **names = NULL;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0) continue;
    names = realloc(names, (n + 1) * sizeof *names);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_names);

  int rc = 0;
  char unlock_sql[96];
  snprintf(unlock_sql, sizeof unlock_sql, "SELECT pg_advisory_unlock(%s)", LOCK_KEY);
  if (!take_lock(pg) ||
      !exec_ok(pg,
               "CREATE TABLE IF NOT EXISTS chatd_schema_migrations ("
               " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
               "creating chatd_schema_migrations")) {
    rc = -1;
  }
  for (size_t i = 0; rc == 0 && i < n; i++)
    if (!applied(pg, names[i])) rc = apply(pg, dir, names[i]);
  exec_ok(pg, unlock_sql, "releasing the migration lock");
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  PQfinish(pg);
  return rc;
}
