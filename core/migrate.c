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

static int apply(PGconn *pg, const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char *sql = read_file(path);
  if (sql == NULL) {
    chat_log_error("migrate", "cannot read %s", path);
    return -1;
  }
  int ok = exec_ok(pg, "BEGIN", "BEGIN");
  if (ok) {
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok) chat_log_error("migrate", "%s failed: %s", name, PQresultErrorMessage(r));
    PQclear(r);
  }
  if (ok) {
    const char *params[] = {name};
    PGresult *r = PQexecParams(pg, "INSERT INTO chatd_schema_migrations(name) VALUES ($1)", 1, NULL,
                               params, NULL, NULL, 0);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) chat_log_error("migrate", "recording %s failed: %s", name, PQresultErrorMessage(r));
    PQclear(r);
  }
  ok = ok && exec_ok(pg, "COMMIT", "COMMIT");
  if (!ok) exec_ok(pg, "ROLLBACK", "ROLLBACK");
  else chat_log_info("migrate", "applied %s", name);
  free(sql);
  return ok ? 0 : -1;
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
  char lock_sql[96], unlock_sql[96];
  snprintf(lock_sql, sizeof lock_sql, "SELECT pg_advisory_lock(%s)", LOCK_KEY);
  snprintf(unlock_sql, sizeof unlock_sql, "SELECT pg_advisory_unlock(%s)", LOCK_KEY);
  if (!exec_ok(pg, lock_sql, "taking the migration lock") ||
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
